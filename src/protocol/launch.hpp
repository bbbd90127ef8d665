// The first message a VM process (`moat-vmm`) receives, over the SOCK_SEQPACKET socket on its
// fd 3, with SCM_RIGHTS: what to build, as "key value" lines, and the descriptors to build it
// from. `moat run` and the monitor (`moat up`) both send it with send_launch, which puts the
// descriptors in the order the message implies; the VM process takes it apart with
// receive_launch (launch_receive.hpp; it trusts its sender, but still checks what it relies
// on). report.hpp is
// the other direction of the same socket.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/disk_access.hpp"
#include "base/net_address.hpp"
#include "base/result.hpp"
#include "base/unique_fd.hpp"
#include "protocol/limits.hpp"

namespace moat::protocol {

// Who a VM process answers to.
enum class Supervision : std::uint8_t {
    // `moat run`: the console is the process's stdin/stdout, read-only disks are announced to
    // the guest (VIRTIO_BLK_F_RO), and nobody listens on the socket.
    Standalone,
    // A VM of a system: the console goes to the two descriptors passed, read-only disks are
    // not announced (every write attempt is refused and reported), and the socket stays open
    // to the monitor.
    Monitored,
};

// One end of a channel's link (protocol/vsock_link.hpp): through an outgoing one this VM's guest
// may connect to `port` of the VM with `peer_cid`; through an incoming one that VM's guest may
// connect to this guest's `port`.
struct ChannelEnd {
    bool outgoing = true;
    std::uint64_t peer_cid = 0;  // check_cid
    std::uint32_t port = 0;
    bool operator==(const ChannelEnd&) const = default;
};
inline constexpr std::size_t k_max_launch_channels = 256;

struct VmLaunch {
    std::string name;  // the VM's name in a system; "" for `moat run`
    std::string cmdline;
    std::uint64_t memory = 0;  // bytes: check_memory, whole pages
    std::uint32_t cpus = 1;    // check_cpus
    std::vector<DiskAccess> disks;
    Supervision supervision = Supervision::Monitored;
    bool verbose = false;  // log at debug level
    // Monitored only: what the console may write to console_out and console_log (LaunchFds),
    // 0 for no bound; at most k_max_console_budget.
    std::uint64_t console_budget = k_console_budget;
    // The VM process jails itself (src/jail/jail.hpp) unless told not to (`--no-jail`, for
    // debugging only); jailed as root, its uid and gid are uid_base + its pid.
    bool jail = true;
    std::uint32_t uid_base = k_default_uid_base;  // check_uid_base
    // A virtio-vsock device with this CID (check_cid), or none when 0. Its host sockets come as
    // descriptors (LaunchFds): a listener for host programs, a connector for the guest's own
    // connections (protocol/host_connect.hpp).
    std::uint64_t vsock_cid = 0;
    std::vector<ChannelEnd> channels;  // with a vsock CID only; each with its link (LaunchFds)
    // One virtio-net device per entry, with this MAC (base::check_mac), on its tap (LaunchFds).
    std::vector<base::Mac> nets;
    // An OCI container's VM (moat-oci; docs/oci.md, "Channels"): Standalone, with three more
    // serial ports (control lines, the workload's stderr, the kernel's console) and two more
    // descriptors (LaunchFds::ready, ::start); stop signals go to the guest as control lines.
    bool container = false;
    // How messages name an input at fault, keyed as the VM process reports it ("kernel",
    // "initrd", "memory", "disk N"): e.g. "--kernel 'bzImage'". Missing keys print as the key.
    std::map<std::string, std::string> input_names;
};

inline constexpr std::size_t k_max_launch_input_names = 64;

// The descriptors that go with a launch, borrowed from the sender (it keeps its own copies).
struct LaunchFds {
    int kvm = -1;
    int kernel = -1;
    int initrd = -1;         // -1: no initrd
    std::vector<int> disks;  // one per VmLaunch::disks, opened as its DiskAccess says
    int console_out = -1;    // Monitored only: the console's output and its log file
    int console_log = -1;
    int vsock_listener = -1;   // optional, with a vsock CID only
    int vsock_connector = -1;  // likewise
    std::vector<int> channels{};  // one link per VmLaunch::channels entry
    std::vector<int> taps{};      // one per VmLaunch::nets entry (virtio/net/tap.hpp's open_tap)
    // A container only: where the VM process says "ready" (or "error CODE MESSAGE") once, and
    // where a byte means "start the workload" (moat-oci start writes it).
    int ready = -1;
    int start = -1;
};

// Checks the launch (limits, one descriptor per disk, console descriptors exactly when
// Monitored; Errc::InvalidInput naming what is wrong), then sends the message and its
// descriptors as one SCM_RIGHTS message.
Result<void> send_launch(int sock, const VmLaunch& l, const LaunchFds& fds);

// Where a VM process finds its launch socket (which stays its socket to the monitor).
inline constexpr int k_launch_fd = 3;

// Puts `fd` at k_launch_fd, kept across exec, and closes every descriptor above it, so that the
// program exec'd next holds only stdio and what the launch message hands it. Async-signal-safe
// (the monitor calls it between fork and exec). False when the descriptor could not be moved.
bool install_launch_socket(int fd);

// The wire form ("vsock CID L C": L and C say whether a listener and a connector follow;
// "channel out|in CID PORT" for each channel end, whose link follows them; "net MAC" for each
// network interface, whose tap follows the links; "container 1", whose ready and start
// descriptors come last). The command line is the last field and runs to the message's final newline,
// so it may hold any byte; an input name's newlines are sent as '?' (they only appear in
// messages). `initrd` says whether an initrd descriptor follows the kernel's. The receiving
// side (decode_launch, receive_launch) is in launch_receive.hpp: the monitor only sends.
std::string encode_launch(const VmLaunch& l, bool initrd, bool listener = false, bool connector = false);

// Becomes the VM process: queues the launch and its descriptors on a socketpair, puts the
// receiving end on fd 3 and execs moat-vmm (beside this program) in this process's place (same
// pid, terminal and signals), so that the running VM maps only the VMM's code. Returns only when
// that failed, with why (`moat run`, `moat-oci create`).
std::string exec_vm(const VmLaunch& l, const LaunchFds& fds);

// Why opening /dev/kvm (a launch's first descriptor) failed with `err`, as one line that names
// the fix; `moat run` and the monitor open it only once every other input is known good.
std::string dev_kvm_error(int err);

}  // namespace moat::protocol
