// The serial console's output sinks: terminal, log file, attached client.
#include "vmm/console.hpp"

#include <fcntl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>

namespace moat::vmm {

namespace {

// Writes all of `iov` unless the descriptor fails; EINTR and short writes are retried.
void write_all(int fd, iovec* iov, int count)
{
    while (count > 0) {
        ssize_t n = ::writev(fd, iov, count);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        auto done = static_cast<std::size_t>(n);
        while (count > 0 && done >= iov->iov_len) {
            done -= iov->iov_len;
            ++iov;
            --count;
        }
        if (count > 0) {
            iov->iov_base = static_cast<char*>(iov->iov_base) + done;
            iov->iov_len -= done;
        }
    }
}

}  // namespace

ConsoleOutput::ConsoleOutput(int out, int log, std::string prefix, std::uint64_t budget, std::function<void()> on_drop)
    : m_out(out), m_log(log), m_prefix(std::move(prefix)), m_budget(budget), m_on_drop(std::move(on_drop))
{
}

void ConsoleOutput::note_budget_spent()
{
    m_spent = true;
    static constexpr char k_notice[] = "[moat: console output past its budget; the rest is dropped and counted]\n";
    iovec notice{const_cast<char*>(k_notice), sizeof k_notice - 1};
    if (m_out >= 0) {
        if (m_out_line.len > 0) {  // between put() calls len < k_line_max: room for the '\n'
            m_out_line.bytes[m_out_line.len++] = '\n';
            flush_line(m_out_line, m_out, true);
        }
        iovec iov[2] = {{m_prefix.data(), m_prefix.size()}, notice};
        write_all(m_out, iov, 2);
    }
    if (m_log >= 0) {
        if (m_log_line.len > 0) m_log_line.bytes[m_log_line.len++] = '\n';
        flush_line(m_log_line, m_log, false);
        write_all(m_log, &notice, 1);
    }
}

void ConsoleOutput::flush_line(LineBuffer& b, int fd, bool with_prefix)
{
    if (b.len == 0) return;
    iovec iov[2] = {{m_prefix.data(), m_prefix.size()}, {b.bytes.data(), b.len}};
    if (with_prefix) write_all(fd, iov, 2);
    else write_all(fd, iov + 1, 1);
    b.len = 0;
}

void ConsoleOutput::put(std::uint8_t c)
{
    std::lock_guard g(m_lock);
    char ch = static_cast<char>(c);
    if (m_budget != 0 && m_written == m_budget) {
        if (!m_spent) note_budget_spent();
        m_dropped.fetch_add(1, std::memory_order_relaxed);
        if (m_on_drop) m_on_drop();
        put_client(ch);
        return;
    }
    ++m_written;
    if (m_out >= 0) {
        if (m_prefix.empty()) {
            iovec iov{&ch, 1};
            write_all(m_out, &iov, 1);
        } else if (ch != '\r') {
            // Whole lines behind the prefix; a guest's "\r\n" becomes "\n", and a line longer
            // than the buffer is cut into several.
            m_out_line.bytes[m_out_line.len++] = ch;
            if (ch != '\n' && m_out_line.len == k_line_max) m_out_line.bytes[m_out_line.len++] = '\n';
            if (ch == '\n' || m_out_line.len > k_line_max) flush_line(m_out_line, m_out, true);
        }
    }
    if (m_log >= 0) {
        m_log_line.bytes[m_log_line.len++] = ch;
        if (ch == '\n' || m_log_line.len == k_line_max) flush_line(m_log_line, m_log, false);
    }
    put_client(ch);
}

void ConsoleOutput::put_client(char ch)
{
    if (!m_client.valid()) return;
    ssize_t n;
    do {
        n = ::write(m_client.get(), &ch, 1);
    } while (n < 0 && errno == EINTR);
    if (n < 0 && errno != EAGAIN) m_client.reset();  // the client went away
}

void ConsoleOutput::attach(base::UniqueFd client)
{
    const int fl = ::fcntl(client.get(), F_GETFL);
    if (fl >= 0) ::fcntl(client.get(), F_SETFL, fl | O_NONBLOCK);
    std::lock_guard g(m_lock);
    m_client = std::move(client);
}

void ConsoleOutput::detach()
{
    std::lock_guard g(m_lock);
    m_client.reset();
}

void ConsoleOutput::flush()
{
    std::lock_guard g(m_lock);
    if (m_out >= 0 && !m_prefix.empty() && m_out_line.len > 0) {
        m_out_line.bytes[m_out_line.len++] = '\n';  // len < k_line_max between put() calls
        flush_line(m_out_line, m_out, true);
    }
    if (m_log >= 0) flush_line(m_log_line, m_log, false);
}

}  // namespace moat::vmm
