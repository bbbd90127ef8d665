#include "virtio/chain_io.hpp"

#include <algorithm>

namespace moat::virtio {

Result<ChainBuffers> collect(DescriptorChain& chain, bool device_writable, std::size_t max_descs)
{
    ChainBuffers b;
    b.head = chain.head_index();
    for (;;) {
        auto d = MOAT_TRY(chain.next());
        if (!d) break;
        if (d->is_write_only() != device_writable) return fail(Errc::GuestFault, "descriptor of the wrong direction");
        if (b.descs.size() == max_descs) return fail(Errc::GuestFault, "too many descriptors in one chain");
        b.descs.push_back(*d);
    }
    b.total = chain.total_len();
    return b;
}

namespace {

// Calls f(address, length, position in the range) for each piece of [off, off + len).
template <typename F>
Result<void> for_range(const ChainBuffers& b, std::uint64_t off, std::uint64_t len, F&& f)
{
    if (off > b.total || len > b.total - off) return fail(Errc::OutOfRange, "range passes the chain's end");
    std::uint64_t done = 0;
    for (const Descriptor& d : b.descs) {
        if (done == len) break;
        if (off >= d.len) {
            off -= d.len;
            continue;
        }
        const std::uint64_t n = std::min<std::uint64_t>(d.len - off, len - done);
        auto at = d.addr.checked_add(off);
        if (!at) return fail(Errc::GuestFault, "buffer address overflows");
        MOAT_TRY(f(*at, n, done));
        done += n;
        off = 0;
    }
    return {};
}

}  // namespace

Result<void> copy_from_chain(const memory::GuestMemory& mem, const ChainBuffers& b, std::uint64_t off,
                             std::span<std::byte> out)
{
    return for_range(b, off, out.size(), [&](memory::GuestAddress at, std::uint64_t n, std::uint64_t pos) {
        return mem.read(at, out.subspan(pos, n));
    });
}

Result<void> copy_to_chain(const memory::GuestMemory& mem, const ChainBuffers& b, std::uint64_t off,
                           std::span<const std::byte> in)
{
    return for_range(b, off, in.size(), [&](memory::GuestAddress at, std::uint64_t n, std::uint64_t pos) {
        return mem.write(at, in.subspan(pos, n));
    });
}

Result<std::vector<iovec>> chain_iovecs(const memory::GuestMemory& mem, const ChainBuffers& b, std::uint64_t off,
                                        std::uint64_t len)
{
    std::vector<iovec> iov;
    auto r = for_range(b, off, len, [&](memory::GuestAddress at, std::uint64_t n, std::uint64_t) -> Result<void> {
        auto s = MOAT_TRY(mem.slice(at, n));
        iov.push_back(s.as_iovec());
        return {};
    });
    if (!r) return fail(r.error());
    return iov;
}

}  // namespace moat::virtio
