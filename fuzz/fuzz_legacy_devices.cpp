// The guest's port I/O on moat's legacy devices (src/devices/): the 16550A UART, the i8042 and
// the ACPI sleep registers, driven by any sequence of reads and writes of any width at any
// offset, with host input arriving in between. Each device must answer every access without
// reading or writing outside its registers (ASan, UBSan), and the UART takes no more host
// input than its receive FIFO holds.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "base/check.hpp"
#include "devices/i8042.hpp"
#include "devices/serial.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    using namespace moat::devices;
    std::size_t sent = 0, resets = 0, poweroffs = 0;
    Serial serial([&](std::uint8_t) { ++sent; }, [] {});
    I8042 i8042([&] { ++resets; });
    AcpiSleep sleep(5, [&] { ++poweroffs; });
    BusDevice* devices[] = {&serial, &i8042, &sleep};
    // Each step: [device/op/width] [offset] [value...].
    for (std::size_t i = 0; i + 2 <= size;) {
        const std::uint8_t op = data[i], offset = data[i + 1];
        i += 2;
        const std::size_t width = std::size_t{1} << ((op >> 3) & 3);  // 1, 2, 4, 8 bytes
        BusDevice& d = *devices[(op & 3) % 3];
        std::vector<std::byte> buf(width, std::byte{0xa5});
        if (op & 0x80) {  // host input for the UART
            const std::size_t n = std::min<std::size_t>(offset, size - i);
            const std::size_t took = serial.enqueue_input(std::span(data + i, n));
            MOAT_CHECK(took <= n && took <= Serial::k_rx_capacity);
            i += n;
        } else if (op & 0x04) {
            for (std::size_t b = 0; b < width && i < size; ++b) buf[b] = std::byte{data[i++]};
            d.write(offset % 8, buf);
        } else {
            d.read(offset % 8, buf);
        }
    }
    (void)resets;
    (void)poweroffs;
    (void)sent;
    return 0;
}
