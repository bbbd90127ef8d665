// The buffers of one descriptor chain, collected once, and byte-level access across them:
// copies for small headers, iovecs for payloads moved straight between guest memory and a host
// descriptor. For devices whose packets span descriptors at arbitrary boundaries (vsock).
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "base/result.hpp"
#include "memory/guest_memory.hpp"
#include "virtio/queue.hpp"

namespace moat::virtio {

struct ChainBuffers {
    std::uint16_t head = 0;
    std::vector<Descriptor> descs;  // all device-readable, or all device-writable
    std::uint64_t total = 0;        // sum of their lengths
};

// Walks `chain` to its end. Fails with Errc::GuestFault when a descriptor has the other
// direction, when there are more than `max_descs`, or when the chain itself is bad.
Result<ChainBuffers> collect(DescriptorChain& chain, bool device_writable, std::size_t max_descs);

// Copies bytes [off, off + out.size()) of the chain out, or `in` into the chain at `off`.
// Errc::OutOfRange when the range passes the chain's end.
Result<void> copy_from_chain(const memory::GuestMemory& mem, const ChainBuffers& b, std::uint64_t off,
                             std::span<std::byte> out);
Result<void> copy_to_chain(const memory::GuestMemory& mem, const ChainBuffers& b, std::uint64_t off,
                           std::span<const std::byte> in);

// iovecs covering bytes [off, off + len) of the chain (the range must lie inside it), for
// readv/writev on a host descriptor. Valid while guest memory is mapped.
Result<std::vector<iovec>> chain_iovecs(const memory::GuestMemory& mem, const ChainBuffers& b, std::uint64_t off,
                                        std::uint64_t len);

}  // namespace moat::virtio
