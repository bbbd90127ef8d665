// An OCI container's side of its VM: the control port's lines, ready, start, the status.
#include "vmm/container.hpp"

#include <unistd.h>

#include <array>
#include <cerrno>

#include "base/log.hpp"

namespace moat::vmm {

ContainerLink::ContainerLink(base::UniqueFd ready, base::UniqueFd start, std::function<void(const std::string&)> end)
    : m_ready(std::move(ready)), m_start(std::move(start)), m_end(std::move(end))
{
}

// Once: "ready\n" or "error CODE MESSAGE\n" to moat-oci create, which waits for it. A reader that
// went away (create was killed) costs nothing: the VM process ignores SIGPIPE.
void ContainerLink::tell_ready(std::string_view line)
{
    if (m_told) return;
    m_told = true;
    std::string l(line);
    l += '\n';
    for (std::size_t at = 0; at < l.size();) {
        const ssize_t n = ::write(m_ready.get(), l.data() + at, l.size() - at);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        at += static_cast<std::size_t>(n);
    }
}

void ContainerLink::on_control_byte(std::uint8_t c)
{
    std::string ended;
    bool end = false;
    {
        std::lock_guard g(m_lock);
        auto event = m_control.feed(c);
        if (!event) {
            // The first violation ends the VM; what a broken channel says after is ignored.
            if (m_broken) return;
            m_broken = true;
            m_status = devices::GuestControl::k_status_broken;
            tell_ready("error 125 the container's init broke its control channel");
            ended = std::string("the guest broke the container's control channel: ") + event.error().what;
            end = true;
        } else if (*event) {
            using Kind = devices::GuestControl::Event::Kind;
            switch ((*event)->kind) {
            case Kind::Ready: tell_ready("ready"); break;
            case Kind::Error:
                m_status = (*event)->status;
                tell_ready("error " + std::to_string((*event)->status) + " " + (*event)->message);
                end = true;
                break;
            case Kind::Exit:
                m_status = (*event)->status;
                end = true;
                break;
            }
        }
    }
    if (end) m_end(ended);
}

void ContainerLink::say(std::string_view line)
{
    MOAT_LOG(Debug, "container: to the guest: %.*s", static_cast<int>(line.size()), line.data());
    if (m_pending.size() + line.size() + 1 > k_max_pending) {
        MOAT_LOG_RATELIMITED(Info, "container: the guest does not read its control port; '%.*s' dropped",
                             static_cast<int>(line.size()), line.data());
        return;
    }
    m_pending.append(line);
    m_pending += '\n';
}

bool ContainerLink::flush(devices::Serial& port)
{
    // Not under m_lock: the port's lock is held while the guest transmits, which takes m_lock.
    const auto taken = port.enqueue_input(
        std::span(reinterpret_cast<const std::uint8_t*>(m_pending.data()), m_pending.size()));
    m_pending.erase(0, taken);
    return !m_pending.empty();
}

ContainerLink::Start ContainerLink::take_start()
{
    std::array<char, 64> buf;
    const ssize_t n = ::read(m_start.get(), buf.data(), buf.size());
    if (n < 0) return errno == EAGAIN || errno == EINTR ? Start::Nothing : Start::Closed;
    if (n == 0) return Start::Closed;
    std::lock_guard g(m_lock);
    if (m_started) return Start::Nothing;
    m_started = true;
    return Start::Go;
}

int ContainerLink::status() const
{
    std::lock_guard g(m_lock);
    return m_status;
}

}  // namespace moat::vmm
