// A 16550A UART: the guest's console. Transmission is instant; input is buffered (FIFO).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <span>

#include "devices/bus.hpp"

namespace moat::devices {

class Serial final : public BusDevice {
public:
    // `out` receives transmitted bytes (on the vCPU thread); `raise_irq` pulses the UART's
    // interrupt line (an irqfd: edge).
    Serial(std::function<void(std::uint8_t)> out, std::function<void()> raise_irq);

    void read(std::uint64_t offset, std::span<std::byte> data) override;
    void write(std::uint64_t offset, std::span<const std::byte> data) override;

    // Host input the receive FIFO holds: more than a 16550A's 16 bytes, as many as Linux's
    // 8250 driver takes in one interrupt (256), so that console input is not held to a FIFO's
    // worth per event-loop retry.
    static constexpr std::size_t k_rx_capacity = 256;

    // Queues host input for the guest (event thread). Returns how many bytes were taken:
    // fewer than given when the receive FIFO is full.
    std::size_t enqueue_input(std::span<const std::uint8_t> bytes);
    // True when the guest has room for more input.
    bool wants_input() const;

private:
    std::uint8_t read_reg(std::uint64_t reg);
    void write_reg(std::uint64_t reg, std::uint8_t v);
    std::uint8_t iir() const;
    void update_irq();

    std::function<void(std::uint8_t)> m_out;
    std::function<void()> m_raise_irq;
    mutable std::mutex m_lock;  // guards everything below
    std::deque<std::uint8_t> m_rx;
    std::uint8_t m_ier = 0, m_lcr = 0x03, m_mcr = 0x08, m_scr = 0, m_dll = 0x0c, m_dlm = 0;
    bool m_thr_empty_pending = false;  // THRE interrupt armed (cleared by IIR read or THR write)
    bool m_irq_asserted = false;       // whether the line is currently considered raised
};

}  // namespace moat::devices
