// The output side of a VM's serial console: where the bytes the guest writes to COM1 go.
//
// Three sinks, each optional: the terminal (`out`: byte by byte, or whole lines behind a
// "name | " prefix when several VMs share one terminal), a log file (whole lines), and one
// attached interactive client (byte by byte, never blocking: a slow client loses bytes, the
// guest never waits for it).
// Threading: put() runs on vCPU threads, attach()/detach()/flush() on the event thread; one
// mutex serialises them.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>

#include "base/unique_fd.hpp"

namespace moat::vmm {

class ConsoleOutput final {
public:
    // `out` and `log` are not owned; -1 disables a sink.
    ConsoleOutput(int out, int log, std::string prefix);
    ConsoleOutput(const ConsoleOutput&) = delete;
    ConsoleOutput& operator=(const ConsoleOutput&) = delete;

    void put(std::uint8_t c);
    // A client's console socket (owned from here on; made non-blocking). Replaces any other.
    void attach(base::UniqueFd client);
    void detach();
    // Writes out partial lines (when the VM ends).
    void flush();

private:
    static constexpr std::size_t k_line_max = 256;
    struct LineBuffer {
        std::array<char, k_line_max + 1> bytes{};  // + the '\n' that ends a cut line
        std::size_t len = 0;
    };
    void flush_line(LineBuffer& b, int fd, bool with_prefix);

    std::mutex m_lock;
    int m_out;
    int m_log;
    std::string m_prefix;
    LineBuffer m_out_line;
    LineBuffer m_log_line;
    base::UniqueFd m_client;
};

}  // namespace moat::vmm
