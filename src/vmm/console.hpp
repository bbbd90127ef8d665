// The output side of a VM's serial console: where the bytes the guest writes to COM1 go.
//
// Three sinks, each optional: the terminal (`out`: byte by byte, or whole lines behind a
// "name | " prefix when several VMs share one terminal), a log file (whole lines), and one
// attached interactive client (byte by byte, never blocking: a slow client loses bytes, the
// guest never waits for it).
// A budget bounds what the terminal and the log file get from one VM process: past it, one
// notice line goes to both and every further byte is dropped there (the client still gets it)
// and counted; the count goes to the monitor's audit log (monitor_link.cpp). So a guest that
// prints forever costs the host's disk at most the budget, not its all.
// Threading: put() runs on vCPU threads, attach()/detach()/flush() on the event thread; one
// mutex serialises them.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>

#include "base/unique_fd.hpp"

namespace moat::vmm {

class ConsoleOutput final {
public:
    // `out` and `log` are not owned; -1 disables a sink. `budget`: bytes the two may get, 0 for
    // no bound; `on_drop` runs (under the console's lock, on the vCPU thread) for each byte
    // dropped past it.
    ConsoleOutput(int out, int log, std::string prefix, std::uint64_t budget = 0, std::function<void()> on_drop = {});
    ConsoleOutput(const ConsoleOutput&) = delete;
    ConsoleOutput& operator=(const ConsoleOutput&) = delete;

    void put(std::uint8_t c);
    // A client's console socket (owned from here on; made non-blocking). Replaces any other.
    void attach(base::UniqueFd client);
    void detach();
    // Writes out partial lines (when the VM ends).
    void flush();
    // Bytes dropped past the budget since the last call; any thread.
    std::uint64_t take_dropped() { return m_dropped.exchange(0, std::memory_order_relaxed); }

private:
    static constexpr std::size_t k_line_max = 256;
    struct LineBuffer {
        std::array<char, k_line_max + 1> bytes{};  // + the '\n' that ends a cut line
        std::size_t len = 0;
    };
    void flush_line(LineBuffer& b, int fd, bool with_prefix);
    void put_client(char ch);
    // Past the budget: flushes the partial lines and says so, once.
    void note_budget_spent();

    std::mutex m_lock;
    int m_out;
    int m_log;
    std::string m_prefix;
    LineBuffer m_out_line;
    LineBuffer m_log_line;
    base::UniqueFd m_client;
    std::uint64_t m_budget;
    std::uint64_t m_written = 0;  // bytes the terminal and log took, up to m_budget
    bool m_spent = false;
    std::function<void()> m_on_drop;
    std::atomic<std::uint64_t> m_dropped{0};
};

}  // namespace moat::vmm
