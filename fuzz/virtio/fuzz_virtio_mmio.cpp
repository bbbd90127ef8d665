// Fuzzes the virtio-mmio register interface with a virtio-blk device behind it: a sequence of
// register reads/writes and event-thread notifies. Input: u16 n, n bytes of guest memory, then
// 8-byte operations {u8 op, u8 width, u16 offset, u32 value}.
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "fuzz_common.hpp"
#include "virtio/block/block_device.hpp"
#include "virtio/mmio.hpp"

using namespace moat;
using namespace moat::virtio;

namespace {

class NullIrq final : public InterruptLine {
public:
    void trigger() override {}
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    fuzz::Input in(data, size);
    const auto mem_len = std::min<std::size_t>(in.take<std::uint16_t>(), in.rest().size());
    fuzz::fill_memory(in.rest().first(mem_len));
    fuzz::Input ops(in.rest().data() + mem_len, in.rest().size() - mem_len);

    auto dev = block::BlockDevice::create(base::UniqueFd(::dup(fuzz::disk_fd())), DiskAccess::ReadWrite, "fuzz");
    if (!dev) __builtin_trap();
    NullIrq irq;
    MmioTransport t(fuzz::guest_memory(), std::move(dev).value(), irq);

    // Bounded by the input: each operation consumes 8 bytes.
    while (!ops.empty()) {
        const auto op = ops.take<std::uint8_t>();
        static constexpr std::size_t k_widths[] = {4, 1, 2, 8, 4, 4, 3, 0};
        const std::size_t width = k_widths[ops.take<std::uint8_t>() % 8];
        const std::uint64_t offset = ops.take<std::uint16_t>() % mmio::k_window_size;
        const auto value = ops.take<std::uint32_t>();
        std::array<std::byte, 8> buf{};
        std::memcpy(buf.data(), &value, sizeof value);
        switch (op % 3) {
        case 0: t.read(offset, std::span(buf).first(width)); break;
        case 1: t.write(offset, std::span<const std::byte>(buf).first(width)); break;
        case 2: t.notify(value % 4); break;
        }
    }
    return 0;
}
