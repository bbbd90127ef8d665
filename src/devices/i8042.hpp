// The i8042 keyboard controller, reduced to what Linux's probe and a CPU reset need.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>

#include "devices/bus.hpp"

namespace moat::devices {

// Occupies ports 0x60 (data, offset 0) to 0x64 (status/command, offset 4).
class I8042 final : public BusDevice {
public:
    // `reset` is called when the guest pulses the CPU reset line (command 0xfe).
    explicit I8042(std::function<void()> reset);
    void read(std::uint64_t offset, std::span<std::byte> data) override;
    void write(std::uint64_t offset, std::span<const std::byte> data) override;

private:
    void command(std::uint8_t cmd);
    bool data_write(std::uint8_t v);  // true: the guest asked for a reset

    std::function<void()> m_reset;
    std::mutex m_lock;  // guards everything below
    std::optional<std::uint8_t> m_out;   // output buffer (status OBF)
    std::uint8_t m_ctr = 0x01 | 0x04 | 0x40;  // keyboard interrupt, system flag, translation
    std::uint8_t m_outp = 0x01;          // output port: bit 0 = reset line (active low)
    std::uint8_t m_pending_cmd = 0;      // a command waiting for its data byte
    bool m_last_was_command = false;
};

// ACPI hardware-reduced sleep registers (FADT SLEEP_CONTROL_REG, SLEEP_STATUS_REG), one byte
// each: writing SLP_EN with the _S5 sleep type powers the VM off.
class AcpiSleep final : public BusDevice {
public:
    AcpiSleep(std::uint8_t s5_type, std::function<void()> power_off);
    void read(std::uint64_t offset, std::span<std::byte> data) override;
    void write(std::uint64_t offset, std::span<const std::byte> data) override;

private:
    std::uint8_t m_s5_type;
    std::function<void()> m_power_off;
};

}  // namespace moat::devices
