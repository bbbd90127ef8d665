// The reference monitor's run time: decide, open, launch, supervise, serve, audit.
//
// Order of work in run_system():
//   1. state directory and audit log;
//   2. every decision of the plan, audited; any denial ends here (nothing was opened);
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
#include "monitor/system.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <map>
#include <optional>

#include "base/unique_fd.hpp"
#include "monitor/audit.hpp"
#include "monitor/control.hpp"
#include "monitor/vm_files.hpp"
#include "monitor/volume.hpp"
#include "policy/decide.hpp"
#include "policy/plan.hpp"
#include "protocol/exit_status.hpp"
#include "protocol/fdpass.hpp"
#include "protocol/launch.hpp"
#include "protocol/limits.hpp"
#include "protocol/report.hpp"

namespace moat::monitor {

using base::UniqueFd;
using protocol::PeerCred;

// ---- paths ----------------------------------------------------------------------------------

std::string control_socket_path(const std::string& state_dir) { return state_dir + "/control.sock"; }

std::string current_system_link()
{
    const char* run = std::getenv("XDG_RUNTIME_DIR");
    std::string dir = run && *run ? run : "/tmp";
    return dir + "/moat-" + std::to_string(::getuid()) + ".state";
}

namespace {

constexpr std::uint64_t k_stop_grace_ms = 10'000;  // SIGTERM, then this long, then SIGKILL
constexpr std::size_t k_max_clients = 16;           // control connections open at once

std::string error_reply(const std::string& message)
{
    return R"({"ok":false,"error":)" + json_string(message) + "}";
}

std::uint64_t now_ms()
{
    timespec t{};
    ::clock_gettime(CLOCK_MONOTONIC, &t);
    return static_cast<std::uint64_t>(t.tv_sec) * 1000 + static_cast<std::uint64_t>(t.tv_nsec) / 1000000;
}

enum class VmState { Starting, Running, Stopping, Exited, Failed, Stopped };

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

bool is_live(VmState s) { return s == VmState::Starting || s == VmState::Running || s == VmState::Stopping; }

// What a VM process's wait status means (the statuses of `moat run`, which every VM process shares).
struct Ending {
    std::string reason;
    bool clean;  // the guest ended itself
};
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
    if (WIFSIGNALED(status)) return {std::string("killed by signal ") + std::to_string(WTERMSIG(status)) + " (" +
                                         strsignal(WTERMSIG(status)) + ")",
                                     false};
    return {"ended", false};
}

// A VM with the descriptors the monitor opened for it (kept, so a restart gets the same).
struct Vm {
    const policy::VmSpec* spec = nullptr;
    UniqueFd kernel, initrd, log;
    std::vector<UniqueFd> disks;
    VmState state = VmState::Starting;
    pid_t pid = -1;
    UniqueFd sock;  // the monitor's end of the socketpair
    std::uint64_t started_ms = 0;
    std::uint64_t stop_sent_ms = 0;  // when SIGTERM went out (Stopping)
    std::uint32_t restarts = 0;
    std::string last_end;
};

struct Client {
    UniqueFd fd;
    PeerCred cred{};
    std::string buf;
};

// epoll tags.
enum class Tag : std::uint32_t { Signal = 1, Listen, VmSock, Client };
std::uint64_t tag(Tag t, std::uint32_t i = 0) { return (std::uint64_t{static_cast<std::uint32_t>(t)} << 32) | i; }

class System {
public:
    System(const policy::Manifest& m, const SystemOptions& o) : m_m(m), m_o(o) {}
    int run();

private:
    // Audits, and on failure of the audit itself stops everything: an act whose record could
    // not be written must not happen.
    bool audit(std::string_view event, std::initializer_list<AuditField> fields)
    {
        return audit(event, std::span(fields.begin(), fields.size()));
    }
    bool audit(std::string_view event, std::span<const AuditField> fields);
    // Ends a start that cannot go on: audited; printed unless a more precise line already was.
    int refuse(const std::string& message, bool print = true);
    bool open_state();
    bool decide_all();
    bool check_sizes();
    bool open_files();
    bool listen_control();
    bool spawn(Vm& v);
    void loop();
    void on_child_exit(pid_t pid, int status);
    void on_vm_report(std::uint32_t index);
    void on_accept();
    void on_client(std::uint32_t id);
    void handle_request(Client& c, const Request& r);
    void reply(Client& c, const std::string& json);
    void stop_vm(Vm& v);
    void enforce_stops();
    void begin_down(const char* why);
    bool watch(int fd, std::uint64_t t);

    const policy::Manifest& m_m;
    const SystemOptions& m_o;
    UniqueFd m_state;
    std::optional<AuditLog> m_audit;
    UniqueFd m_kvm, m_null, m_listen, m_sig, m_ep;
    std::string m_socket_path;
    std::vector<Vm> m_vms;
    std::map<std::uint32_t, Client> m_clients;
    std::uint32_t m_next_client = 0;
    bool m_down = false;
    bool m_audit_failed = false;
    std::string m_down_reason;
};

bool System::audit(std::string_view event, std::span<const AuditField> fields)
{
    if (m_audit_failed) return false;
    if (auto r = m_audit->append(event, fields); !r) {
        std::fprintf(stderr, "moat: audit log: %s; stopping the system\n", describe(r.error()).c_str());
        m_audit_failed = true;
        begin_down("the audit log failed");
        return false;
    }
    return true;
}

int System::refuse(const std::string& message, bool print)
{
    if (print) std::fprintf(stderr, "moat: %s\n", message.c_str());
    if (m_audit && !m_audit_failed)
        (void)m_audit->append("system.refused", {{"reason", std::string_view(message)}});
    return k_system_refused;
}

bool System::open_state()
{
    if (::mkdir(m_o.state_dir.c_str(), 0700) != 0 && errno != EEXIST) {
        std::fprintf(stderr, "moat: state directory '%s': %s\n", m_o.state_dir.c_str(), std::strerror(errno));
        return false;
    }
    m_state = UniqueFd(::open(m_o.state_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!m_state.valid()) {
        std::fprintf(stderr, "moat: state directory '%s': %s\n", m_o.state_dir.c_str(), std::strerror(errno));
        return false;
    }
    auto log = AuditLog::open_at(m_state.get(), "audit.log");
    if (!log) {
        std::fprintf(stderr, "moat: audit log '%s/audit.log': %s\n", m_o.state_dir.c_str(),
                     describe(log.error()).c_str());
        return false;
    }
    m_audit.emplace(std::move(*log));
    return true;
}

bool System::decide_all()
{
    const auto decisions = policy::plan(m_m);
    bool ok = true;
    for (const auto& d : decisions) {
        const std::string line = policy::describe(m_m, d);
        const bool allow = d.decision.verdict == policy::Verdict::Allow;
        if (!audit("decision", {{"vm", std::string_view(d.vm)},
                                {"object", std::string_view(d.object)},
                                {"act", policy::to_string(d.act)},
                                {"subject_label", std::string_view(policy::format_label(m_m.lattice, d.subject))},
                                {"object_label", std::string_view(policy::format_label(m_m.lattice, d.object_label))},
                                {"decision", allow ? "allow" : "deny"},
                                {"rule", policy::rule_name(d.decision.rule)}}))
            return false;
        if (!allow) {
            std::fprintf(stderr, "moat: %s\n", line.c_str());
            ok = false;
        }
    }
    return ok;
}

// What the manifest parser could not know: whether each VM fits on this host.
bool System::check_sizes()
{
    bool ok = true;
    for (const auto& spec : m_m.vms) {
        if (auto r = protocol::check_host_memory(spec.memory); !r) {
            const auto line = spec.memory_line ? spec.memory_line : spec.line;
            std::fprintf(stderr, "moat: %s\n", describe(r.error().in(m_m.where(line, "vm." + spec.name + ".memory"))).c_str());
            ok = false;
        }
    }
    return ok;
}

bool System::open_files()
{
    m_null = UniqueFd(::open("/dev/null", O_RDWR | O_CLOEXEC));
    if (!m_null.valid()) {
        std::fprintf(stderr, "moat: /dev/null: %s\n", std::strerror(errno));
        return false;
    }
    for (const auto& spec : m_m.vms) {
        auto audit_label = [&](const LabelSeen& s) {
            return audit("volume.label", {{"vm", std::string_view(spec.name)},
                                          {"volume", std::string_view(s.volume.name)},
                                          {"expected", std::string_view(s.expected)},
                                          {"stored", std::string_view(s.check.stored)},
                                          {"result", to_string(s.check.result)}});
        };
        auto files = open_vm_files(m_m, spec, audit_label);
        if (!files) {
            if (!m_audit_failed) std::fprintf(stderr, "moat: %s\n", describe(files.error()).c_str());
            return false;
        }
        Vm v;
        v.spec = &spec;
        v.kernel = std::move(files->kernel);
        v.initrd = std::move(files->initrd);
        v.disks = std::move(files->disks);
        const std::string log_name = spec.name + ".log";
        v.log = UniqueFd(::openat(m_state.get(), log_name.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
        if (!v.log.valid()) {
            std::fprintf(stderr, "moat: '%s/%s': %s\n", m_o.state_dir.c_str(), log_name.c_str(), std::strerror(errno));
            return false;
        }
        m_vms.push_back(std::move(v));
    }
    // Last, so that every file of the manifest is named first when it is wrong.
    m_kvm = UniqueFd(::open("/dev/kvm", O_RDWR | O_CLOEXEC));
    if (!m_kvm.valid()) {
        std::fprintf(stderr, "moat: %s\n", protocol::dev_kvm_error(errno).c_str());
        return false;
    }
    return true;
}

bool System::listen_control()
{
    m_socket_path = control_socket_path(m_o.state_dir);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (m_socket_path.size() >= sizeof addr.sun_path) {
        std::fprintf(stderr, "moat: control socket path '%s' is too long\n", m_socket_path.c_str());
        return false;
    }
    std::memcpy(addr.sun_path, m_socket_path.c_str(), m_socket_path.size() + 1);
    auto* sa = reinterpret_cast<sockaddr*>(&addr);
    // A socket that still answers belongs to a running system: never take it over.
    {
        UniqueFd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
        if (probe.valid() && ::connect(probe.get(), sa, sizeof addr) == 0) {
            std::fprintf(stderr, "moat: a system is already running with state directory '%s'\n", m_o.state_dir.c_str());
            return false;
        }
    }
    ::unlink(m_socket_path.c_str());
    m_listen = UniqueFd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    const mode_t old = ::umask(0077);  // only the owner may even connect; SO_PEERCRED checks again
    const bool bound = m_listen.valid() && ::bind(m_listen.get(), sa, sizeof addr) == 0;
    ::umask(old);
    if (!bound || ::listen(m_listen.get(), 8) != 0) {
        std::fprintf(stderr, "moat: control socket '%s': %s\n", m_socket_path.c_str(), std::strerror(errno));
        return false;
    }
    // Point commands run without --state at this system. Best effort.
    char abs[PATH_MAX];
    if (::realpath(m_o.state_dir.c_str(), abs)) {
        const std::string link = current_system_link();
        const std::string tmp = link + ".new";
        ::unlink(tmp.c_str());
        if (::symlink(abs, tmp.c_str()) == 0) ::rename(tmp.c_str(), link.c_str());
    }
    return true;
}

bool System::watch(int fd, std::uint64_t t)
{
    epoll_event e{};
    e.events = EPOLLIN;
    e.data.u64 = t;
    return ::epoll_ctl(m_ep.get(), EPOLL_CTL_ADD, fd, &e) == 0;
}

bool System::spawn(Vm& v)
{
    const auto& spec = *v.spec;
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
        std::fprintf(stderr, "moat: %s: socketpair: %s\n", spec.name.c_str(), std::strerror(errno));
        return false;
    }
    UniqueFd mine(sv[0]), theirs(sv[1]);
    const pid_t monitor = ::getpid();
    const pid_t pid = ::fork();
    if (pid < 0) {
        std::fprintf(stderr, "moat: %s: fork: %s\n", spec.name.c_str(), std::strerror(errno));
        return false;
    }
    if (pid == 0) {
        // The VM process, before exec: async-signal-safe calls only. It keeps stdout and
        // stderr (messages), gets /dev/null as stdin and its socket as fd 3, nothing else.
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // no VM outlives its monitor
        if (::getppid() != monitor) ::_exit(127);
        ::setpgid(0, 0);  // Ctrl-C on the terminal reaches the monitor, which stops the VMs in order
        if (::dup2(m_null.get(), 0) < 0) ::_exit(127);
        if (!protocol::install_launch_socket(theirs.get())) ::_exit(127);
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        const char* argv[] = {"moat-vmm", spec.name.c_str(), nullptr};
        ::execv(m_o.vmm_exe.c_str(), const_cast<char* const*>(argv));
        ::_exit(127);
    }
    theirs.reset();
    v.pid = pid;
    v.state = VmState::Running;
    v.started_ms = now_ms();
    v.sock = std::move(mine);

    // The record authorising the hand-over is durable before the descriptors leave.
    std::string disks;
    for (const auto& d : spec.disks) disks += (disks.empty() ? "" : ",") + d.volume + ":" + to_string(d.mode);
    if (!audit("vm.start", {{"vm", std::string_view(spec.name)},
                            {"pid", std::int64_t{pid}},
                            {"label", std::string_view(policy::format_label(m_m.lattice, spec.label))},
                            {"disks", std::string_view(disks)},
                            {"attempt", std::int64_t{v.restarts}}})) {
        ::kill(pid, SIGKILL);
        return false;
    }

    protocol::VmLaunch l;
    l.name = spec.name;
    l.cmdline = spec.cmdline.value_or(m_o.default_cmdline);
    l.memory = protocol::round_memory(spec.memory);
    l.cpus = spec.cpus;
    l.supervision = protocol::Supervision::Monitored;
    l.input_names["kernel"] = "kernel '" + spec.kernel.written + "'";
    if (spec.initrd) l.input_names["initrd"] = "initrd '" + spec.initrd->written + "'";
    protocol::LaunchFds fds{m_kvm.get(), v.kernel.get(), v.initrd.valid() ? v.initrd.get() : -1, {}, STDOUT_FILENO,
                            v.log.get()};
    for (std::size_t i = 0; i < spec.disks.size(); ++i) {
        l.disks.push_back(spec.disks[i].mode);
        l.input_names["disk " + std::to_string(i)] = "volume '" + spec.disks[i].volume + "'";
        fds.disks.push_back(v.disks[i].get());
    }
    if (auto r = protocol::send_launch(v.sock.get(), l, fds); !r) {
        std::fprintf(stderr, "moat: %s: handing over descriptors: %s\n", spec.name.c_str(),
                     describe(r.error()).c_str());
        ::kill(pid, SIGKILL);  // its exit is reaped and audited like any other
        return true;
    }
    watch(v.sock.get(), tag(Tag::VmSock, static_cast<std::uint32_t>(&v - m_vms.data())));
    return true;
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

void System::on_child_exit(pid_t pid, int status)
{
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
    audit("vm.exit", {{"vm", std::string_view(name)},
                      {"pid", std::int64_t{pid}},
                      {"reason", std::string_view(end.reason)},
                      {"status", code},
                      {"requested", requested ? "yes" : "no"}});
    if (requested) {
        v.state = VmState::Stopped;
        std::fprintf(stderr, "moat: %s stopped\n", name.c_str());
        return;
    }
    if (end.clean) {
        v.state = VmState::Exited;
        std::fprintf(stderr, "moat: %s: %s\n", name.c_str(), end.reason.c_str());
        return;
    }
    std::fprintf(stderr, "moat: %s: %s\n", name.c_str(), end.reason.c_str());
    if (!m_down && v.spec->restart == policy::Restart::OnFailure && v.restarts < v.spec->max_restarts) {
        ++v.restarts;
        if (!audit("vm.restart", {{"vm", std::string_view(name)},
                                  {"attempt", std::int64_t{v.restarts}},
                                  {"max", std::int64_t{v.spec->max_restarts}}}))
            return;
        std::fprintf(stderr, "moat: %s: restarting (%u of %u)\n", name.c_str(), v.restarts, v.spec->max_restarts);
        if (spawn(v)) return;
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
    const auto& disks = v.spec->disks;
    if (n != static_cast<ssize_t>(sizeof r) || r.kind != static_cast<std::uint32_t>(protocol::ReportKind::DeniedWrite) ||
        r.disk >= disks.size() || r.count == 0 || disks[r.disk].mode != DiskAccess::ReadOnly) {
        audit("vm.bad_report", {{"vm", std::string_view(v.spec->name)}, {"bytes", std::int64_t{n}}});
        return;
    }
    const std::string& volume = disks[r.disk].volume;
    const auto count = static_cast<std::int64_t>(std::min<std::uint64_t>(r.count, INT64_MAX));
    audit("vm.denied_write", {{"vm", std::string_view(v.spec->name)},
                              {"volume", std::string_view(volume)},
                              {"count", count},
                              {"rule", policy::rule_name(policy::Rule::ReadDown)},
                              {"detail", "read-only attach: the guest's writes fail with an I/O error"}});
    std::fprintf(stderr, "moat: %s: %lld write%s to read-only volume %s refused\n", v.spec->name.c_str(),
                 static_cast<long long>(count), count == 1 ? "" : "s", volume.c_str());
}

void System::on_accept()
{
    for (;;) {
        UniqueFd fd(::accept4(m_listen.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
        if (!fd.valid()) return;
        // A client that never finishes its request holds a slot; past the limit, new ones are
        // turned away, so a stuck client cannot exhaust the monitor's descriptors.
        if (m_clients.size() >= k_max_clients) continue;
        auto cred = protocol::peer_credentials(fd.get());
        if (!cred) continue;
        const std::uint32_t id = m_next_client++;
        if (!watch(fd.get(), tag(Tag::Client, id))) continue;
        m_clients[id] = Client{std::move(fd), *cred, {}};
    }
}

void System::reply(Client& c, const std::string& json)
{
    const std::string line = json + "\n";
    // Replies are small; a client that does not read them loses them.
    [[maybe_unused]] auto n = ::send(c.fd.get(), line.data(), line.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
}

void System::on_client(std::uint32_t id)
{
    auto it = m_clients.find(id);
    if (it == m_clients.end()) return;
    Client& c = it->second;
    char buf[512];
    const ssize_t n = ::recv(c.fd.get(), buf, sizeof buf, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    bool done = n <= 0;
    if (n > 0) {
        c.buf.append(buf, static_cast<std::size_t>(n));
        const auto nl = c.buf.find('\n');
        if (nl != std::string::npos || c.buf.size() > k_max_request) {
            const std::string line = c.buf.substr(0, std::min(nl, c.buf.size()));
            const std::int64_t uid = c.cred.uid, pid = c.cred.pid;
            // Only root and the user who started the system may command it.
            if (c.cred.uid != 0 && c.cred.uid != ::getuid()) {
                audit("control", {{"cmd", "?"}, {"uid", uid}, {"pid", pid}, {"result", "refused: not the owner"}});
                reply(c, error_reply("permission denied: only root and the system's owner may use it"));
            } else if (auto r = parse_request(line); !r) {
                audit("control", {{"cmd", "?"}, {"uid", uid}, {"pid", pid}, {"result", "refused: bad request"}});
                reply(c, error_reply(r.error().what));
            } else {
                handle_request(c, *r);
            }
            done = true;
        }
    }
    if (done) {
        ::epoll_ctl(m_ep.get(), EPOLL_CTL_DEL, c.fd.get(), nullptr);
        m_clients.erase(it);
    }
}

void System::handle_request(Client& c, const Request& r)
{
    // Every command is audited with its caller before it is carried out, refusals too.
    auto audit_command = [&](const char* result) {
        std::vector<AuditField> f{{"cmd", to_string(r.cmd)}};
        if (!r.vm.empty()) f.push_back({"vm", std::string_view(r.vm)});
        f.push_back({"uid", std::int64_t{c.cred.uid}});
        f.push_back({"pid", std::int64_t{c.cred.pid}});
        f.push_back({"result", result});
        return audit("control", f);
    };
    Vm* vm = nullptr;
    if (!r.vm.empty()) {
        for (auto& v : m_vms)
            if (v.spec->name == r.vm) vm = &v;
        if (!vm) {
            audit_command("refused: no such VM");
            reply(c, error_reply("no VM named '" + r.vm + "'"));
            return;
        }
    }
    const bool running = vm && vm->state == VmState::Running;
    if ((r.cmd == Command::Stop || r.cmd == Command::Console) && !running) {
        audit_command("refused: VM not running");
        reply(c, error_reply("VM '" + r.vm + "' is " + to_string(vm->state)));
        return;
    }
    if (!audit_command("ok")) {
        reply(c, error_reply("the audit log failed"));
        return;
    }
    switch (r.cmd) {
    case Command::Ls: {
        std::string out = R"({"ok":true,"vms":[)";
        const std::uint64_t now = now_ms();
        for (std::size_t i = 0; i < m_vms.size(); ++i) {
            const Vm& v = m_vms[i];
            out += std::string(i ? "," : "") + "{\"name\":" + json_string(v.spec->name) +
                   ",\"label\":" + json_string(policy::format_label(m_m.lattice, v.spec->label)) +
                   ",\"state\":\"" + to_string(v.state) + "\",\"pid\":" + std::to_string(v.pid > 0 ? v.pid : 0) +
                   ",\"uptime_ms\":" + std::to_string(v.pid > 0 ? now - v.started_ms : 0) +
                   ",\"memory\":" + std::to_string(v.spec->memory) +
                   ",\"restarts\":" + std::to_string(v.restarts) + ",\"last_end\":" + json_string(v.last_end) + "}";
        }
        reply(c, out + "]}");
        return;
    }
    case Command::Stop:
        stop_vm(*vm);
        reply(c, R"({"ok":true})");
        return;
    case Command::Down:
        reply(c, R"({"ok":true})");
        begin_down("down requested");
        return;
    case Command::Console: {
        // The client's connection itself goes to the VM process, which streams the console
        // over it; the monitor keeps no copy and never sees the bytes.
        reply(c, R"({"ok":true})");
        const protocol::Report msg{static_cast<std::uint32_t>(protocol::ReportKind::AttachConsole), 0, 0};
        const int fds[] = {c.fd.get()};
        if (auto s = protocol::send_message(vm->sock.get(), std::as_bytes(std::span(&msg, 1)), fds); !s)
            std::fprintf(stderr, "moat: %s: attaching a console: %s\n", vm->spec->name.c_str(),
                         describe(s.error()).c_str());
        return;
    }
    }
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
            std::fprintf(stderr, "moat: epoll_wait: %s\n", std::strerror(errno));
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
                        pid_t pid;
                        while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0) on_child_exit(pid, status);
                    } else {
                        std::fprintf(stderr, "moat: %s: stopping the system\n", strsignal(static_cast<int>(si.ssi_signo)));
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

int System::run()
{
    if (!open_state()) return k_system_refused;
    // Everything is decided before anything is opened or started.
    if (!audit("system.check", {{"manifest", std::string_view(m_m.source)},
                                {"uid", std::int64_t{::getuid()}},
                                {"pid", std::int64_t{::getpid()}}}))
        return k_system_refused;
    if (!decide_all()) return refuse("the policy refuses this system; nothing was started");
    if (!check_sizes()) return refuse("a VM does not fit on this host; nothing was started", false);
    if (!open_files()) return refuse("a file or volume label was refused; nothing was started", false);

    sigset_t mask;
    sigemptyset(&mask);
    for (int s : {SIGCHLD, SIGINT, SIGTERM, SIGHUP}) sigaddset(&mask, s);
    sigset_t old;
    ::sigprocmask(SIG_BLOCK, &mask, &old);
    m_sig = UniqueFd(::signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK));
    m_ep = UniqueFd(::epoll_create1(EPOLL_CLOEXEC));
    if (!m_sig.valid() || !m_ep.valid() || !watch(m_sig.get(), tag(Tag::Signal))) {
        ::sigprocmask(SIG_SETMASK, &old, nullptr);
        return refuse(std::string("monitor setup: ") + std::strerror(errno));
    }
    if (!listen_control()) {
        ::sigprocmask(SIG_SETMASK, &old, nullptr);
        return refuse("the control socket could not be set up; nothing was started", false);
    }
    watch(m_listen.get(), tag(Tag::Listen));

    if (!audit("system.up", {{"manifest", std::string_view(m_m.source)},
                             {"vms", std::int64_t(m_vms.size())},
                             {"uid", std::int64_t{::getuid()}},
                             {"pid", std::int64_t{::getpid()}}}))
        return k_system_refused;
    for (auto& v : m_vms) {
        if (m_down) break;
        if (!spawn(v)) {
            v.state = VmState::Failed;
            begin_down("a VM could not be started");
        }
    }
    loop();

    bool all_ok = !m_audit_failed;
    for (const auto& v : m_vms) all_ok = all_ok && (v.state == VmState::Exited || v.state == VmState::Stopped);
    if (m_down_reason.empty()) m_down_reason = "every VM ended";
    if (!m_audit_failed) (void)m_audit->append("system.down", {{"reason", std::string_view(m_down_reason)}});
    m_listen.reset();
    ::unlink(m_socket_path.c_str());
    ::sigprocmask(SIG_SETMASK, &old, nullptr);
    return all_ok ? k_system_ok : k_system_vm_failed;
}

}  // namespace

int run_system(const policy::Manifest& m, const SystemOptions& o)
{
    System s(m, o);
    return s.run();
}

}  // namespace moat::monitor
