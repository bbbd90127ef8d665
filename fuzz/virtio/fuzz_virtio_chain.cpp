// Fuzzes the split-virtqueue setup checks and the descriptor chain walker over arbitrary guest
// memory. Input: u16 size, u16 desc, u16 avail, u16 used, u8 features, then guest memory bytes.
#include <cstddef>
#include <cstdint>

#include "fuzz_common.hpp"
#include "virtio/queue.hpp"

using namespace moat;
using namespace moat::virtio;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    fuzz::Input in(data, size);
    QueueConfig cfg;
    cfg.size = in.take<std::uint16_t>();
    cfg.desc_table = memory::GuestAddress(in.take<std::uint16_t>());
    cfg.avail_ring = memory::GuestAddress(in.take<std::uint16_t>());
    cfg.used_ring = memory::GuestAddress(in.take<std::uint16_t>());
    const auto fbits = in.take<std::uint8_t>();
    std::uint64_t features = 0;
    if (fbits & 1) features |= feature_bit(VIRTIO_RING_F_EVENT_IDX);
    if (fbits & 2) features |= feature_bit(VIRTIO_RING_F_INDIRECT_DESC);
    fuzz::fill_memory(in.rest());

    auto q = Queue::create(fuzz::guest_memory(), cfg, 256, features);
    if (!q) return 0;
    // At most two rings' worth of chains; each walk is bounded by the chain's own limits.
    for (int i = 0; i < 2 * q->size(); ++i) {
        auto popped = q->pop();
        if (!popped || !*popped) break;
        DescriptorChain chain = std::move(**popped);
        std::uint64_t total = 0;
        std::uint64_t hops = 0;
        for (;;) {
            auto d = chain.next();
            if (!d || !*d) break;
            total += (*d)->len;
            // Invariants the walker promises.
            if (total > (std::uint64_t{1} << 32) || ++hops > q->size() + fuzz::k_mem_size / 16) __builtin_trap();
        }
        if (!q->add_used(chain.head_index(), static_cast<std::uint32_t>(total))) __builtin_trap();
        (void)q->needs_notification();
    }
    return 0;
}
