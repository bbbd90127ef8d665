// i8042 command subset (IBM PS/2 technical reference): controller self-test, command byte
// read/write, output port, interface test, and the 0xfe pulse that resets the CPU.
#include "devices/i8042.hpp"

#include <utility>

namespace moat::devices {

namespace {
constexpr std::uint64_t k_data = 0;
constexpr std::uint64_t k_status = 4;
constexpr std::uint8_t k_sr_obf = 0x01, k_sr_sys = 0x04, k_sr_cmd = 0x08;

constexpr std::uint8_t k_cmd_read_ctr = 0x20;
constexpr std::uint8_t k_cmd_write_ctr = 0x60;
constexpr std::uint8_t k_cmd_self_test = 0xaa;
constexpr std::uint8_t k_cmd_kbd_test = 0xab;
constexpr std::uint8_t k_cmd_kbd_disable = 0xad;
constexpr std::uint8_t k_cmd_kbd_enable = 0xae;
constexpr std::uint8_t k_cmd_read_outp = 0xd0;
constexpr std::uint8_t k_cmd_write_outp = 0xd1;
constexpr std::uint8_t k_cmd_write_kbd_out = 0xd2;
constexpr std::uint8_t k_cmd_pulse_reset = 0xfe;
}  // namespace

I8042::I8042(std::function<void()> reset) : m_reset(std::move(reset)) {}

void I8042::read(std::uint64_t offset, std::span<std::byte> data)
{
    std::uint8_t v = 0xff;
    if (data.size() == 1) {
        std::lock_guard g(m_lock);
        if (offset == k_status) {
            v = static_cast<std::uint8_t>((m_out ? k_sr_obf : 0) | k_sr_sys | (m_last_was_command ? k_sr_cmd : 0));
        } else if (offset == k_data) {
            v = m_out.value_or(0);
            m_out.reset();
        }
    }
    for (auto& b : data) b = static_cast<std::byte>(v);
}

void I8042::write(std::uint64_t offset, std::span<const std::byte> data)
{
    if (data.size() != 1) return;
    bool reset = false;
    {
        std::lock_guard g(m_lock);
        auto v = static_cast<std::uint8_t>(data[0]);
        if (offset == k_status) {
            m_last_was_command = true;
            if (v == k_cmd_pulse_reset) reset = true;
            else command(v);
        } else if (offset == k_data) {
            m_last_was_command = false;
            reset = data_write(v);
        }
    }
    if (reset) m_reset();
}

void I8042::command(std::uint8_t cmd)
{
    switch (cmd) {
    case k_cmd_read_ctr: m_out = m_ctr; break;
    case k_cmd_self_test: m_out = 0x55; break;
    case k_cmd_kbd_test: m_out = 0x00; break;
    case k_cmd_read_outp: m_out = m_outp; break;
    case k_cmd_write_ctr:
    case k_cmd_write_outp:
    case k_cmd_write_kbd_out: m_pending_cmd = cmd; break;
    case k_cmd_kbd_disable: m_ctr |= 0x10; break;
    case k_cmd_kbd_enable: m_ctr = static_cast<std::uint8_t>(m_ctr & ~0x10); break;
    default: break;  // no auxiliary port, no other commands: ignored
    }
}

bool I8042::data_write(std::uint8_t v)
{
    switch (std::exchange(m_pending_cmd, std::uint8_t{0})) {
    case k_cmd_write_ctr: m_ctr = v; break;
    case k_cmd_write_outp:
        m_outp = v;
        return !(v & 0x01);  // bit 0 low holds the CPU in reset
    case k_cmd_write_kbd_out: m_out = v; break;
    default: break;  // bytes for a keyboard that is not there
    }
    return false;
}

AcpiSleep::AcpiSleep(std::uint8_t s5_type, std::function<void()> power_off)
    : m_s5_type(s5_type), m_power_off(std::move(power_off))
{
}

void AcpiSleep::read(std::uint64_t, std::span<std::byte> data)
{
    for (auto& b : data) b = std::byte{0};
}

void AcpiSleep::write(std::uint64_t offset, std::span<const std::byte> data)
{
    // ACPI 6.5 §4.8.3.7: SLP_TYPx in bits 2-4, SLP_EN in bit 5 of the sleep control register.
    if (offset != 0 || data.size() != 1) return;
    auto v = static_cast<std::uint8_t>(data[0]);
    if ((v & 0x20) && ((v >> 2) & 0x07) == m_s5_type) m_power_off();
}

}  // namespace moat::devices
