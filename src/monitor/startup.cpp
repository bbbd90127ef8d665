// The reference monitor's start: decide, open, refuse; then run_system() hands over to the
// supervisor (supervisor.cpp) and the control server (control_server.cpp).
//
// Order of work in run_system():
//   1. state directory and audit log;
//   2. every decision of the plan, audited; any denial ends here (nothing was opened);
//      then each VM's memory against this host;
//   3. every file opened exactly as decided, every volume's stored label checked on the
//      descriptor that will be passed; any failure ends here (nothing was started);
//   4. the control socket;
//   5. one VM process per VM: fork, exec `moat-vmm NAME` with a socketpair on fd 3, audit,
//      then send its descriptors (SCM_RIGHTS);
//   6. the event loop: child exits (restarts), reports from VM processes, control clients,
//      SIGINT/SIGTERM; it ends when no VM is left.
// The monitor never reads guest-controlled bytes: consoles go from the VM processes straight
// to the terminal and log files, and the only thing a VM process sends back is a fixed-size
// Report whose every field is range-checked.
#include <fcntl.h>
#include <sys/socket.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "jail/cgroup_check.hpp"
#include "monitor/system_internal.hpp"
#include "monitor/vm_files.hpp"
#include "policy/plan.hpp"
#include "protocol/launch.hpp"
#include "protocol/limits.hpp"

namespace moat::monitor {

std::string control_socket_path(const std::string& state_dir) { return state_dir + "/control.sock"; }

std::string current_system_link()
{
    const char* run = std::getenv("XDG_RUNTIME_DIR");
    std::string dir = run && *run ? run : "/tmp";
    return dir + "/moat-" + std::to_string(::getuid()) + ".state";
}

void System::report(const std::string& line) { std::fprintf(stderr, "moat: %s\n", line.c_str()); }

bool System::audit(std::string_view event, std::span<const AuditField> fields)
{
    if (m_audit_failed) return false;
    if (auto r = m_audit->append(event, fields); !r) {
        report("audit log: " + describe(r.error()) + "; stopping the system");
        m_audit_failed = true;
        begin_down("the audit log failed");
        return false;
    }
    return true;
}

int System::refuse(const std::string& message)
{
    close_networks();  // what was made before the refusal
    if (m_audit && !m_audit_failed)
        (void)m_audit->append("system.refused", {{"reason", std::string_view(message)}});
    return k_system_refused;
}

Result<void> System::open_state()
{
    const std::string dir = "state directory '" + m_options.state_dir + "'";
    if (::mkdir(m_options.state_dir.c_str(), 0700) != 0 && errno != EEXIST) return fail_errno_in(dir);
    m_state = UniqueFd(::open(m_options.state_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!m_state.valid()) return fail_errno_in(dir);
    // The audit log, the console logs and the control socket live here: another user who owns
    // the directory or may write to it could swap them.
    struct stat st{};
    if (::fstat(m_state.get(), &st) != 0) return fail_errno_in(dir);
    if (st.st_uid != ::geteuid())
        return fail_with(Errc::InvalidInput, dir + " belongs to uid " + std::to_string(st.st_uid) + ", not to this user");
    if (st.st_mode & (S_IWGRP | S_IWOTH))
        return fail_with(Errc::InvalidInput, dir + " may be written by group or others (chmod go-w)");
    auto log = AuditLog::open_at(m_state.get(), "audit.log");
    if (!log) return fail(log.error().in("audit log '" + m_options.state_dir + "/audit.log'"));
    m_audit.emplace(std::move(*log));
    return {};
}

Result<std::size_t> System::decide_all()
{
    std::size_t denied = 0;
    for (const auto& d : policy::plan(m_manifest)) {
        const bool allow = d.decision.verdict == policy::Verdict::Allow;
        // The subject's kind is the key: "vm", or "network" for an uplink.
        if (!audit("decision", {{d.subject_kind, std::string_view(d.vm)},
                                {"object", std::string_view(d.object)},
                                {"act", policy::to_string(d.act)},
                                {"subject_label", std::string_view(policy::format_label(m_manifest.lattice, d.subject))},
                                {"object_label", std::string_view(policy::format_label(m_manifest.lattice, d.object_label))},
                                {"decision", allow ? "allow" : "deny"},
                                {"rule", policy::rule_name(d.decision.rule)}}))
            return fail(Errc::Io, "the audit log failed");
        if (!allow) {
            report(policy::describe(m_manifest, d));
            ++denied;
        }
    }
    return denied;
}

// What the manifest parser could not know: whether each VM fits on this host.
Result<void> System::check_sizes() const
{
    for (const auto& spec : m_manifest.vms) {
        if (auto r = protocol::check_host_memory(spec.memory); !r)
            return fail(r.error().in(m_manifest.where(spec.memory_line ? spec.memory_line : spec.line,
                                                      "vm." + spec.name + ".memory")));
    }
    return {};
}

Result<void> System::open_files()
{
    m_null = UniqueFd(::open("/dev/null", O_RDWR | O_CLOEXEC));
    if (!m_null.valid()) return fail_errno_in("/dev/null");
    for (const auto& spec : m_manifest.vms) {
        auto audit_label = [&](const LabelSeen& s) {
            return audit("volume.label", {{"vm", std::string_view(spec.name)},
                                          {"volume", std::string_view(s.volume.name)},
                                          {"expected", std::string_view(s.expected)},
                                          {"stored", std::string_view(s.check.stored)},
                                          {"result", to_string(s.check.result)}});
        };
        auto files = MOAT_TRY(open_vm_files(m_manifest, spec, audit_label));
        Vm v;
        v.spec = &spec;
        v.kernel = std::move(files.kernel);
        v.initrd = std::move(files.initrd);
        v.disks = std::move(files.disks);
        const std::string log_name = spec.name + ".log";
        v.log = UniqueFd(::openat(m_state.get(), log_name.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
        if (!v.log.valid()) return fail_errno_in("'" + m_options.state_dir + "/" + log_name + "'");
        m_vms.push_back(std::move(v));
    }
    MOAT_TRY(open_channels());
    MOAT_TRY(open_networks());
    // Last, so that every file of the manifest is named first when it is wrong.
    m_kvm = UniqueFd(::open("/dev/kvm", O_RDWR | O_CLOEXEC));
    if (!m_kvm.valid()) return fail_with(Errc::Io, protocol::dev_kvm_error(errno));
    return {};
}

// One link per channel the policy allowed (every one, or the system was refused): the source's
// end outgoing, the destination's incoming. The monitor keeps both ends for restarts and is in
// no connection's path (protocol/vsock_link.hpp).
// A pump's channel is two links, low VM - pump and pump - high VM; each VM sees its end as if
// the other VM were there.
Result<void> System::open_channels()
{
    for (const auto& c : m_manifest.channels) {
        const std::string name = "channel from " + c.from + " to " + c.to + " port " + std::to_string(c.port);
        Vm& from = m_vms[c.from_index];
        Vm& to = m_vms[c.to_index];
        if (from.links.size() == protocol::k_max_launch_channels || to.links.size() == protocol::k_max_launch_channels)
            return fail_with(Errc::InvalidInput, m_manifest.where(c.line, "channel") + ": more than " +
                                                     std::to_string(protocol::k_max_launch_channels) + " channels for one VM");
        int a[2], b[2];
        if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, a) != 0) return fail_errno_in(name);
        UniqueFd a0(a[0]), a1(a[1]);
        if (c.kind == policy::ChannelKind::BothWays) {
            link(from, to, c.port, std::move(a0), std::move(a1));
            continue;
        }
        if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, b) != 0) return fail_errno_in(name);
        UniqueFd b0(b[0]), b1(b[1]);
        m_pumps.push_back({&c, std::move(a1), std::move(b0), -1});
        link(from, to, c.port, std::move(a0), std::move(b1));
    }
    return {};
}

void System::link(Vm& from, Vm& to, std::uint32_t port, UniqueFd from_end, UniqueFd to_end)
{
    from.links.push_back(std::move(from_end));
    from.channels.push_back({true, to.spec->cid, port});
    to.links.push_back(std::move(to_end));
    to.channels.push_back({false, from.spec->cid, port});
}

Result<void> System::listen_control()
{
    m_socket_path = control_socket_path(m_options.state_dir);
    const std::string name = "control socket '" + m_socket_path + "'";
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (m_socket_path.size() >= sizeof addr.sun_path) return fail_with(Errc::InvalidInput, name + ": path too long");
    std::memcpy(addr.sun_path, m_socket_path.c_str(), m_socket_path.size() + 1);
    auto* sa = reinterpret_cast<sockaddr*>(&addr);
    // A socket that still answers belongs to a running system: never take it over.
    UniqueFd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (probe.valid() && ::connect(probe.get(), sa, sizeof addr) == 0)
        return fail_with(Errc::InvalidInput, "a system is already running with state directory '" + m_options.state_dir + "'");
    ::unlink(m_socket_path.c_str());
    m_listen = UniqueFd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    const mode_t old = ::umask(0077);  // only the owner may even connect; SO_PEERCRED checks again
    const bool bound = m_listen.valid() && ::bind(m_listen.get(), sa, sizeof addr) == 0;
    ::umask(old);
    if (!bound || ::listen(m_listen.get(), 8) != 0) return fail_errno_in(name);
    // Point commands run without --state at this system. Best effort.
    char abs[PATH_MAX];
    if (::realpath(m_options.state_dir.c_str(), abs)) {
        const std::string link = current_system_link();
        const std::string tmp = link + ".new";
        ::unlink(tmp.c_str());
        if (::symlink(abs, tmp.c_str()) == 0) ::rename(tmp.c_str(), link.c_str());
    }
    return {};
}

// Everything is decided, checked and opened before anything starts; any refusal ends here,
// audited, with nothing started.
int System::start()
{
    if (auto r = open_state(); !r) {
        report(describe(r.error()));  // no audit log to write to
        return k_system_refused;
    }
    if (!audit("system.check", {{"manifest", std::string_view(m_manifest.source)},
                                {"uid", std::int64_t{::getuid()}},
                                {"pid", std::int64_t{::getpid()}}}))
        return k_system_refused;
    auto denied = decide_all();
    if (!denied) return k_system_refused;  // the audit log failed, and said so
    std::string why;
    if (*denied) why = "the policy refuses this system; nothing was started";
    else if (auto r = check_sizes(); !r) why = describe(r.error());
    else if (auto f = open_files(); !f && !m_audit_failed) why = describe(f.error());
    else if (!f) return k_system_refused;
    if (why.empty()) return k_system_ok;
    report(why);
    return refuse(why);
}

// How the VM processes are jailed, said once for the system: on the console when something is
// missing, always in the audit log.
bool System::audit_jail()
{
    if (!m_options.jail) {
        report("warning: --no-jail: the VM processes run unjailed, with this monitor's privileges (for debugging only)");
        return audit("system.jail", {{"jail", "off"}});
    }
    const std::string cgroups = ::geteuid() == 0 ? jail::cgroup_missing() : "not started as root";
    if (!cgroups.empty()) report("warning: the VMs run without cgroup limits: " + cgroups);
    return audit("system.jail", {{"jail", "on"},
                                 {"uid_base", std::int64_t{m_manifest.uid_base}},
                                 {"cgroups", cgroups.empty() ? std::string_view("yes") : std::string_view(cgroups)}});
}

int System::run()
{
    if (int rc = start(); rc != k_system_ok) return rc;
    sigset_t mask;
    sigemptyset(&mask);
    for (int s : {SIGCHLD, SIGINT, SIGTERM, SIGHUP}) sigaddset(&mask, s);
    sigset_t old;
    ::sigprocmask(SIG_BLOCK, &mask, &old);
    m_sig = UniqueFd(::signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK));
    m_ep = UniqueFd(::epoll_create1(EPOLL_CLOEXEC));
    Result<void> ready = fail_errno_in("monitor setup");
    if (m_sig.valid() && m_ep.valid() && watch(m_sig.get(), tag(Tag::Signal))) ready = listen_control();
    if (!ready) {
        ::sigprocmask(SIG_SETMASK, &old, nullptr);
        report(describe(ready.error()) + "; nothing was started");
        return refuse(describe(ready.error()));
    }
    watch(m_listen.get(), tag(Tag::Listen));
    if (!audit("system.up", {{"manifest", std::string_view(m_manifest.source)},
                             {"vms", std::int64_t(m_vms.size())},
                             {"uid", std::int64_t{::getuid()}},
                             {"pid", std::int64_t{::getpid()}}}) ||
        !audit_jail())
        return k_system_refused;
    if (auto r = start_pumps(); !r) {
        if (!m_audit_failed) report(describe(r.error()));
        begin_down("a pump could not be started");
    }
    for (auto& v : m_vms) {
        if (m_down) break;
        if (auto r = spawn(v); !r) {
            if (!m_audit_failed) report(describe(r.error()));
            v.state = VmState::Failed;
            begin_down("a VM could not be started");
        }
    }
    loop();
    return finish(old);
}

// After the last VM: the record of the end, the control socket removed.
int System::finish(const sigset_t& old_mask)
{
    stop_pumps();
    close_networks();
    bool all_ok = !m_audit_failed;
    for (const auto& v : m_vms) all_ok = all_ok && (v.state == VmState::Exited || v.state == VmState::Stopped);
    if (m_down_reason.empty()) m_down_reason = "every VM ended";
    if (!m_audit_failed) (void)m_audit->append("system.down", {{"reason", std::string_view(m_down_reason)}});
    m_listen.reset();
    ::unlink(m_socket_path.c_str());
    ::sigprocmask(SIG_SETMASK, &old_mask, nullptr);
    return all_ok ? k_system_ok : k_system_vm_failed;
}

int run_system(const policy::Manifest& m, const SystemOptions& o)
{
    System s(m, o);
    return s.run();
}

}  // namespace moat::monitor
