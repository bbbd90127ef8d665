// The `moat` command: parses the command line, opens every file the VM needs, builds the VM
// and runs it. The only place that composes the other modules.
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/log.hpp"
#include "cli/audit_cmd.hpp"
#include "cli/graph_cmd.hpp"
#include "cli/guest_check.hpp"
#include "cli/options.hpp"
#include "cli/system_cmd.hpp"
#include "cli/volume_cmd.hpp"
#include "cli/vsock_host.hpp"
#include "kvm/kvm.hpp"
#include "protocol/exit_status.hpp"
#include "protocol/launch.hpp"
#include "protocol/limits.hpp"
#include "protocol/programs.hpp"
#include "protocol/tap.hpp"

namespace {

using namespace moat;

using protocol::k_exit_usage;
using protocol::k_exit_vm_failed;

using protocol::k_default_cmdline;

int usage_error(const std::string& msg)
{
    std::fprintf(stderr, "moat: %s\n", msg.c_str());
    return k_exit_usage;
}

// Opens a file the user named; on failure, prints one line naming the option and the path.
std::optional<base::UniqueFd> open_input(const char* option, const std::string& path, int flags)
{
    base::UniqueFd fd(::open(path.c_str(), flags | O_CLOEXEC));
    if (!fd.valid()) {
        std::fprintf(stderr, "moat: %s '%s': %s\n", option, path.c_str(), std::strerror(errno));
        return std::nullopt;
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) == 0 && !S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
        std::fprintf(stderr, "moat: %s '%s': not a regular file\n", option, path.c_str());
        return std::nullopt;
    }
    return fd;
}

// Becomes the VM process (protocol::exec_vm); returns only when that failed.
int exec_vm_process(const protocol::VmLaunch& l, const protocol::LaunchFds& fds)
{
    std::fprintf(stderr, "moat: %s\n", protocol::exec_vm(l, fds).c_str());
    return k_exit_vm_failed;
}

struct RunOptions {
    std::string kernel;
    std::string initrd;
    std::string cmdline = k_default_cmdline;
    std::string mem = "256M";
    std::uint32_t cpus = 1;
    std::vector<std::string> disks;
    std::string vsock;
    std::vector<std::string> nets;
    bool verbose = false;
    bool no_jail = false;
};

// The option values, checked before anything is opened so that a typo is named first. Fills
// the launch's memory and vCPUs; returns 0 or the exit status after one line.
int check_values(const RunOptions& o, protocol::VmLaunch& l, std::vector<cli::DiskSpec>& disks,
                 std::optional<cli::VsockSpec>& vsock, std::vector<cli::NetSpec>& nets)
{
    auto mem = cli::parse_size(o.mem);
    if (!mem) return usage_error("--mem '" + o.mem + "': " + mem.error().what);
    if (auto ok = protocol::check_memory(*mem); !ok) return usage_error("--mem '" + o.mem + "': " + ok.error().what);
    if (auto ok = protocol::check_host_memory(*mem); !ok) return usage_error(describe(ok.error().in("--mem '" + o.mem + "'")));
    if (auto ok = protocol::check_cpus(o.cpus); !ok)
        return usage_error("--cpus " + std::to_string(o.cpus) + ": " + ok.error().what);
    for (const auto& d : o.disks) {
        auto spec = cli::parse_disk(d);
        if (!spec) return usage_error("--disk '" + d + "': " + spec.error().what);
        disks.push_back(*spec);
    }
    if (!o.vsock.empty()) {
        auto spec = cli::parse_vsock(o.vsock);
        if (!spec) return usage_error("--vsock '" + o.vsock + "': " + spec.error().what);
        if (auto ok = cli::check_vsock_path(spec->path); !ok) return usage_error("--vsock '" + o.vsock + "': " + ok.error().what);
        vsock = *spec;
        l.vsock_cid = spec->cid;
    }
    if (o.nets.size() > protocol::k_max_launch_nets)
        return usage_error("--net: at most " + std::to_string(protocol::k_max_launch_nets) + " interfaces");
    for (const auto& text : o.nets) {
        auto spec = cli::parse_net(text);
        if (!spec) return usage_error("--net '" + text + "': " + spec.error().what);
        for (const auto& other : nets)
            if (other.tap == spec->tap || other.mac == spec->mac)
                return usage_error("--net '" + text + "': the same tap or MAC as another --net");
        nets.push_back(*spec);
        l.nets.push_back(spec->mac);
    }
    l.memory = protocol::round_memory(*mem);
    l.cpus = o.cpus;
    return 0;
}

// The kernel, initrd and command line, as the VM process will load them.
int check_software(const protocol::VmLaunch& l, int kernel_fd, int initrd_fd)
{
    cli::GuestSoftware software;
    software.memory = l.memory;
    software.kernel_fd = kernel_fd;
    software.initrd_fd = initrd_fd;
    software.cmdline = l.cmdline;
    software.kernel_name = l.input_names.at("kernel");
    if (initrd_fd >= 0) software.initrd_name = l.input_names.at("initrd");
    software.cmdline_name = "--cmdline";
    if (auto ok = cli::check_guest_software(software); !ok) {
        std::fprintf(stderr, "moat: %s\n", describe(ok.error()).c_str());
        return ok.error().code == Errc::Io ? k_exit_vm_failed : k_exit_usage;
    }
    return 0;
}

// /dev/kvm, opened only once every other input is known good, and its vCPU limit.
int open_kvm(const RunOptions& o, base::UniqueFd& kvm_fd)
{
    kvm_fd = base::UniqueFd(::open("/dev/kvm", O_RDWR | O_CLOEXEC));
    if (!kvm_fd.valid()) return usage_error(protocol::dev_kvm_error(errno));
    auto kvm = kvm::Kvm::from_fd(base::UniqueFd(::dup(kvm_fd.get())));
    if (!kvm) return usage_error("/dev/kvm: " + describe(kvm.error()));
    if (o.cpus > kvm->max_vcpus())
        return usage_error("--cpus " + std::to_string(o.cpus) + ": above this host's KVM limit of " +
                           std::to_string(kvm->max_vcpus()));
    return 0;
}

int run_vm(const RunOptions& o)
{
    protocol::VmLaunch l;
    l.supervision = protocol::Supervision::Standalone;
    l.verbose = o.verbose;
    l.jail = !o.no_jail;
    l.cmdline = o.cmdline;
    std::vector<cli::DiskSpec> disks;
    std::optional<cli::VsockSpec> vsock;
    std::vector<cli::NetSpec> nets;
    if (int rc = check_values(o, l, disks, vsock, nets); rc != 0) return rc;

    // Then the files. Every descriptor is opened here; the VM process builds the VM from them.
    auto kernel = open_input("--kernel", o.kernel, O_RDONLY);
    if (!kernel) return k_exit_usage;
    l.input_names["kernel"] = "--kernel '" + o.kernel + "'";
    base::UniqueFd initrd;
    if (!o.initrd.empty()) {
        auto fd = open_input("--initrd", o.initrd, O_RDONLY);
        if (!fd) return k_exit_usage;
        initrd = std::move(*fd);
        l.input_names["initrd"] = "--initrd '" + o.initrd + "'";
    }
    protocol::LaunchFds fds{-1, kernel->get(), initrd.valid() ? initrd.get() : -1, {}, -1, -1};
    std::vector<base::UniqueFd> disk_fds;
    for (std::size_t i = 0; i < disks.size(); ++i) {
        auto fd = open_input("--disk", disks[i].path, disks[i].access == DiskAccess::ReadWrite ? O_RDWR : O_RDONLY);
        if (!fd) return k_exit_usage;
        fds.disks.push_back(fd->get());
        disk_fds.push_back(std::move(*fd));
        l.disks.push_back(disks[i].access);
        l.input_names["disk " + std::to_string(i)] = "--disk '" + o.disks[i] + "'";
    }
    std::vector<base::UniqueFd> tap_fds;
    for (std::size_t i = 0; i < nets.size(); ++i) {
        auto tap = protocol::open_tap(nets[i].tap);
        if (!tap) return usage_error("--net '" + o.nets[i] + "': " + describe(tap.error()));
        fds.taps.push_back(tap->get());
        tap_fds.push_back(std::move(*tap));
        l.input_names["net " + std::to_string(i)] = "--net '" + o.nets[i] + "'";
    }
    if (int rc = check_software(l, fds.kernel, fds.initrd); rc != 0) return rc;
    base::UniqueFd kvm_fd;
    if (int rc = open_kvm(o, kvm_fd); rc != 0) return rc;
    fds.kvm = kvm_fd.get();
    l.input_names["memory"] = "--mem '" + o.mem + "'";
    cli::VsockHost host;  // last: PATH is made only once everything else is known good
    if (vsock) {
        auto h = cli::start_vsock_host(*vsock);
        if (!h) return usage_error("--vsock '" + o.vsock + "': " + describe(h.error()));
        host = std::move(*h);
        fds.vsock_listener = host.listener.get();
        fds.vsock_connector = host.connector.get();
        l.input_names["vsock"] = "--vsock '" + o.vsock + "'";
    }
    return exec_vm_process(l, fds);
}

// Everything the command line can say; each command's options fill their part.
struct Args {
    RunOptions run;
    std::string manifest, state, vm, path, size, label, integrity, vm_filter, event_filter, anchor;
    bool raw = false;
    bool no_jail = false;
};

std::optional<std::string> given(const std::string& s) { return s.empty() ? std::nullopt : std::optional(s); }

// The subcommand of `app` named `name`, or nullptr (CLI11 2.1's get_subcommand throws instead).
CLI::App* find_subcommand(CLI::App& app, std::string_view name)
{
    auto found = app.get_subcommands([name](CLI::App* sub) { return sub->get_name() == name; });
    return found.empty() ? nullptr : found.front();
}

constexpr const char* k_state_help = "the system's state directory (default: the system this user started last)";

// Each command: its subcommand with its options, and what it runs once parsed (kvmtool's
// builtin table).
struct Command {
    CLI::App* (*add)(CLI::App& app, Args& a);
    int (*run)(Args& a);
};

CLI::App* add_run(CLI::App& app, Args& a)
{
    RunOptions& o = a.run;
    auto* run = app.add_subcommand("run", "Boot one VM from a kernel and attach its serial console to this terminal.");
    run->add_option("--kernel", o.kernel, "Linux bzImage (boot protocol >= 2.06) or ELF64 guest")->required();
    run->add_option("--initrd", o.initrd, "initial ramdisk, placed below the kernel's limit");
    run->add_option("--cmdline", o.cmdline, "kernel command line")->default_str(k_default_cmdline);
    run->add_option("--mem", o.mem, "guest memory, e.g. 256M or 2G (minimum 16M)")->default_str("256M");
    run->add_option("--cpus", o.cpus, "number of vCPUs")->default_str("1");
    run->add_option("--disk", o.disks,
                    "virtio-blk disk from a raw image, PATH[,ro]; repeatable. ',ro' opens the file read-only and "
                    "the guest sees a read-only disk");
    run->add_option("--vsock", o.vsock,
                    "virtio-vsock device, PATH[,cid=N] (default CID 3): host programs connect to the Unix socket "
                    "PATH and write 'CONNECT <port>\\n'; the guest's connections to host port P reach a listener "
                    "at PATH_P (Firecracker's convention). PATH must not exist; it is removed when the VM ends");
    run->add_option("--net", o.nets,
                    "virtio-net device on a tap interface, tap=NAME[,mac=MAC]; repeatable. An existing tap you own "
                    "needs no privilege (ip tuntap add dev NAME mode tap user $USER); a new one needs root and lasts "
                    "as long as the VM. Default MAC: 02:6d:... derived from NAME. Frames the guest sends from another "
                    "MAC are dropped");
    run->add_flag("-v,--verbose", o.verbose, "log what the VMM does (debug level)");
    run->add_flag("--no-jail", o.no_jail,
                  "debugging only: the VM process keeps this user's privileges and every system call (warns)");
    run->footer(
        "The guest's serial console (ttyS0) is this terminal: raw mode when stdin is a terminal, where Ctrl-A x\n"
        "quits (Ctrl-A Ctrl-A sends Ctrl-A); plain piped I/O otherwise.\n"
        "The VM process jails itself before it builds the VM (README.md, \"Security\"): namespaces, an empty\n"
        "root, no privileges, a seccomp filter per thread; as root also a uid of its own and a cgroup.\n"
        "Exit status: 0 when the guest powers off or reboots; 1 on a triple fault or a KVM or host error;\n"
        "2 on bad input; 128+N when stopped by signal N (SIGINT, SIGTERM). A VM process its seccomp filter\n"
        "kills ends by SIGSYS (a shell shows 159), after 'moat: killed: seccomp violation'.");
    return run;
}

CLI::App* add_up(CLI::App& app, Args& a)
{
    auto* up = app.add_subcommand("up", "Start the system a manifest describes: every decision first, then one process per VM.");
    up->add_option("manifest", a.manifest, "the system manifest (TOML)")->required();
    up->add_option("--state", a.state, "state directory: audit log, console logs, control socket (default: state/ beside the manifest)");
    up->add_flag("--no-jail", a.no_jail, "debugging only: the VM processes run unjailed (warns, and is audited)");
    up->footer("Each VM's console goes to this terminal as 'name | ...' lines and to STATE/NAME.log.\n"
               "Exit status: 0 when every VM ended by itself or was stopped; 1 when a VM failed; 2 when the policy,\n"
               "a file or a volume label refused the system (nothing was started).");
    return up;
}

CLI::App* add_ls(CLI::App& app, Args& a)
{
    auto* ls = app.add_subcommand("ls", "List the VMs of a running system: name, label, state, pid, uptime, memory.");
    ls->add_option("--state", a.state, k_state_help);
    return ls;
}

CLI::App* add_stop(CLI::App& app, Args& a)
{
    auto* stop = app.add_subcommand("stop", "Stop one VM of a running system.");
    stop->add_option("vm", a.vm, "the VM's name")->required();
    stop->add_option("--state", a.state, k_state_help);
    return stop;
}

CLI::App* add_down(CLI::App& app, Args& a)
{
    auto* down = app.add_subcommand("down", "Stop every VM and end the system.");
    down->add_option("--state", a.state, k_state_help);
    return down;
}

CLI::App* add_console(CLI::App& app, Args& a)
{
    auto* console = app.add_subcommand("console", "Attach this terminal to one VM's serial console (Ctrl-A x detaches).");
    console->add_option("vm", a.vm, "the VM's name")->required();
    console->add_option("--state", a.state, k_state_help);
    return console;
}

CLI::App* add_policy_check(CLI::App& app, Args& a)
{
    auto* policy = app.add_subcommand("policy", "Policy tools.");
    policy->require_subcommand(1);
    auto* check = policy->add_subcommand(
        "check", "The dry run of 'moat up': every decision and why, then every file and limit it would check.");
    check->add_option("manifest", a.manifest, "the system manifest (TOML)")->required();
    check->footer("Nothing is started. Exit status: 0 when every decision allows and every check passes, 2 when one\n"
                  "denies, a check fails or the manifest is bad.");
    return check;
}

CLI::App* add_policy_graph(CLI::App& app, Args& a)
{
    auto* graph = find_subcommand(app, "policy")->add_subcommand(
        "graph", "The system as a Graphviz graph: VMs and volumes with their labels, disks and channels, denials in red.");
    graph->add_option("manifest", a.manifest, "the system manifest (TOML)")->required();
    graph->add_option("--svg", a.path, "render it to this SVG file with Graphviz's dot (else print DOT on stdout)");
    graph->footer("Nothing is opened but the manifest. Exit status: 0, 1 when dot fails, 2 for a bad manifest.");
    return graph;
}

CLI::App* add_volume_create(CLI::App& app, Args& a)
{
    auto* volume = app.add_subcommand("volume", "Labelled volumes.");
    volume->require_subcommand(1);
    auto* c = volume->add_subcommand("create", "Create a sparse raw image and store its label with it (extended attributes).");
    c->add_option("path", a.path, "the image to create (never overwritten)")->required();
    c->add_option("--size", a.size, "size, e.g. 64M (a multiple of 512 bytes)")->required();
    c->add_option("--label", a.label, "secrecy label: LEVEL or LEVEL:CAT1,CAT2")->required();
    c->add_option("--integrity", a.integrity, "integrity label: LEVEL or LEVEL:CAT1,CAT2")->required();
    return c;
}

CLI::App* add_volume_show(CLI::App& app, Args& a)
{
    auto* show = find_subcommand(app, "volume")->add_subcommand("show", "Print a volume's size and stored label.");
    show->add_option("path", a.path, "the image")->required();
    return show;
}

CLI::App* add_audit_verify(CLI::App& app, Args& a)
{
    auto* audit = app.add_subcommand("audit", "The hash-chained audit log.");
    audit->require_subcommand(1);
    auto* verify = audit->add_subcommand("verify", "Check the log's hash chain; name the first broken record.");
    verify->add_option("file", a.path, "the log, e.g. state/audit.log")->required();
    verify->add_option("--anchor", a.anchor, "SEQ:HASH of a record known from elsewhere: also detects records cut from the end");
    verify->footer("Exit status: 0 when the chain holds, 1 when a record is broken, 2 when the file cannot be read.");
    return verify;
}

CLI::App* add_audit_show(CLI::App& app, Args& a)
{
    auto* show = find_subcommand(app, "audit")->add_subcommand("show", "Print records, filtered by VM and event.");
    show->add_option("file", a.path, "the log, e.g. state/audit.log")->required();
    show->add_option("--vm", a.vm_filter, "only records about this VM");
    show->add_option("--event", a.event_filter, "only this event or those below it: 'vm' matches vm.start and vm.exit");
    show->add_flag("--raw", a.raw, "print the JSON lines as they are");
    return show;
}

// In the order --help lists them; a command's parent ("volume", "audit") is added by the first
// of its commands.
constexpr Command k_commands[] = {
    {add_run, [](Args& a) { return run_vm(a.run); }},
    {add_up, [](Args& a) { return cli::up_main(a.manifest, a.state, a.no_jail); }},
    {add_ls, [](Args& a) { return cli::ls_main(a.state); }},
    {add_stop, [](Args& a) { return cli::stop_main(a.state, a.vm); }},
    {add_down, [](Args& a) { return cli::down_main(a.state); }},
    {add_console, [](Args& a) { return cli::console_main(a.state, a.vm); }},
    {add_policy_check, [](Args& a) { return cli::policy_check_main(a.manifest); }},
    {add_policy_graph, [](Args& a) { return cli::policy_graph_main(a.manifest, a.path); }},
    {add_volume_create, [](Args& a) { return cli::volume_create_main(a.path, a.size, a.label, a.integrity); }},
    {add_volume_show, [](Args& a) { return cli::volume_show_main(a.path); }},
    {add_audit_verify, [](Args& a) { return cli::audit_verify_main(a.path, given(a.anchor)); }},
    {add_audit_show,
     [](Args& a) { return cli::audit_show_main(a.path, given(a.vm_filter), given(a.event_filter), a.raw); }},
};

}  // namespace

int main(int argc, char** argv)
{
    ::signal(SIGPIPE, SIG_IGN);  // a closed console pipe is an error on write, not a kill

    CLI::App app{"moat: a small virtual machine monitor for Linux/KVM, built as a security kernel.", "moat"};
    app.set_version_flag("--version", "moat 0.1");
    app.require_subcommand(1);
    app.footer("Run 'moat COMMAND --help' for a command's options.");
    Args args;
    std::vector<std::pair<CLI::App*, const Command*>> parsed;
    for (const auto& c : k_commands) parsed.emplace_back(c.add(app, args), &c);

    // CLI11 reports an unknown command as a missing one; name it instead.
    if (argc > 1 && argv[1][0] != '-' && !find_subcommand(app, argv[1])) {
        std::fprintf(stderr, "moat: unknown command '%s' (see 'moat --help')\n", argv[1]);
        return k_exit_usage;
    }
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForVersion& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        std::fprintf(stderr, "moat: %s (see 'moat --help')\n", e.what());
        return k_exit_usage;
    }
    if (args.run.verbose) log::set_level(log::Level::Debug);
    for (const auto& [sub, command] : parsed)
        if (sub->parsed()) return command->run(args);
    return k_exit_usage;
}
