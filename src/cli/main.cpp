// The `moat` command: parses the command line, opens every file the VM needs, builds the VM
// and runs it. The only place that composes the other modules.
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/log.hpp"
#include "cli/options.hpp"
#include "kvm/kvm.hpp"
#include "vmm/machine.hpp"

namespace {

using namespace moat;

// Exit statuses: 0 the guest ended itself (power off, reboot); 1 the VM failed (triple
// fault, KVM error, host error); 2 bad input; 128+N killed by signal N.
constexpr int k_exit_vm_failed = 1;
constexpr int k_exit_usage = 2;

constexpr const char* k_default_cmdline =
    "console=ttyS0 reboot=k panic=1 pci=off i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd";

int usage_error(const std::string& msg)
{
    std::fprintf(stderr, "moat: %s\n", msg.c_str());
    return k_exit_usage;
}

std::string describe(const Error& e)
{
    std::string s = e.what;
    if (e.sys_errno) s += std::string(": ") + std::strerror(e.sys_errno);
    return s;
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
    switch (end.reason) {
    case vmm::ExitReason::PowerOff:
    case vmm::ExitReason::Reset:
    case vmm::ExitReason::UserQuit:
        if (o.verbose) std::fprintf(stderr, "moat: guest ended: %s\n", vmm::to_string(end.reason));
        return 0;
    case vmm::ExitReason::Signal:
        std::fprintf(stderr, "moat: stopped by signal %d (%s)\n", end.signal, strsignal(end.signal));
        return 128 + end.signal;
    case vmm::ExitReason::TripleFault:
        std::fprintf(stderr, "moat: the guest triple faulted (KVM_EXIT_SHUTDOWN); the VM was stopped\nmoat: %s\n",
                     end.detail.c_str());
        return k_exit_vm_failed;
    case vmm::ExitReason::InternalError:
        std::fprintf(stderr, "moat: KVM could not run the guest: %s\n", end.detail.c_str());
        return k_exit_vm_failed;
    case vmm::ExitReason::HostError:
        std::fprintf(stderr, "moat: host error: %s\n", end.detail.c_str());
        return k_exit_vm_failed;
    }
    return k_exit_vm_failed;
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

    // CLI11 reports an unknown command as a missing one; name it instead.
    if (argc > 1 && argv[1][0] != '-' && std::string_view(argv[1]) != "run") {
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
    return k_exit_usage;
}
