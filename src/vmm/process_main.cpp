// `moat-vmm`: the process that runs one VM. It is started by `moat run` (which execs it in
// its own place) and by the monitor of a system (`moat up`, one per VM), and builds its VM
// only from the launch message and descriptors on fd 3 (protocol/launch.hpp): it opens no path.
//
// It is a binary of its own, not `moat` re-executed, so that a VM process maps only the VMM:
// no argument parser, manifest parser, monitor or audit code (bench/README.md, "Memory").
#include <malloc.h>
#include <signal.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "base/log.hpp"
#include "jail/jail.hpp"
#include "protocol/exit_status.hpp"
#include "protocol/launch_receive.hpp"
#include "vmm/machine.hpp"
#include "vmm/vm_exit.hpp"

namespace {

using namespace moat;

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

// The error with the input it is about ("kernel", "disk 0": the start of its context) named as
// the user named it ("--kernel 'bzImage'", "volume 'base'"); "building the VM" when none.
Error named_input(Error e, const std::map<std::string, std::string>& names)
{
    const auto colon = e.context.find(": ");
    const auto named = names.find(e.context.substr(0, colon));
    if (named != names.end()) e.context = named->second + (colon == std::string::npos ? "" : e.context.substr(colon));
    else if (e.context.empty()) e.context = "building the VM";
    return e;
}

// Says why the VM ended when that is worth saying (a failure, a signal, or always if verbose),
// every line naming the VM ("moat: web: ..."), and returns the process's exit status.
int report_end(const vmm::VmExit& end, const std::string& who, bool verbose)
{
    const auto report = vmm::exit_report(end);
    if (!report.always && !verbose) return report.status;
    for (std::size_t at = 0; at <= report.why.size();) {
        const std::size_t nl = std::min(report.why.find('\n', at), report.why.size());
        std::fprintf(stderr, "moat: %s%s\n", who.c_str(), report.why.substr(at, nl - at).c_str());
        at = nl + 1;
    }
    return report.status;
}

bool g_jailed = false;  // enter_jail succeeded: this process is the jailed VM process

// Jails this process before anything of the guest is read (jail.hpp), or says loudly that it
// does not. Returns in the VM process: nothing, or the exit status to end with at once.
std::optional<int> enter_jail(const protocol::VmLaunch& vm, const std::string& who, vmm::VmConfig& c)
{
    const bool standalone = vm.supervision == protocol::Supervision::Standalone;
    if (!vm.jail) {
        // A monitor says this itself, on its console and in its audit log.
        if (standalone) std::fprintf(stderr, "moat: warning: --no-jail: this VM process runs unjailed (for debugging only)\n");
        return std::nullopt;
    }
    jail::Plan plan{vm.name, vm.uid_base, vm.memory, vm.cpus, standalone, c.monitor, c.vsock_cid != 0, {}};
    if (c.vsock_connector.valid()) plan.receive.push_back(c.vsock_connector.get());
    for (const auto& link : c.vsock_links)
        if (!link.outgoing) plan.receive.push_back(link.fd.get());
    for (const auto& n : c.nets) plan.taps.push_back(n.tap.get());
    auto jailed = jail::enter(plan);
    if (!jailed) {
        std::fprintf(stderr, "moat: %sjail: %s\n", who.c_str(), describe(jailed.error()).c_str());
        return protocol::k_exit_vm_failed;
    }
    // Without a cgroup v2 to use, a monitor warns once for its whole system; a failure to make
    // one where there is one is this VM's own.
    if (!jailed->cgroup && (standalone || jailed->cgroup_failed))
        std::fprintf(stderr, "moat: %swarning: no cgroup limits for this VM: %s\n", who.c_str(), jailed->no_cgroup.c_str());
    c.vmm_filter = std::move(jailed->vmm_filter);
    c.vcpu_filter = std::move(jailed->vcpu_filter);
    g_jailed = true;
    MOAT_LOG(Debug, "jailed: uid %u, gid %u%s", jailed->uid, jailed->gid, jailed->cgroup ? ", in its cgroup" : "");
    return std::nullopt;
}
// What the VM is built from: the launch's values and descriptors, and where its console goes.
vmm::VmConfig config_from(protocol::Launch& launch, bool interactive)
{
    const protocol::VmLaunch& vm = launch.vm;
    const bool standalone = vm.supervision == protocol::Supervision::Standalone;
    vmm::VmConfig c;
    c.kvm = std::move(launch.kvm);
    c.kernel = std::move(launch.kernel);
    c.initrd = std::move(launch.initrd);
    for (std::size_t d = 0; d < vm.disks.size(); ++d)
        c.disks.push_back({std::move(launch.disks[d]), vm.disks[d], "moat" + std::to_string(d),
                           // In a system, every write attempt reaches the device and is reported.
                           standalone ? virtio::block::ReadOnlyWrites::Announced
                                      : virtio::block::ReadOnlyWrites::Reported});
    if (standalone) {
        ::close(protocol::k_launch_fd);  // nobody listens: `moat run` has no monitor
        c.console_in = STDIN_FILENO;
        c.console_out = STDOUT_FILENO;
        c.console_escape = interactive;
    } else {
        c.console_out = launch.console_out.get();
        c.console_log = launch.console_log.get();
        c.console_budget = vm.console_budget;
        c.console_prefix = vm.name + " | ";
        c.monitor = protocol::k_launch_fd;
    }
    c.vsock_cid = vm.vsock_cid;
    c.vsock_listener = std::move(launch.vsock_listener);
    c.vsock_connector = std::move(launch.vsock_connector);
    for (std::size_t i = 0; i < vm.channels.size(); ++i)
        c.vsock_links.push_back({std::move(launch.channels[i]), vm.channels[i].outgoing, vm.channels[i].peer_cid,
                                 vm.channels[i].port});
    for (std::size_t i = 0; i < vm.nets.size(); ++i) c.nets.push_back({std::move(launch.taps[i]), vm.nets[i]});
    c.container = vm.container;
    c.ready = std::move(launch.ready);
    c.start = std::move(launch.start);
    c.kernel_console = vm.verbose;
    c.cmdline = vm.cmdline;
    c.mem_bytes = vm.memory;
    c.vcpus = vm.cpus;
    return c;
}

int run(const char* argv_name)
{
    auto launch = protocol::receive_launch(protocol::k_launch_fd);
    if (!launch && launch.error().code == Errc::NotFound) {
        std::fprintf(stderr, "moat-vmm: no launch message on fd 3 (this program is started by moat, not by hand)\n");
        return protocol::k_exit_usage;
    }
    if (!launch || (argv_name && launch->vm.name != argv_name)) {
        std::fprintf(stderr, "moat-vmm: malformed launch message%s%s\n", launch ? "" : ": ",
                     launch ? "" : describe(launch.error()).c_str());
        return protocol::k_exit_usage;
    }
    const protocol::VmLaunch& vm = launch->vm;
    const bool standalone = vm.supervision == protocol::Supervision::Standalone;
    if (vm.verbose) log::set_level(log::Level::Debug);
    const std::string who = vm.name.empty() ? "" : vm.name + ": ";

    // A container's terminal (-t) is the workload's, with no escape and no banner (docs/oci.md).
    const bool interactive = standalone && !vm.container && ::isatty(STDIN_FILENO) == 1;
    vmm::VmConfig c = config_from(*launch, interactive);
    if (auto failed = enter_jail(vm, who, c)) return *failed;

    auto machine = vmm::Machine::build(std::move(c));
    if (!machine) {
        std::fprintf(stderr, "moat: %s%s\n", who.c_str(), describe(named_input(machine.error(), vm.input_names)).c_str());
        return machine.error().code == Errc::Io ? protocol::k_exit_vm_failed : protocol::k_exit_usage;
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
    const int status = report_end(end, who, vm.verbose);
    // A container ends as its workload did (ContainerLink::status); a VM that failed says so
    // above, and the container then ends as a broken one.
    return vm.container ? end.container_status : status;
}

}  // namespace

// moat-vmm [NAME]: NAME, when given, must be the name in the launch message (it shows in ps).
int main(int argc, char** argv)
{
    ::signal(SIGPIPE, SIG_IGN);  // a closed console pipe is an error on write, not a kill
    // One malloc arena: a per-thread arena reserves 64 MiB, and where transparent huge pages
    // are "always" the first allocation in a vCPU thread makes it a resident 2 MiB page.
    ::mallopt(M_ARENA_MAX, 1);
    if (argc > 2) {
        std::fprintf(stderr, "moat-vmm: started by moat with at most one argument, the VM's name\n");
        return moat::protocol::k_exit_usage;
    }
    const int status = run(argc == 2 ? argv[1] : nullptr);
    if (!g_jailed) return status;
    // In the jail, exit handlers could only fail: a sanitizer's leak check needs /proc, clone
    // and ptrace. Buffered output is all there is left to do.
    std::fflush(nullptr);
    ::_exit(status);
}
