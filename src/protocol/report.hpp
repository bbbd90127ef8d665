// Messages between the monitor and a VM process over their socketpair (SOCK_SEQPACKET). Fixed
// size and fixed layout, so the monitor reads what an untrusted VM process sends without
// parsing: a message is exactly one Report, every field range-checked by the receiver.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace moat::protocol {

enum class ReportKind : std::uint32_t {
    AttachConsole = 1,      // monitor -> VM: one descriptor, a console client's socket
    DeniedWrite = 2,        // VM -> monitor: `count` guest writes to read-only disk `item` refused
    RefusedConnection = 3,  // VM -> monitor: `count` guest vsock connections without a channel
                            // refused, the last to (`cid`, port `item`)
    ConsoleDropped = 4,     // VM -> monitor: `count` bytes of console output dropped past the
                            // VM process's console budget (vmm/console.hpp)
    DeviceFault = 5,        // VM -> monitor: `count` guest faults (virtio::DriverNotifier::
                            // guest_fault) on virtio device `cid` (its slot), of device ID `item`
};

struct Report {
    std::uint32_t kind;   // ReportKind
    std::uint32_t item;   // DeniedWrite: index into the VM's disks; RefusedConnection: a port;
                          // ConsoleDropped: 0; DeviceFault: a virtio device ID
    std::uint64_t count;  // refusals (dropped bytes) since the last report of this kind
    std::uint64_t cid;    // RefusedConnection: the CID the last refused connection was for;
                          // DeviceFault: the device's slot (0 is the first virtio-mmio window)
};
static_assert(sizeof(Report) == 24 && std::is_standard_layout_v<Report>);

}  // namespace moat::protocol
