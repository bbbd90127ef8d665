// 16550A register model (National Semiconductor PC16550D datasheet), enough for Linux's
// 8250 driver with interrupt-driven receive and transmit.
#include "devices/serial.hpp"

namespace moat::devices {

namespace {
// Register offsets (DLAB = 0 unless noted).
constexpr std::uint64_t k_data = 0;  // RBR/THR; DLL when DLAB
constexpr std::uint64_t k_ier = 1;   // DLM when DLAB
constexpr std::uint64_t k_iir = 2;   // FCR on write
constexpr std::uint64_t k_lcr = 3;
constexpr std::uint64_t k_mcr = 4;
constexpr std::uint64_t k_lsr = 5;
constexpr std::uint64_t k_msr = 6;
constexpr std::uint64_t k_scr = 7;

constexpr std::uint8_t k_ier_rda = 0x01, k_ier_thre = 0x02;
constexpr std::uint8_t k_iir_none = 0x01, k_iir_thre = 0x02, k_iir_rda = 0x04, k_iir_fifo = 0xc0;
constexpr std::uint8_t k_lcr_dlab = 0x80;
constexpr std::uint8_t k_lsr_dr = 0x01, k_lsr_thre = 0x20, k_lsr_temt = 0x40;
constexpr std::uint8_t k_mcr_loop = 0x10;
constexpr std::uint8_t k_msr_dcd = 0x80, k_msr_dsr = 0x20, k_msr_cts = 0x10;
}  // namespace

Serial::Serial(std::function<void(std::uint8_t)> out, std::function<void()> raise_irq)
    : m_out(std::move(out)), m_raise_irq(std::move(raise_irq))
{
}

void Serial::read(std::uint64_t offset, std::span<std::byte> data)
{
    if (data.size() != 1) {
        for (auto& b : data) b = std::byte{0xff};
        return;
    }
    std::lock_guard g(m_lock);
    data[0] = static_cast<std::byte>(read_reg(offset));
    update_irq();
}

void Serial::write(std::uint64_t offset, std::span<const std::byte> data)
{
    if (data.size() != 1) return;
    std::lock_guard g(m_lock);
    write_reg(offset, static_cast<std::uint8_t>(data[0]));
    update_irq();
}

std::uint8_t Serial::iir() const
{
    if ((m_ier & k_ier_rda) && !m_rx.empty()) return k_iir_rda | k_iir_fifo;
    if ((m_ier & k_ier_thre) && m_thr_empty_pending) return k_iir_thre | k_iir_fifo;
    return k_iir_none | k_iir_fifo;
}

std::uint8_t Serial::read_reg(std::uint64_t reg)
{
    switch (reg) {
    case k_data:
        if (m_lcr & k_lcr_dlab) return m_dll;
        if (m_rx.empty()) return 0;
        {
            std::uint8_t b = m_rx.front();
            m_rx.pop_front();
            return b;
        }
    case k_ier:
        return (m_lcr & k_lcr_dlab) ? m_dlm : m_ier;
    case k_iir: {
        std::uint8_t v = iir();
        // Reading IIR while it reports THRE clears that source (16550D, "Interrupt Control").
        if ((v & 0x0f) == k_iir_thre) m_thr_empty_pending = false;
        return v;
    }
    case k_lcr:
        return m_lcr;
    case k_mcr:
        return m_mcr;
    case k_lsr:
        return static_cast<std::uint8_t>(k_lsr_thre | k_lsr_temt | (m_rx.empty() ? 0 : k_lsr_dr));
    case k_msr:
        if (m_mcr & k_mcr_loop) {
            // Loopback: modem outputs feed the inputs (DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD).
            return static_cast<std::uint8_t>(((m_mcr & 0x01) << 5) | ((m_mcr & 0x02) << 3) |
                                             ((m_mcr & 0x04) << 4) | ((m_mcr & 0x08) << 4));
        }
        return k_msr_dcd | k_msr_dsr | k_msr_cts;
    case k_scr:
        return m_scr;
    default:
        return 0xff;
    }
}

void Serial::write_reg(std::uint64_t reg, std::uint8_t v)
{
    switch (reg) {
    case k_data:
        if (m_lcr & k_lcr_dlab) {
            m_dll = v;
        } else if (m_mcr & k_mcr_loop) {
            if (m_rx.size() < k_rx_capacity) m_rx.push_back(v);
            m_thr_empty_pending = true;
        } else {
            m_out(v);
            m_thr_empty_pending = true;  // transmission is instant: THR is empty again
        }
        break;
    case k_ier:
        if (m_lcr & k_lcr_dlab) {
            m_dlm = v;
        } else {
            // Enabling THRE while THR is empty raises it at once, as on real hardware.
            if ((v & k_ier_thre) && !(m_ier & k_ier_thre)) m_thr_empty_pending = true;
            m_ier = v & 0x0f;
        }
        break;
    case k_iir:
        if (v & 0x02) m_rx.clear();  // FCR: clear receive FIFO
        break;
    case k_lcr:
        m_lcr = v;
        break;
    case k_mcr:
        m_mcr = v & 0x1f;
        break;
    case k_scr:
        m_scr = v;
        break;
    default:
        break;  // LSR and MSR are read-only
    }
}

void Serial::update_irq()
{
    bool pending = (iir() & k_iir_none) == 0;
    // Edge-triggered line: pulse on each rising edge of "an interrupt is pending".
    if (pending && !m_irq_asserted) m_raise_irq();
    m_irq_asserted = pending;
}

std::size_t Serial::enqueue_input(std::span<const std::uint8_t> bytes)
{
    std::lock_guard g(m_lock);
    if (m_mcr & k_mcr_loop) return 0;
    std::size_t n = 0;
    for (std::uint8_t b : bytes) {
        if (m_rx.size() >= k_rx_capacity) break;
        m_rx.push_back(b);
        ++n;
    }
    update_irq();
    return n;
}

bool Serial::wants_input() const
{
    std::lock_guard g(m_lock);
    return m_rx.size() < k_rx_capacity;
}

}  // namespace moat::devices
