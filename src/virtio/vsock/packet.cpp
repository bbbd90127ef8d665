#include "virtio/vsock/packet.hpp"

namespace moat::virtio::vsock {

Header decode(const VsockHdr& raw)
{
    return Header{
        .src_cid = raw.src_cid.get(),
        .dst_cid = raw.dst_cid.get(),
        .src_port = raw.src_port.get(),
        .dst_port = raw.dst_port.get(),
        .len = raw.len.get(),
        .type = raw.type.get(),
        .op = raw.op.get(),
        .flags = raw.flags.get(),
        .buf_alloc = raw.buf_alloc.get(),
        .fwd_cnt = raw.fwd_cnt.get(),
    };
}

VsockHdr encode(const Header& h)
{
    VsockHdr raw{};
    raw.src_cid.set(h.src_cid);
    raw.dst_cid.set(h.dst_cid);
    raw.src_port.set(h.src_port);
    raw.dst_port.set(h.dst_port);
    raw.len.set(h.len);
    raw.type.set(h.type);
    raw.op.set(h.op);
    raw.flags.set(h.flags);
    raw.buf_alloc.set(h.buf_alloc);
    raw.fwd_cnt.set(h.fwd_cnt);
    return raw;
}

Check check_from_guest(const Header& h, std::uint64_t guest_cid, std::uint64_t payload)
{
    if (h.src_cid != guest_cid) return {Verdict::Drop, "source CID is not the guest's"};
    if (h.dst_cid == guest_cid) return {Verdict::Drop, "destination is the guest itself"};
    if (h.dst_cid > k_max_cid) return {Verdict::Drop, "destination CID uses the reserved upper bits"};
    if (h.dst_cid < k_first_guest_cid && h.dst_cid != VMADDR_CID_HOST) return {Verdict::Drop, "reserved destination CID"};
    if (h.op == VIRTIO_VSOCK_OP_RST) {
        // Never answer an RST, whatever else is wrong with it.
        return h.len == 0 ? Check{Verdict::Accept, {}} : Check{Verdict::Drop, "RST with a payload"};
    }
    if (h.op == VIRTIO_VSOCK_OP_RW) {
        if (h.len == 0) return {Verdict::Drop, "RW without a payload"};
        if (h.len > k_max_payload) return {Verdict::Reset, "payload over 64 KiB"};
        if (h.len > payload) return {Verdict::Reset, "len beyond the chain's buffers"};
    } else if (h.len != 0) {
        return {Verdict::Reset, "payload on a control packet"};
    }
    if (h.type != VIRTIO_VSOCK_TYPE_STREAM) return {Verdict::Reset, "socket type other than stream"};
    if (h.op == VIRTIO_VSOCK_OP_INVALID || h.op > VIRTIO_VSOCK_OP_CREDIT_REQUEST) return {Verdict::Reset, "unknown operation"};
    return {Verdict::Accept, {}};
}

}  // namespace moat::virtio::vsock
