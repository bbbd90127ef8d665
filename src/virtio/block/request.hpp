// virtio-blk request parsing (virtio 1.2 §5.2.6): a descriptor chain in, a validated Request out.
//
// Framing (documented choice; §2.6.4 lets a device require none, but moat keeps the parser
// small): the first descriptor is device-readable and exactly 16 bytes, the header; the last
// descriptor is device-writable with at least one byte, and the status goes to its first byte;
// the descriptors between are the data buffers (IN and GET_ID: device-writable, OUT:
// device-readable). At most `seg_max` data descriptors.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "base/result.hpp"
#include "memory/guest_memory.hpp"
#include "virtio/queue.hpp"

namespace moat::virtio::block {

enum class RequestType : std::uint8_t { In, Out, Flush, GetId, Unsupported };

// One data buffer, checked to lie inside guest memory at parse time.
struct Segment {
    memory::GuestAddress addr;
    std::uint32_t len;
};

struct Request {
    struct Limits {
        std::uint64_t capacity_sectors;  // the disk size in 512-byte sectors
        std::uint32_t seg_max;           // most data descriptors accepted
    };

    RequestType type = RequestType::Unsupported;
    std::uint32_t raw_type = 0;  // the header's type field, for logs
    std::uint64_t sector = 0;    // IN/OUT: first sector; in range with the data (checked)
    std::vector<Segment> data;   // empty when `rejected` is set
    std::uint64_t data_len = 0;  // sum of data lengths (< 2^32)
    memory::GuestAddress status{0};  // one device-writable byte inside guest memory
    // Well-formed, but answered with this status without touching the disk:
    // VIRTIO_BLK_S_UNSUPP for unknown types, VIRTIO_BLK_S_IOERR for a data length that is not
    // a multiple of 512, an out-of-range or overflowing sector range, or a buffer in the wrong
    // direction.
    std::optional<std::uint8_t> rejected;

    // Walks the whole chain (each descriptor copied once) and reads the header once. Fails with
    // Errc::GuestFault when the chain is malformed or has no usable header or status byte; such
    // a request is returned to the driver unanswered (used length 0).
    static Result<Request> parse(const memory::GuestMemory& mem, DescriptorChain& chain, const Limits& limits);
};

}  // namespace moat::virtio::block
