// Inside the reference monitor (system.hpp): the System a run_system() call builds, shared by
// its three parts. startup.cpp decides, opens and refuses before anything starts;
// supervisor.cpp launches the VM processes and watches them (exits, restarts, reports, stops);
// control_server.cpp serves the control socket. Not for use outside src/monitor/.
#pragma once

#include <signal.h>
#include <sys/resource.h>
#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/unique_fd.hpp"
#include "monitor/audit.hpp"
#include "monitor/control.hpp"
#include "monitor/netlink.hpp"
#include "monitor/system.hpp"
#include "protocol/fdpass.hpp"
#include "protocol/launch.hpp"
#include "protocol/report.hpp"

namespace moat::monitor {

using base::UniqueFd;

inline constexpr std::uint64_t k_stop_grace_ms = 10'000;  // SIGTERM, then this long, then SIGKILL
inline constexpr std::size_t k_max_clients = 16;           // control connections open at once

enum class VmState { Starting, Running, Stopping, Exited, Failed, Stopped };
const char* to_string(VmState s);
inline bool is_live(VmState s) { return s == VmState::Starting || s == VmState::Running || s == VmState::Stopping; }

std::uint64_t now_ms();  // CLOCK_MONOTONIC

// A VM with the descriptors the monitor opened for it (kept, so a restart gets the same).
struct Vm {
    const policy::VmSpec* spec = nullptr;
    UniqueFd kernel, initrd, log;
    std::vector<UniqueFd> disks;
    // Its ends of its channels' links (protocol/vsock_link.hpp), kept for its restarts.
    std::vector<protocol::ChannelEnd> channels;
    std::vector<UniqueFd> links;
    // Its taps, one per network in its spec's order (networks.cpp), kept for its restarts, and
    // the ip= words for its command line.
    std::vector<UniqueFd> taps;
    std::string ip_words;
    VmState state = VmState::Starting;
    pid_t pid = -1;
    UniqueFd sock;  // the monitor's end of the socketpair
    std::uint64_t started_ms = 0;
    std::uint64_t stop_sent_ms = 0;  // when SIGTERM went out (Stopping)
    std::uint32_t restarts = 0;
    std::string last_end;
    // Its reports audited in the current minute, and those past the limit (k_reports_per_minute):
    // a VM process, which may be compromised, cannot make the monitor write without bound.
    std::uint64_t report_minute_ms = 0;
    std::uint32_t reports_this_minute = 0;
    std::uint64_t reports_suppressed = 0;
};
// What the VM process of a well-behaved guest sends at most: one report a second for refused
// writes and one for refused connections, and one a minute each for the console and faults.
inline constexpr std::uint32_t k_reports_per_minute = 150;

// What a VM process's wait status means (the statuses of `moat run`, which every VM process shares).
struct Ending {
    std::string reason;
    bool clean;  // the guest ended itself
};
Ending describe_status(int status);

// A one-way channel's pump process (src/pump/): the pump's ends of the low VM's link and the
// high VM's.
struct PumpProcess {
    const policy::ChannelSpec* spec = nullptr;
    UniqueFd low, high;
    pid_t pid = -1;
};

struct Client {
    UniqueFd fd;
    protocol::PeerCred cred{};
    std::string buf;
};

// epoll tags.
enum class Tag : std::uint32_t { Signal = 1, Listen, VmSock, Client };
inline std::uint64_t tag(Tag t, std::uint32_t i = 0) { return (std::uint64_t{static_cast<std::uint32_t>(t)} << 32) | i; }

class System {
public:
    System(const policy::Manifest& m, const SystemOptions& o) : m_manifest(m), m_options(o) {}
    int run();

private:
    // Audits, and on failure of the audit itself stops everything: an act whose record could
    // not be written must not happen.
    bool audit(std::string_view event, std::initializer_list<AuditField> fields)
    {
        return audit(event, std::span(fields.begin(), fields.size()));
    }
    bool audit(std::string_view event, std::span<const AuditField> fields);
    // The monitor's console reporting: one line on stderr, "moat: " first.
    static void report(const std::string& line);
    // Ends a start that cannot go on, audited (the caller reported it).
    int refuse(const std::string& message);
    bool audit_jail();
    int start();
    int finish(const sigset_t& old_mask);
    Result<void> open_state();
    Result<std::size_t> decide_all();  // the number of denials, each reported
    Result<void> check_sizes() const;
    Result<void> open_files();
    Result<void> open_channels();
    void link(Vm& from, Vm& to, std::uint32_t port, UniqueFd from_end, UniqueFd to_end);
    // networks.cpp
    Result<void> open_networks();
    Result<void> open_bridge(const policy::NetworkSpec& net, const std::string& bridge);
    Result<void> record_interface(const char* kind, const std::string& name);
    Result<void> remove_leftovers();
    void close_networks();
    // pumps.cpp
    Result<void> start_pumps();
    bool on_pump_exit(pid_t pid, int status);
    void stop_pumps();
    Result<void> listen_control();
    Result<void> spawn(Vm& v);
    pid_t fork_vm_process(const Vm& v, int their_sock);
    void loop();
    void on_child_exit(pid_t pid, int status, const rusage& usage);
    void on_vm_report(std::uint32_t index);
    void on_refused_connection(const Vm& v, const protocol::Report& r);
    void on_device_fault(const Vm& v, const protocol::Report& r);
    void on_accept();
    void on_client(std::uint32_t id);
    void handle_request(Client& c, const Request& r);
    void reply(Client& c, const std::string& json);
    std::string ls_reply() const;
    void stop_vm(Vm& v);
    void enforce_stops();
    void begin_down(const char* why);
    bool watch(int fd, std::uint64_t t);

    const policy::Manifest& m_manifest;
    const SystemOptions& m_options;
    UniqueFd m_state;
    std::optional<AuditLog> m_audit;
    UniqueFd m_kvm, m_null, m_listen, m_sig, m_ep;
    std::string m_socket_path;
    std::vector<Vm> m_vms;
    std::vector<PumpProcess> m_pumps;
    std::optional<Rtnl> m_rtnl;               // with networks only
    std::vector<std::string> m_bridges_made;  // removed at the end
    std::map<std::uint32_t, Client> m_clients;
    std::uint32_t m_next_client = 0;
    bool m_down = false;
    bool m_audit_failed = false;
    std::string m_down_reason;
};

}  // namespace moat::monitor
