// The `moat` command: parses the command line, opens every file the VM needs, builds the VM
// and runs it. The only place that composes the other modules.
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <iterator>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/log.hpp"
#include "cli/audit_cmd.hpp"
#include "cli/options.hpp"
#include "cli/system_cmd.hpp"
#include "cli/volume_cmd.hpp"
#include "cli/vm_exit.hpp"
#include "kvm/kvm.hpp"
#include "vmm/machine.hpp"

namespace {

using namespace moat;

using cli::k_exit_usage;
using cli::k_exit_vm_failed;

constexpr const char* k_default_cmdline =
    "console=ttyS0 reboot=k panic=1 pci=off i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd";

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

// Puts an interactive terminal into raw mode for the guest's console and restores it.
class RawTerminal final {
public:
    explicit RawTerminal(int fd) : m_fd(fd)
    {
        if (::tcgetattr(fd, &m_saved) != 0) return;
        termios raw = m_saved;
        ::cfmakeraw(&raw);
        raw.c_oflag |= OPOST | ONLCR;  // keep host-side newline handling for moat's own messages
        if (::tcsetattr(fd, TCSANOW, &raw) == 0) m_active = true;
    }
    ~RawTerminal()
    {
        if (m_active) ::tcsetattr(m_fd, TCSANOW, &m_saved);
    }
    RawTerminal(const RawTerminal&) = delete;
    RawTerminal& operator=(const RawTerminal&) = delete;

private:
    int m_fd;
    termios m_saved{};
    bool m_active = false;
};

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
    const std::uint64_t host_mem =
        static_cast<std::uint64_t>(::sysconf(_SC_PHYS_PAGES)) * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
    if (*mem < cli::k_min_mem) return usage_error("--mem '" + o.mem + "': below the minimum of 16M");
    if (*mem > host_mem)
        return usage_error("--mem '" + o.mem + "': more than this host's " + std::to_string(host_mem >> 20) + "M of RAM");
    const std::uint64_t mem_bytes = (*mem + 0xfff) & ~std::uint64_t{0xfff};
    if (o.cpus == 0) return usage_error("--cpus 0: a VM needs at least one vCPU");

    std::vector<cli::DiskSpec> disks;
    for (const auto& d : o.disks) {
        auto spec = cli::parse_disk(d);
        if (!spec) return usage_error("--disk '" + d + "': " + spec.error().what);
        disks.push_back(*spec);
    }

    // Then the files. Every descriptor is opened here; the VM is built only from them.
    vmm::VmConfig config;
    {
        base::UniqueFd kvm_fd(::open("/dev/kvm", O_RDWR | O_CLOEXEC));
        if (!kvm_fd.valid()) {
            if (errno == ENOENT) return usage_error("/dev/kvm does not exist: this host has no KVM (load kvm_intel or kvm_amd)");
            return usage_error(std::string("/dev/kvm: ") + std::strerror(errno) +
                               (errno == EACCES ? " (add your user to the 'kvm' group)" : ""));
        }
        auto kvm = kvm::Kvm::from_fd(base::UniqueFd(::dup(kvm_fd.get())));
        if (!kvm) return usage_error("/dev/kvm: " + describe(kvm.error()));
        if (o.cpus > kvm->max_vcpus())
            return usage_error("--cpus " + std::to_string(o.cpus) + ": above this host's KVM limit of " +
                               std::to_string(kvm->max_vcpus()));
        config.kvm = std::move(kvm_fd);
    }
    auto kernel = open_input("--kernel", o.kernel, O_RDONLY);
    if (!kernel) return k_exit_usage;
    config.kernel = std::move(*kernel);
    if (!o.initrd.empty()) {
        auto initrd = open_input("--initrd", o.initrd, O_RDONLY);
        if (!initrd) return k_exit_usage;
        config.initrd = std::move(*initrd);
    }
    for (std::size_t i = 0; i < disks.size(); ++i) {
        auto fd = open_input("--disk", disks[i].path, disks[i].read_only ? O_RDONLY : O_RDWR);
        if (!fd) return k_exit_usage;
        config.disks.push_back({std::move(*fd), disks[i].read_only ? vmm::DiskAccess::ReadOnly : vmm::DiskAccess::ReadWrite,
                                "moat" + std::to_string(i)});
    }
    config.cmdline = o.cmdline;
    config.mem_bytes = mem_bytes;
    config.vcpus = o.cpus;
    config.console_in = STDIN_FILENO;
    config.console_out = STDOUT_FILENO;
    const bool interactive = ::isatty(STDIN_FILENO) == 1;
    config.console_escape = interactive;

    std::string failed_input;
    auto machine = vmm::Machine::build(std::move(config), &failed_input);
    if (!machine) {
        const Error& e = machine.error();
        std::string where = failed_input;
        if (where == "kernel") where = "--kernel '" + o.kernel + "'";
        else if (where == "initrd") where = "--initrd '" + o.initrd + "'";
        else if (where.rfind("disk ", 0) == 0) where = "--disk '" + o.disks[std::stoul(where.substr(5))] + "'";
        else if (where == "memory") where = "--mem '" + o.mem + "'";
        else if (where.empty()) where = "building the VM";
        std::fprintf(stderr, "moat: %s: %s\n", where.c_str(), describe(e).c_str());
        return e.code == Errc::Io ? k_exit_vm_failed : k_exit_usage;
    }

    vmm::VmExit end;
    {
        std::optional<RawTerminal> raw;
        if (interactive) {
            raw.emplace(STDIN_FILENO);
            std::fprintf(stderr, "moat: console attached; Ctrl-A x quits\r\n");
        }
        end = machine->run();
    }
    return cli::vm_exit_status(end, "", o.verbose);
}

}  // namespace

int main(int argc, char** argv)
{
    ::signal(SIGPIPE, SIG_IGN);  // a closed console pipe is an error on write, not a kill
    // One malloc arena: a per-thread arena reserves 64 MiB, and where transparent huge pages
    // are "always" the first allocation in a vCPU thread makes it a resident 2 MiB page.
    ::mallopt(M_ARENA_MAX, 1);

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

    // Internal: the VM process `moat up` starts; it reads its descriptors from fd 3.
    auto* vmm_process = app.add_subcommand("_vmm", "")->group("");
    vmm_process->add_option("name", vm_name)->required();

    // CLI11 reports an unknown command as a missing one; name it instead.
    const std::string_view commands[] = {"run", "up", "ls", "stop", "down", "console", "policy", "volume", "audit", "_vmm"};
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
    if (up->parsed()) return cli::up_main(manifest, state, k_default_cmdline);
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
    if (vmm_process->parsed()) return cli::vmm_process_main(vm_name);
    return k_exit_usage;
}
