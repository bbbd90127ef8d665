// The `moat` command: parses the command line, opens every file the VM needs, builds the VM
// and runs it. The only place that composes the other modules.
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <iterator>
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
#include "cli/guest_check.hpp"
#include "cli/options.hpp"
#include "cli/system_cmd.hpp"
#include "cli/volume_cmd.hpp"
#include "kvm/kvm.hpp"
#include "protocol/exit_status.hpp"
#include "protocol/launch.hpp"
#include "protocol/limits.hpp"
#include "protocol/programs.hpp"

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

// Becomes the VM process: queues the launch message and its descriptors on a socketpair, puts
// the receiving end on fd 3 and execs moat-vmm in this process's place (same pid, same
// terminal, same signals), so that the running VM maps only the VMM's code.
int exec_vm_process(const protocol::VmLaunch& l, const protocol::LaunchFds& fds)
{
    const std::string exe = protocol::program_path(protocol::k_vmm_program);
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
        std::fprintf(stderr, "moat: socketpair: %s\n", std::strerror(errno));
        return k_exit_vm_failed;
    }
    base::UniqueFd mine(sv[0]), theirs(sv[1]);
    if (auto r = protocol::send_launch(mine.get(), l, fds); !r) {
        std::fprintf(stderr, "moat: handing over descriptors: %s\n", describe(r.error()).c_str());
        return k_exit_vm_failed;
    }
    mine.reset();  // the message stays queued for the receiving end
    if (!protocol::install_launch_socket(theirs.get())) {
        std::fprintf(stderr, "moat: passing the launch socket: %s\n", std::strerror(errno));
        return k_exit_vm_failed;
    }
    std::fflush(nullptr);
    const char* argv[] = {"moat-vmm", nullptr};
    ::execv(exe.c_str(), const_cast<char* const*>(argv));
    std::fprintf(stderr, "moat: cannot start the VM process '%s': %s\n", exe.c_str(), std::strerror(errno));
    return k_exit_vm_failed;
}

struct RunOptions {
    std::string kernel;
    std::string initrd;
    std::string cmdline = k_default_cmdline;
    std::string mem = "256M";
    std::uint32_t cpus = 1;
    std::vector<std::string> disks;
    bool verbose = false;
};

int run_vm(const RunOptions& o)
{
    // Values first, so that a typo is reported before anything is opened.
    auto mem = cli::parse_size(o.mem);
    if (!mem) return usage_error("--mem '" + o.mem + "': " + mem.error().what);
    if (auto ok = protocol::check_memory(*mem); !ok) return usage_error("--mem '" + o.mem + "': " + ok.error().what);
    if (auto ok = protocol::check_host_memory(*mem); !ok) return usage_error(describe(ok.error().in("--mem '" + o.mem + "'")));
    if (auto ok = protocol::check_cpus(o.cpus); !ok)
        return usage_error("--cpus " + std::to_string(o.cpus) + ": " + ok.error().what);

    std::vector<cli::DiskSpec> disks;
    for (const auto& d : o.disks) {
        auto spec = cli::parse_disk(d);
        if (!spec) return usage_error("--disk '" + d + "': " + spec.error().what);
        disks.push_back(*spec);
    }

    // Then the files. Every descriptor is opened here; the VM process builds the VM from them.
    protocol::VmLaunch l;
    l.supervision = protocol::Supervision::Standalone;
    l.verbose = o.verbose;
    l.cmdline = o.cmdline;
    l.memory = protocol::round_memory(*mem);
    l.cpus = o.cpus;
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
    std::vector<base::UniqueFd> disk_fds;
    for (std::size_t i = 0; i < disks.size(); ++i) {
        const bool rw = disks[i].access == DiskAccess::ReadWrite;
        auto fd = open_input("--disk", disks[i].path, rw ? O_RDWR : O_RDONLY);
        if (!fd) return k_exit_usage;
        disk_fds.push_back(std::move(*fd));
        l.disks.push_back(disks[i].access);
        l.input_names["disk " + std::to_string(i)] = "--disk '" + o.disks[i] + "'";
    }
    cli::GuestSoftware software;
    software.memory = l.memory;
    software.kernel_fd = kernel->get();
    software.initrd_fd = initrd.valid() ? initrd.get() : -1;
    software.cmdline = l.cmdline;
    software.kernel_name = l.input_names.at("kernel");
    if (initrd.valid()) software.initrd_name = l.input_names.at("initrd");
    software.cmdline_name = "--cmdline";
    if (auto ok = cli::check_guest_software(software); !ok) {
        std::fprintf(stderr, "moat: %s\n", describe(ok.error()).c_str());
        return ok.error().code == Errc::Io ? k_exit_vm_failed : k_exit_usage;
    }

    // Only inputs known to be good get as far as KVM.
    base::UniqueFd kvm_fd(::open("/dev/kvm", O_RDWR | O_CLOEXEC));
    if (!kvm_fd.valid()) return usage_error(protocol::dev_kvm_error(errno));
    auto kvm = kvm::Kvm::from_fd(base::UniqueFd(::dup(kvm_fd.get())));
    if (!kvm) return usage_error("/dev/kvm: " + describe(kvm.error()));
    if (o.cpus > kvm->max_vcpus())
        return usage_error("--cpus " + std::to_string(o.cpus) + ": above this host's KVM limit of " +
                           std::to_string(kvm->max_vcpus()));
    l.input_names["memory"] = "--mem '" + o.mem + "'";

    protocol::LaunchFds fds{kvm_fd.get(), kernel->get(), initrd.valid() ? initrd.get() : -1, {}, -1, -1};
    for (const auto& fd : disk_fds) fds.disks.push_back(fd.get());
    return exec_vm_process(l, fds);
}

}  // namespace

int main(int argc, char** argv)
{
    ::signal(SIGPIPE, SIG_IGN);  // a closed console pipe is an error on write, not a kill

    CLI::App app{"moat: a small virtual machine monitor for Linux/KVM, built as a security kernel.", "moat"};
    app.set_version_flag("--version", "moat 0.1");
    app.require_subcommand(1);
    app.footer("Run 'moat COMMAND --help' for a command's options.");

    RunOptions o;
    auto* run = app.add_subcommand("run", "Boot one VM from a kernel and attach its serial console to this terminal.");
    run->add_option("--kernel", o.kernel, "Linux bzImage (boot protocol >= 2.06) or ELF64 guest")->required();
    run->add_option("--initrd", o.initrd, "initial ramdisk, placed below the kernel's limit");
    run->add_option("--cmdline", o.cmdline, "kernel command line")->default_str(k_default_cmdline);
    run->add_option("--mem", o.mem, "guest memory, e.g. 256M or 2G (minimum 16M)")->default_str("256M");
    run->add_option("--cpus", o.cpus, "number of vCPUs")->default_str("1");
    run->add_option("--disk", o.disks,
                    "virtio-blk disk from a raw image, PATH[,ro]; repeatable. ',ro' opens the file read-only and "
                    "the guest sees a read-only disk");
    run->add_flag("-v,--verbose", o.verbose, "log what the VMM does (debug level)");
    run->footer(
        "The guest's serial console (ttyS0) is this terminal: raw mode when stdin is a terminal, where Ctrl-A x\n"
        "quits (Ctrl-A Ctrl-A sends Ctrl-A); plain piped I/O otherwise.\n"
        "Exit status: 0 when the guest powers off or reboots; 1 on a triple fault or a KVM or host error;\n"
        "2 on bad input; 128+N when stopped by signal N (SIGINT, SIGTERM).");

    // A system of labelled VMs (DESIGN.md "Process model", "Security policy", "Audit").
    std::string manifest, state, vm_name, size, label, integrity, audit_file, vm_filter, event_filter, anchor;
    bool raw = false;
    const char* state_help = "the system's state directory (default: the system this user started last)";
    auto* up = app.add_subcommand("up", "Start the system a manifest describes: every decision first, then one process per VM.");
    up->add_option("manifest", manifest, "the system manifest (TOML)")->required();
    up->add_option("--state", state, "state directory: audit log, console logs, control socket (default: state/ beside the manifest)");
    up->footer("Each VM's console goes to this terminal as 'name | ...' lines and to STATE/NAME.log.\n"
               "Exit status: 0 when every VM ended by itself or was stopped; 1 when a VM failed; 2 when the policy,\n"
               "a file or a volume label refused the system (nothing was started).");
    auto* ls = app.add_subcommand("ls", "List the VMs of a running system: name, label, state, pid, uptime, memory.");
    ls->add_option("--state", state, state_help);
    auto* stop = app.add_subcommand("stop", "Stop one VM of a running system.");
    stop->add_option("vm", vm_name, "the VM's name")->required();
    stop->add_option("--state", state, state_help);
    auto* down = app.add_subcommand("down", "Stop every VM and end the system.");
    down->add_option("--state", state, state_help);
    auto* console = app.add_subcommand("console", "Attach this terminal to one VM's serial console (Ctrl-A x detaches).");
    console->add_option("vm", vm_name, "the VM's name")->required();
    console->add_option("--state", state, state_help);

    auto* policy = app.add_subcommand("policy", "Policy tools.");
    policy->require_subcommand(1);
    auto* check = policy->add_subcommand("check", "Print every decision 'moat up' would take for a manifest, and why.");
    check->add_option("manifest", manifest, "the system manifest (TOML)")->required();
    check->footer("Exit status: 0 when every decision allows, 2 when one denies or the manifest is bad.");

    auto* volume = app.add_subcommand("volume", "Labelled volumes.");
    volume->require_subcommand(1);
    auto* vcreate = volume->add_subcommand("create", "Create a sparse raw image and store its label with it (extended attributes).");
    vcreate->add_option("path", audit_file, "the image to create (never overwritten)")->required();
    vcreate->add_option("--size", size, "size, e.g. 64M (a multiple of 512 bytes)")->required();
    vcreate->add_option("--label", label, "secrecy label: LEVEL or LEVEL:CAT1,CAT2")->required();
    vcreate->add_option("--integrity", integrity, "integrity label: LEVEL or LEVEL:CAT1,CAT2")->required();
    auto* vshow = volume->add_subcommand("show", "Print a volume's size and stored label.");
    vshow->add_option("path", audit_file, "the image")->required();

    auto* audit = app.add_subcommand("audit", "The hash-chained audit log.");
    audit->require_subcommand(1);
    auto* verify = audit->add_subcommand("verify", "Check the log's hash chain; name the first broken record.");
    verify->add_option("file", audit_file, "the log, e.g. state/audit.log")->required();
    verify->add_option("--anchor", anchor, "SEQ:HASH of a record known from elsewhere: also detects records cut from the end");
    verify->footer("Exit status: 0 when the chain holds, 1 when a record is broken, 2 when the file cannot be read.");
    auto* show = audit->add_subcommand("show", "Print records, filtered by VM and event.");
    show->add_option("file", audit_file, "the log, e.g. state/audit.log")->required();
    show->add_option("--vm", vm_filter, "only records about this VM");
    show->add_option("--event", event_filter, "only this event or those below it: 'vm' matches vm.start and vm.exit");
    show->add_flag("--raw", raw, "print the JSON lines as they are");

    // CLI11 reports an unknown command as a missing one; name it instead.
    const std::string_view commands[] = {"run", "up", "ls", "stop", "down", "console", "policy", "volume", "audit"};
    if (argc > 1 && argv[1][0] != '-' && std::find(std::begin(commands), std::end(commands), argv[1]) == std::end(commands)) {
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
    if (o.verbose) log::set_level(log::Level::Debug);
    if (run->parsed()) return run_vm(o);
    if (up->parsed()) return cli::up_main(manifest, state);
    if (ls->parsed()) return cli::ls_main(state);
    if (stop->parsed()) return cli::stop_main(state, vm_name);
    if (down->parsed()) return cli::down_main(state);
    if (console->parsed()) return cli::console_main(state, vm_name);
    if (check->parsed()) return cli::policy_check_main(manifest);
    if (vcreate->parsed()) return cli::volume_create_main(audit_file, size, label, integrity);
    if (vshow->parsed()) return cli::volume_show_main(audit_file);
    if (verify->parsed()) return cli::audit_verify_main(audit_file, anchor.empty() ? std::nullopt : std::optional(anchor));
    if (show->parsed())
        return cli::audit_show_main(audit_file, vm_filter.empty() ? std::nullopt : std::optional(vm_filter),
                                    event_filter.empty() ? std::nullopt : std::optional(event_filter), raw);
    return k_exit_usage;
}
