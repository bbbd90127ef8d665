// One virtual machine: builds it from already-open descriptors, runs its vCPU threads and
// its device event loop, and reports how it ended.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/disk_access.hpp"
#include "base/result.hpp"
#include "base/unique_fd.hpp"
#include "jail/seccomp.hpp"
#include "virtio/block/block_device.hpp"
#include "base/net_address.hpp"
#include "virtio/vsock/vsock_device.hpp"

namespace moat::vmm {

struct DiskConfig {
    base::UniqueFd file;  // opened O_RDONLY or O_RDWR to match `access`
    DiskAccess access;
    std::string id;       // what VIRTIO_BLK_T_GET_ID returns (at most 20 bytes used)
    // What a read-only disk tells the guest: announced (VIRTIO_BLK_F_RO, `moat run`), or not,
    // so that the guest's writes reach the device, fail there with an I/O error, and are
    // reported to the monitor (how systems attach read-only volumes).
    virtio::block::ReadOnlyWrites read_only = virtio::block::ReadOnlyWrites::Announced;
};

// Everything a VM is built from. Every file arrives as a descriptor: the VMM opens no path.
struct VmConfig {
    base::UniqueFd kvm;      // /dev/kvm
    base::UniqueFd kernel;   // bzImage or ELF64
    base::UniqueFd initrd;   // optional
    std::string cmdline;
    std::uint64_t mem_bytes = 0;
    std::uint32_t vcpus = 1;
    std::vector<DiskConfig> disks;
    int console_in = -1;     // serial input source, or -1 for none (not owned)
    int console_out = 1;     // serial output sink, or -1 for none (not owned)
    bool console_escape = false;  // Ctrl-A x on console_in stops the VM (interactive use)
    std::string console_prefix;   // if set, console_out gets whole lines behind it ("web | ")
    int console_log = -1;    // a copy of the serial output, or -1 (not owned)
    std::uint64_t console_budget = 0;  // bytes console_out and console_log may get; 0: no bound
    // The socket to the monitor (not owned), or -1 when the VM runs alone: the monitor sends
    // console clients to attach over it, and the VM reports runtime denials (protocol/report.hpp).
    int monitor = -1;
    // A virtio-vsock device with this guest CID, or none when 0. Host programs reach it through
    // `vsock_listener` (optional); the guest reaches host listeners through `vsock_connector`
    // (optional; protocol/host_connect.hpp). Without a connector every guest connection is refused.
    std::uint64_t vsock_cid = 0;
    base::UniqueFd vsock_listener;
    base::UniqueFd vsock_connector;
    std::vector<virtio::vsock::VsockDevice::Link> vsock_links;  // the VM's channels
    // One virtio-net device per entry: a tap (virtio/net/tap.hpp's open_tap) and the MAC.
    struct Net {
        base::UniqueFd tap;
        base::Mac mac{};
    };
    std::vector<Net> nets;
    // An OCI container's VM (vmm/container.hpp): three more serial ports (COM2 control lines,
    // COM3 the workload's stderr, COM4 the kernel's console), `ready` and `start` (LaunchFds).
    bool container = false;
    base::UniqueFd ready;
    base::UniqueFd start;
    int console_err = 2;           // COM3's output (not owned)
    bool kernel_console = false;   // COM4's output to console_err too (`-v`), else dropped
    // A jailed process's seccomp filters (src/jail/jail.hpp): its threads install them, and the
    // process sets its last limits (jail::seal_limits), before the guest's first instruction.
    std::optional<jail::Filter> vcpu_filter;
    std::optional<jail::Filter> vmm_filter;
};

enum class ExitReason {
    PowerOff,       // ACPI S5
    Reset,          // i8042 reset (reboot=k)
    TripleFault,    // KVM_EXIT_SHUTDOWN
    InternalError,  // KVM could not run the guest (emulation failure, failed entry, ...)
    Signal,         // SIGINT/SIGTERM to the VMM
    UserQuit,       // Ctrl-A x on an interactive console
    HostError,      // a host system call failed while running
};

struct VmExit {
    ExitReason reason;
    int signal = 0;      // for Signal
    std::string detail;  // for TripleFault, InternalError and HostError: what happened
    // A container's VM: the status the VM process ends with (ContainerLink::status), else -1.
    int container_status = -1;
};

const char* to_string(ExitReason r);

// A built VM, ready to run. Not copyable; run() may be called once.
class Machine final {
public:
    // Builds a VM; fails with the first error (bad kernel, too little memory, KVM refusal...),
    // whose context starts with the input at fault: "kernel", "initrd", "memory", "disk N"
    // (empty when it was none of them).
    static Result<Machine> build(VmConfig config);
    // Runs the VM to its end: the calling thread becomes the device event loop, and each vCPU
    // gets a thread of its own. Returns after every vCPU thread has been joined.
    VmExit run();

    Machine(Machine&&) noexcept;
    Machine& operator=(Machine&&) noexcept;
    ~Machine();

    struct State;  // machine_state.hpp

private:
    explicit Machine(std::unique_ptr<State> s);
    std::unique_ptr<State> m_state;
};

}  // namespace moat::vmm
