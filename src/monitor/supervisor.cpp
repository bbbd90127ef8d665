// The reference monitor's supervisor: launches one VM process per VM (fork, exec `moat-vmm
// NAME` with a socketpair on fd 3, audit, then the launch and its descriptors), and watches
// them: exits (restarts), reports of refused writes, stops (SIGTERM, then SIGKILL after a grace
// period), SIGINT/SIGTERM to the monitor. The only thing a VM process sends is a fixed-size
// Report whose every field is range-checked.
#include <signal.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>

#include "base/net_address.hpp"
#include "monitor/system_internal.hpp"
#include "policy/decide.hpp"
#include "policy/plan.hpp"
#include "protocol/exit_status.hpp"
#include "protocol/launch.hpp"
#include "protocol/limits.hpp"
#include "protocol/report.hpp"

namespace moat::monitor {

std::uint64_t now_ms()
{
    timespec t{};
    ::clock_gettime(CLOCK_MONOTONIC, &t);
    return static_cast<std::uint64_t>(t.tv_sec) * 1000 + static_cast<std::uint64_t>(t.tv_nsec) / 1000000;
}

const char* to_string(VmState s)
{
    switch (s) {
    case VmState::Starting: return "starting";
    case VmState::Running: return "running";
    case VmState::Stopping: return "stopping";
    case VmState::Exited: return "exited";
    case VmState::Failed: return "failed";
    case VmState::Stopped: return "stopped";
    }
    return "?";
}

Ending describe_status(int status)
{
    if (WIFEXITED(status)) {
        const int code = WEXITSTATUS(status);
        if (code == protocol::k_exit_guest_ended) return {"guest ended (power off or reset)", true};
        if (code == protocol::k_exit_vm_failed) return {"VM failed (exit status 1)", false};
        if (code == protocol::k_exit_usage) return {"VM could not be built (exit status 2)", false};
        if (code > protocol::k_exit_signal_base)
            return {"stopped by signal " + std::to_string(code - protocol::k_exit_signal_base), false};
        return {"exit status " + std::to_string(code), false};
    }
    // The kernel kills a jailed VM process with SIGSYS for a system call its filter forbids.
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS) return {"killed: seccomp violation", false};
    if (WIFSIGNALED(status)) return {std::string("killed by signal ") + std::to_string(WTERMSIG(status)) + " (" +
                                         strsignal(WTERMSIG(status)) + ")",
                                     false};
    return {"ended", false};
}

bool System::watch(int fd, std::uint64_t t)
{
    epoll_event e{};
    e.events = EPOLLIN;
    e.data.u64 = t;
    return ::epoll_ctl(m_ep.get(), EPOLL_CTL_ADD, fd, &e) == 0;
}

namespace {

// The launch message and descriptors of one VM of a system.
protocol::VmLaunch launch_for(const policy::VmSpec& spec, const SystemOptions& o, std::uint32_t uid_base)
{
    protocol::VmLaunch l;
    l.jail = o.jail;
    l.uid_base = uid_base;
    l.name = spec.name;
    l.cmdline = spec.cmdline.value_or(o.default_cmdline);
    l.memory = protocol::round_memory(spec.memory);
    l.cpus = spec.cpus;
    l.supervision = protocol::Supervision::Monitored;
    l.input_names["kernel"] = "kernel '" + spec.kernel.written + "'";
    if (spec.initrd) l.input_names["initrd"] = "initrd '" + spec.initrd->written + "'";
    for (std::size_t i = 0; i < spec.disks.size(); ++i) {
        l.disks.push_back(spec.disks[i].mode);
        l.input_names["disk " + std::to_string(i)] = "volume '" + spec.disks[i].volume + "'";
    }
    l.console_budget = spec.console_max;
    l.vsock_cid = spec.cid;  // every VM of a system has one: refused connections are audited too
    return l;
}

// A report's count as the audit log writes it (a signed 64-bit field).
std::int64_t audit_count(const protocol::Report& r)
{
    return static_cast<std::int64_t>(std::min<std::uint64_t>(r.count, INT64_MAX));
}

}  // namespace

pid_t System::fork_vm_process(const Vm& v, int their_sock)
{
    const pid_t monitor = ::getpid();
    const pid_t pid = ::fork();
    if (pid != 0) return pid;
    // The VM process, before exec: async-signal-safe calls only. It keeps stdout and stderr
    // (messages), gets /dev/null as stdin and its socket as fd 3, nothing else.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // no VM outlives its monitor
    if (::getppid() != monitor) ::_exit(127);
    ::setpgid(0, 0);  // Ctrl-C on the terminal reaches the monitor, which stops the VMs in order
    if (::dup2(m_null.get(), 0) < 0) ::_exit(127);
    if (!protocol::install_launch_socket(their_sock)) ::_exit(127);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    const char* argv[] = {"moat-vmm", v.spec->name.c_str(), nullptr};
    ::execv(m_options.vmm_exe.c_str(), const_cast<char* const*>(argv));
    ::_exit(127);
}

Result<void> System::spawn(Vm& v)
{
    const auto& spec = *v.spec;
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) return fail(Error::from_errno("socketpair").in(spec.name));
    UniqueFd mine(sv[0]), theirs(sv[1]);
    const pid_t pid = fork_vm_process(v, theirs.get());
    if (pid < 0) return fail(Error::from_errno("fork").in(spec.name));
    theirs.reset();
    v.pid = pid;
    v.state = VmState::Running;
    v.started_ms = now_ms();
    v.reports_this_minute = 0;
    v.reports_suppressed = 0;
    v.sock = std::move(mine);

    // The record authorising the hand-over is durable before the descriptors leave.
    std::string disks;
    for (const auto& d : spec.disks) disks += (disks.empty() ? "" : ",") + d.volume + ":" + to_string(d.mode);
    std::string networks;
    for (const auto& r : spec.networks)
        networks += (networks.empty() ? "" : ",") + r.network + ":" + base::format_ipv4(r.address);
    std::string channels;
    for (const auto& c : v.channels) {
        if (!channels.empty()) channels += ',';
        channels += c.outgoing ? "to:" : "from:";
        channels += std::to_string(c.peer_cid) + ":" + std::to_string(c.port);
    }
    if (!audit("vm.start", {{"vm", std::string_view(spec.name)},
                            {"pid", std::int64_t{pid}},
                            {"label", std::string_view(policy::format_label(m_manifest.lattice, spec.label))},
                            {"disks", std::string_view(disks)},
                            {"cid", std::int64_t(spec.cid)},
                            {"channels", std::string_view(channels)},
                            {"networks", std::string_view(networks)},
                            {"attempt", std::int64_t{v.restarts}}})) {
        ::kill(pid, SIGKILL);
        return fail(Errc::Io, "the audit log failed");
    }
    protocol::LaunchFds fds{m_kvm.get(), v.kernel.get(), v.initrd.valid() ? v.initrd.get() : -1, {}, STDOUT_FILENO,
                            v.log.get()};
    for (const auto& d : v.disks) fds.disks.push_back(d.get());
    for (const auto& l : v.links) fds.channels.push_back(l.get());
    for (const auto& t : v.taps) fds.taps.push_back(t.get());
    auto launch = launch_for(spec, m_options, m_manifest.uid_base);
    launch.channels = v.channels;
    for (const auto& r : spec.networks) launch.nets.push_back(r.mac);
    launch.cmdline += v.ip_words;
    if (auto r = protocol::send_launch(v.sock.get(), launch, fds); !r) {
        report(spec.name + ": handing over descriptors: " + describe(r.error()));
        ::kill(pid, SIGKILL);  // its exit is reaped and audited like any other
        return {};
    }
    watch(v.sock.get(), tag(Tag::VmSock, static_cast<std::uint32_t>(&v - m_vms.data())));
    return {};
}

void System::stop_vm(Vm& v)
{
    if (v.state != VmState::Running) return;
    v.state = VmState::Stopping;
    v.stop_sent_ms = now_ms();
    ::kill(v.pid, SIGTERM);
}

// A VM process is not trusted to honour SIGTERM (a compromised one may block it): after the
// grace period it is killed.
void System::enforce_stops()
{
    const std::uint64_t now = now_ms();
    for (auto& v : m_vms) {
        if (v.state != VmState::Stopping || v.pid <= 0 || now - v.stop_sent_ms < k_stop_grace_ms) continue;
        audit("vm.kill", {{"vm", std::string_view(v.spec->name)},
                          {"pid", std::int64_t{v.pid}},
                          {"reason", "did not stop within the grace period after SIGTERM"}});
        ::kill(v.pid, SIGKILL);
        v.stop_sent_ms = now;  // once per grace period at most
    }
}

void System::begin_down(const char* why)
{
    if (m_down) return;
    m_down = true;
    m_down_reason = why;
    for (auto& v : m_vms) stop_vm(v);
}

void System::on_child_exit(pid_t pid, int status, const rusage& usage)
{
    if (on_pump_exit(pid, status)) return;
    Vm* vm = nullptr;
    for (auto& v : m_vms)
        if (v.pid == pid && is_live(v.state)) vm = &v;
    if (!vm) return;
    Vm& v = *vm;
    const bool requested = v.state == VmState::Stopping;
    const Ending end = describe_status(status);
    v.last_end = end.reason;
    v.pid = -1;
    if (v.sock.valid()) {
        ::epoll_ctl(m_ep.get(), EPOLL_CTL_DEL, v.sock.get(), nullptr);
        v.sock.reset();
    }
    const std::string& name = v.spec->name;
    const std::int64_t code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    // What the VM process used, its reaper included (wait4 counts the children a process
    // waited for): CPU time and the largest resident set.
    const std::int64_t cpu_ms = (std::int64_t{usage.ru_utime.tv_sec} + usage.ru_stime.tv_sec) * 1000 +
                                (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1000;
    audit("vm.exit", {{"vm", std::string_view(name)},
                      {"pid", std::int64_t{pid}},
                      {"reason", std::string_view(end.reason)},
                      {"status", code},
                      {"requested", requested ? "yes" : "no"},
                      {"cpu_ms", cpu_ms},
                      {"max_rss_kb", std::int64_t{usage.ru_maxrss}},
                      {"reports_suppressed", static_cast<std::int64_t>(v.reports_suppressed)}});
    if (requested) {
        v.state = VmState::Stopped;
        report(name + " stopped");
        return;
    }
    if (end.clean) {
        v.state = VmState::Exited;
        report(name + ": " + end.reason);
        return;
    }
    report(name + ": " + end.reason);
    if (!m_down && v.spec->restart == policy::Restart::OnFailure && v.restarts < v.spec->max_restarts) {
        ++v.restarts;
        if (!audit("vm.restart", {{"vm", std::string_view(name)},
                                  {"attempt", std::int64_t{v.restarts}},
                                  {"max", std::int64_t{v.spec->max_restarts}}}))
            return;
        report(name + ": restarting (" + std::to_string(v.restarts) + " of " + std::to_string(v.spec->max_restarts) + ")");
        auto r = spawn(v);
        if (r) return;
        if (!m_audit_failed) report(describe(r.error()));
    }
    v.state = VmState::Failed;
}

void System::on_vm_report(std::uint32_t index)
{
    Vm& v = m_vms[index];
    protocol::Report r{};
    const ssize_t n = ::recv(v.sock.get(), &r, sizeof r, MSG_DONTWAIT | MSG_TRUNC);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        ::epoll_ctl(m_ep.get(), EPOLL_CTL_DEL, v.sock.get(), nullptr);  // it is ending; SIGCHLD follows
        v.sock.reset();
        return;
    }
    if (n < 0) return;
    const std::uint64_t now = now_ms();
    if (now - v.report_minute_ms >= 60'000) {
        v.report_minute_ms = now;
        v.reports_this_minute = 0;
    }
    if (++v.reports_this_minute > k_reports_per_minute) {
        if (v.reports_suppressed++ == 0)
            report(v.spec->name + ": more than " + std::to_string(k_reports_per_minute) +
                   " reports a minute from its VM process: the rest are counted, not audited");
        return;
    }
    const auto& disks = v.spec->disks;
    if (n == static_cast<ssize_t>(sizeof r) && r.kind == static_cast<std::uint32_t>(protocol::ReportKind::RefusedConnection) &&
        r.count != 0 && r.cid <= 0xffffffff) {
        on_refused_connection(v, r);
        return;
    }
    if (n == static_cast<ssize_t>(sizeof r) && r.kind == static_cast<std::uint32_t>(protocol::ReportKind::ConsoleDropped) &&
        r.count != 0 && r.item == 0 && r.cid == 0) {
        const auto bytes = audit_count(r);
        audit("vm.console_dropped", {{"vm", std::string_view(v.spec->name)},
                                     {"bytes", bytes},
                                     {"budget", static_cast<std::int64_t>(v.spec->console_max)}});
        report(v.spec->name + ": " + std::to_string(bytes) + " bytes of console output dropped past its budget of " +
               std::to_string(v.spec->console_max) + " bytes");
        return;
    }
    if (n == static_cast<ssize_t>(sizeof r) && r.kind == static_cast<std::uint32_t>(protocol::ReportKind::DeviceFault) &&
        r.count != 0 && r.cid < 64) {
        on_device_fault(v, r);
        return;
    }
    if (n != static_cast<ssize_t>(sizeof r) || r.kind != static_cast<std::uint32_t>(protocol::ReportKind::DeniedWrite) ||
        r.item >= disks.size() || r.count == 0 || disks[r.item].mode != DiskAccess::ReadOnly) {
        audit("vm.bad_report", {{"vm", std::string_view(v.spec->name)}, {"bytes", std::int64_t{n}}});
        return;
    }
    const std::string& volume = disks[r.item].volume;
    const auto count = audit_count(r);
    audit("vm.denied_write", {{"vm", std::string_view(v.spec->name)},
                              {"volume", std::string_view(volume)},
                              {"count", count},
                              {"rule", policy::rule_name(policy::Rule::ReadDown)},
                              {"detail", "read-only attach: the guest's writes fail with an I/O error"}});
    report(v.spec->name + ": " + std::to_string(count) + (count == 1 ? " write" : " writes") + " to read-only volume " +
           volume + " refused");
}

// A VM process refused its guest's vsock connections for want of a channel: counted there, at
// most one report a second; the CID and port are the last one's.
void System::on_refused_connection(const Vm& v, const protocol::Report& r)
{
    const auto count = audit_count(r);
    audit("vm.refused_connection", {{"vm", std::string_view(v.spec->name)},
                                    {"count", count},
                                    {"cid", static_cast<std::int64_t>(r.cid)},
                                    {"port", std::int64_t{r.item}},
                                    {"detail", "no channel in the manifest: the guest's connection was reset"}});
    report(v.spec->name + ": " + std::to_string(count) + (count == 1 ? " connection" : " connections") +
           " without a channel refused (the last to CID " + std::to_string(r.cid) + " port " + std::to_string(r.item) + ")");
}

// A VM process counted its guest breaking a virtio device's rules (the device refused, ignored
// or stopped): at most one report a minute.
void System::on_device_fault(const Vm& v, const protocol::Report& r)
{
    const auto count = audit_count(r);
    const std::string device = r.item == 1 ? "virtio-net" : r.item == 2 ? "virtio-blk" : r.item == 19 ? "virtio-vsock"
                                                                                      : "virtio device " + std::to_string(r.item);
    audit("vm.device_fault", {{"vm", std::string_view(v.spec->name)},
                              {"device", std::string_view(device)},
                              {"slot", static_cast<std::int64_t>(r.cid)},
                              {"count", count},
                              {"detail", "the guest broke the device's rules; the device refused, ignored or stopped"}});
    report(v.spec->name + ": " + std::to_string(count) + (count == 1 ? " fault" : " faults") + " of the guest on its " +
           device + " (slot " + std::to_string(r.cid) + ")");
}

void System::loop()
{
    std::array<epoll_event, 16> events;
    for (;;) {
        bool live = false;
        for (const auto& v : m_vms) live = live || is_live(v.state);
        if (!live) return;
        bool stopping = false;
        for (const auto& v : m_vms) stopping = stopping || v.state == VmState::Stopping;
        const int n = ::epoll_wait(m_ep.get(), events.data(), static_cast<int>(events.size()), stopping ? 500 : -1);
        if (stopping) enforce_stops();
        if (n < 0 && errno != EINTR) {
            report(describe(Error::from_errno("epoll_wait")));
            begin_down("monitor error");
            for (auto& v : m_vms)
                if (v.pid > 0) ::kill(v.pid, SIGKILL);
            return;
        }
        for (int i = 0; i < n; ++i) {
            const std::uint64_t t = events[static_cast<std::size_t>(i)].data.u64;
            const auto kind = static_cast<Tag>(t >> 32);
            const auto index = static_cast<std::uint32_t>(t);
            if (kind == Tag::Signal) {
                signalfd_siginfo si{};
                while (::read(m_sig.get(), &si, sizeof si) == sizeof si) {
                    if (si.ssi_signo == SIGCHLD) {
                        int status = 0;
                        rusage usage{};
                        pid_t pid;
                        while ((pid = ::wait4(-1, &status, WNOHANG, &usage)) > 0) on_child_exit(pid, status, usage);
                    } else {
                        report(std::string(strsignal(static_cast<int>(si.ssi_signo))) + ": stopping the system");
                        begin_down("signal");
                    }
                }
            } else if (kind == Tag::Listen) {
                on_accept();
            } else if (kind == Tag::VmSock) {
                if (index < m_vms.size() && m_vms[index].sock.valid()) on_vm_report(index);
            } else if (kind == Tag::Client) {
                on_client(index);
            }
        }
    }
}

}  // namespace moat::monitor
