// The first message a VM process (`moat-vmm`) receives, over the SOCK_SEQPACKET socket on its
// fd 3, with SCM_RIGHTS: what to build, as "key value" lines. Its descriptors come in this
// order: /dev/kvm, kernel, initrd (if `initrd`), one per disk, then, for a VM of a system, its
// console output and console log. The monitor (`moat up`) or `moat run` encodes it; the VM
// process decodes it (it trusts its sender, but still checks what it relies on). report.hpp is
// the other direction of the same socket.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"

namespace moat::vmm {

struct VmLaunch {
    std::string name;  // the VM's name in a system; "" for `moat run`
    std::string cmdline;
    std::uint64_t memory = 0;
    std::uint32_t cpus = 1;
    bool initrd = false;
    std::vector<bool> disk_writable;
    // `moat run`: the console is the process's stdin/stdout, read-only disks are announced to
    // the guest (VIRTIO_BLK_F_RO), and no monitor listens on the socket. Otherwise a VM of a
    // system: the console goes to the two descriptors passed, read-only disks are not announced
    // (every write attempt is reported), and the socket stays open to the monitor.
    bool standalone = false;
    bool verbose = false;  // log at debug level
    // How messages name an input at fault, keyed as Machine::build reports it ("kernel",
    // "initrd", "memory", "disk N"): e.g. "--kernel 'bzImage'". Missing keys print as the key.
    std::map<std::string, std::string> input_names;
};

inline constexpr std::size_t kMaxLaunchInputNames = 64;

// Where a VM process finds its launch socket (which stays its socket to the monitor).
inline constexpr int kLaunchFd = 3;

// Puts `fd` at kLaunchFd, kept across exec, and closes every descriptor above it, so that the
// program exec'd next holds only stdio and what the launch message hands it. Async-signal-safe
// (the monitor calls it between fork and exec). False when the descriptor could not be moved.
bool install_launch_socket(int fd);

// The command line is the last field and runs to the message's final newline, so it may hold
// any byte; an input name's newlines are sent as '?' (they only appear in messages).
std::string encode_launch(const VmLaunch& l);
Result<VmLaunch> decode_launch(std::string_view text);

// The number of descriptors a launch message must carry.
std::size_t launch_fd_count(const VmLaunch& l);

// Why opening /dev/kvm (a launch's first descriptor) failed with `err`, as one line that names
// the fix; `moat run` and the monitor open it only once every other input is known good.
std::string dev_kvm_error(int err);

}  // namespace moat::vmm
