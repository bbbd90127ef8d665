// vsock packet headers as values: decoded once from the guest's bytes, checked, and encoded for
// the packets the device sends (virtio 1.2 §5.10.6).
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "virtio/vsock/spec.hpp"

namespace moat::virtio::vsock {

// The largest payload one packet carries either way: Linux's VIRTIO_VSOCK_MAX_PKT_BUF_SIZE.
inline constexpr std::uint32_t k_max_payload = 64 * 1024;

struct Header {
    std::uint64_t src_cid = 0;
    std::uint64_t dst_cid = 0;
    std::uint32_t src_port = 0;
    std::uint32_t dst_port = 0;
    std::uint32_t len = 0;
    std::uint16_t type = VIRTIO_VSOCK_TYPE_STREAM;
    std::uint16_t op = VIRTIO_VSOCK_OP_INVALID;
    std::uint32_t flags = 0;
    std::uint32_t buf_alloc = 0;
    std::uint32_t fwd_cnt = 0;
};

Header decode(const VsockHdr& raw);
VsockHdr encode(const Header& h);

// What the device does with a packet the guest put on the transmit queue.
enum class Verdict : std::uint8_t {
    Accept,  // well-formed: handle `op`
    Reset,   // answer with RST (unknown type or operation, as §5.10.6.4 asks)
    Drop,    // ignore it and count it: no answer is owed (a forged source, an RST, a bad length)
};

struct Check {
    Verdict verdict;
    std::string_view why;  // for Reset and Drop: what was wrong, for the log
};

// Checks a header from a guest whose CID is `guest_cid`, given `payload` bytes readable after
// it in the chain: the source must be the guest itself, the destination a CID the guest may
// address (not itself, not a reserved one but the host's), `len` at most k_max_payload and
// present in the chain (RW carries bytes, nothing else does), and the type and op known.
Check check_from_guest(const Header& h, std::uint64_t guest_cid, std::uint64_t payload);

}  // namespace moat::virtio::vsock
