// The guest init's control lines (src/devices/guest_control.cpp): any bytes from a guest are
// taken or refused cleanly, an event comes only at a newline, and once broken the channel
// stays broken.
#include <cstddef>
#include <cstdint>

#include "base/check.hpp"
#include "devices/guest_control.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    moat::devices::GuestControl c;
    bool broken = false;
    int exits = 0;
    for (std::size_t i = 0; i < size; ++i) {
        auto r = c.feed(data[i]);
        if (!r) {
            broken = true;
            continue;
        }
        MOAT_CHECK(!broken);
        if (!*r) continue;
        MOAT_CHECK(data[i] == '\n');
        const auto& e = **r;
        using Kind = moat::devices::GuestControl::Event::Kind;
        if (e.kind != Kind::Ready) {
            ++exits;
            MOAT_CHECK(e.status >= 0 && e.status <= 255);
            MOAT_CHECK(e.message.size() <= moat::devices::GuestControl::k_max_line);
        }
    }
    MOAT_CHECK(exits <= 1);
    return 0;
}
