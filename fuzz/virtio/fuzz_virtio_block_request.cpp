// Fuzzes virtio-blk request parsing and execution: chains from arbitrary guest memory go
// through BlockDevice (Request::parse, then I/O on an in-memory disk). Input: u8 queue-size
// exponent, u8 features, u8 access, then guest memory bytes (the first two of them also pick the
// order of notifications and polls, and the driver's pace). Rings sit at fixed addresses so the
// fuzzer spends its time on descriptors and headers.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "fuzz_common.hpp"
#include "virtio/block/block_device.hpp"
#include "virtio/block/request.hpp"

using namespace moat;
using namespace moat::virtio;

namespace {

// Polls are granted (and then driven by the fuzzer below), so the batching path runs too.
class NullNotifier final : public DriverNotifier {
public:
    void notify_used() override {}
    void notify_config_change() override {}
    void device_needs_reset() override {}
    void guest_fault() override {}
    bool poll_later(std::uint32_t, std::chrono::microseconds) override { return true; }
};

// The driver's pace as the probe sees it: a clock the input advances.
struct InputClock {
    static inline std::chrono::steady_clock::time_point now{};
    static std::chrono::steady_clock::time_point read() { return now; }
};

// Batching from the first request, so an input reaches the probe and the windows.
constexpr block::Batching k_eager{1, std::chrono::microseconds(500), std::chrono::microseconds(2000), 1, 2,
                                  std::chrono::microseconds(50), 2, &InputClock::read};

std::unique_ptr<block::BlockDevice> make_device(DiskAccess access)
{
    base::UniqueFd fd(::dup(fuzz::disk_fd()));
    auto d = block::BlockDevice::create(std::move(fd), access, "fuzz", block::ReadOnlyWrites::Announced, k_eager);
    if (!d) __builtin_trap();
    return std::move(d).value();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    static auto rw = make_device(DiskAccess::ReadWrite);
    static auto ro = make_device(DiskAccess::ReadOnly);
    static NullNotifier notifier;

    fuzz::Input in(data, size);
    const auto size_exp = in.take<std::uint8_t>();
    const auto fbits = in.take<std::uint8_t>();
    const auto access = in.take<std::uint8_t>();
    fuzz::fill_memory(in.rest());

    // desc at 0x0, avail at 0x1000, used at 0x2000: room for 256 entries each.
    const QueueConfig cfg{1u << (size_exp % 9), memory::GuestAddress(0), memory::GuestAddress(0x1000),
                          memory::GuestAddress(0x2000)};
    std::uint64_t features = feature_bit(VIRTIO_F_VERSION_1);
    if (fbits & 1) features |= feature_bit(VIRTIO_RING_F_EVENT_IDX);
    if (fbits & 2) features |= feature_bit(VIRTIO_RING_F_INDIRECT_DESC);

    // The pure parser on its own, with a small seg_max so that limit is reached too.
    {
        auto q = Queue::create(fuzz::guest_memory(), cfg, 256, features);
        if (!q) __builtin_trap();
        for (int i = 0; i < q->size(); ++i) {
            auto popped = q->pop();
            if (!popped || !*popped) break;
            auto req = block::Request::parse(fuzz::guest_memory(), **popped, block::Request::Limits{64, 4});
            if (req && !req->rejected && (req->type == block::RequestType::In || req->type == block::RequestType::Out)) {
                if (req->data_len % 512 != 0 || req->sector + req->data_len / 512 > 64) __builtin_trap();
            }
        }
    }
    // The whole device path on a fresh queue over the same memory.
    fuzz::fill_memory(in.rest());
    block::BlockDevice& dev = (access & 1) ? *ro : *rw;
    auto q = Queue::create(fuzz::guest_memory(), cfg, 256, features);
    if (!q) __builtin_trap();
    std::vector<std::optional<Queue>> queues;
    queues.push_back(std::move(*q));
    if (!dev.activate(ActivateContext{fuzz::guest_memory(), features, std::move(queues), notifier})) __builtin_trap();
    // Notifications and polls in an order the input picks (the ring's indices come from it too).
    const auto order = in.take<std::uint8_t>();
    const auto pace = in.take<std::uint8_t>();
    for (int i = 0; i < 4; ++i) {
        InputClock::now += std::chrono::microseconds(std::uint64_t{pace} << (4 * (i % 3)));  // up to ~1 s
        if (order & (1u << i)) dev.poll_queue(0);
        else dev.process_queue(0);
    }
    dev.reset();
    return 0;
}
