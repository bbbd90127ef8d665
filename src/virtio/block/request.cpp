// virtio-blk request parsing: framing, direction and range checks (virtio 1.2 §5.2.6).
#include "virtio/block/request.hpp"

#include "virtio/block/spec.hpp"

namespace moat::virtio::block {

namespace {

RequestType classify(std::uint32_t type)
{
    switch (type) {
    case VIRTIO_BLK_T_IN: return RequestType::In;
    case VIRTIO_BLK_T_OUT: return RequestType::Out;
    case VIRTIO_BLK_T_FLUSH: return RequestType::Flush;
    case VIRTIO_BLK_T_GET_ID: return RequestType::GetId;
    default: return RequestType::Unsupported;
    }
}

// Whether the data buffers point the way the request type needs (§5.2.6.2: IN data is
// device-writable, OUT data device-readable).
bool directions_ok(RequestType type, const std::vector<Descriptor>& data)
{
    for (const auto& d : data) {
        const bool want_writable = type == RequestType::In || type == RequestType::GetId;
        if (d.is_write_only() != want_writable) return false;
    }
    return true;
}

// §5.2.6: whole sectors only, and the range [sector, sector + n) inside the disk.
bool in_range(std::uint64_t sector, std::uint64_t bytes, std::uint64_t capacity_sectors)
{
    std::uint64_t end = 0;
    const bool overflow = __builtin_add_overflow(sector, bytes / k_sector_size, &end);
    return bytes % k_sector_size == 0 && !overflow && end <= capacity_sectors;
}

}  // namespace

Result<Request> Request::parse(const memory::GuestMemory& mem, DescriptorChain& chain, const Limits& limits)
{
    auto first = MOAT_TRY(chain.next());
    if (!first) return fail(Errc::GuestFault, "virtio-blk: empty descriptor chain");
    if (first->is_write_only() || first->len != sizeof(VirtioBlkOutHdr))
        return fail(Errc::GuestFault, "virtio-blk: header descriptor not 16 device-readable bytes");
    // The one read of the header; nothing below looks at guest memory for it again.
    auto hdr_copy = mem.read_obj<VirtioBlkOutHdr>(first->addr);
    if (!hdr_copy) return fail(Errc::GuestFault, "virtio-blk: header outside guest memory");
    const VirtioBlkOutHdr hdr = *hdr_copy;

    // The rest of the chain: data descriptors then the status descriptor. Bounded by seg_max
    // here and by the chain's own hop limits.
    std::vector<Descriptor> rest;
    for (;;) {
        auto d = MOAT_TRY(chain.next());
        if (!d) break;
        if (rest.size() > limits.seg_max) return fail(Errc::GuestFault, "virtio-blk: more than seg_max data buffers");
        rest.push_back(*d);
    }
    if (rest.empty()) return fail(Errc::GuestFault, "virtio-blk: no status descriptor");
    const Descriptor status = rest.back();
    rest.pop_back();
    if (!status.is_write_only() || status.len < 1)
        return fail(Errc::GuestFault, "virtio-blk: status descriptor not device-writable");
    if (!mem.contains(status.addr, 1)) return fail(Errc::GuestFault, "virtio-blk: status byte outside guest memory");

    Request req;
    req.raw_type = hdr.type.get();
    req.type = classify(req.raw_type);
    req.status = status.addr;
    if (req.type == RequestType::Unsupported) {
        req.rejected = VIRTIO_BLK_S_UNSUPP;
        return req;
    }
    if (!directions_ok(req.type, rest) || (req.type == RequestType::Flush && !rest.empty())) {
        req.rejected = VIRTIO_BLK_S_IOERR;
        return req;
    }

    std::uint64_t total = 0;
    for (const auto& d : rest) {
        if (!mem.contains(d.addr, d.len)) return fail(Errc::GuestFault, "virtio-blk: data buffer outside guest memory");
        total += d.len;  // the chain already bounded the total to 2^32
        req.data.push_back(Segment{d.addr, d.len});
    }
    req.data_len = total;

    if (req.type == RequestType::In || req.type == RequestType::Out) {
        req.sector = hdr.sector.get();
        if (!in_range(req.sector, total, limits.capacity_sectors)) {
            req.data.clear();
            req.data_len = 0;
            req.rejected = VIRTIO_BLK_S_IOERR;
        }
    }
    return req;
}

}  // namespace moat::virtio::block
