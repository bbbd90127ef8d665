// The control lines an OCI container's guest init sends on its own serial port (docs/oci.md):
// `ready`, `exit N`, `error CODE MESSAGE`. Guest-controlled bytes, taken one at a time as the
// port transmits them; anything outside the protocol is a violation, after which the channel
// says nothing more (the container then ends with k_status_broken).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "base/result.hpp"

namespace moat::devices {

class GuestControl final {
public:
    // The longest line, newline excluded; an error's message is cut to fit.
    static constexpr std::size_t k_max_line = 160;
    // A container whose guest broke the protocol, or ended without `exit`, ends with this.
    static constexpr int k_status_broken = 125;

    struct Event {
        enum class Kind : std::uint8_t { Ready, Exit, Error };
        Kind kind;
        int status = 0;       // Exit: the workload's status (0..255); Error: 127, 126 or 125
        std::string message;  // Error: the guest's words (printable ASCII)
    };

    // Takes one byte. An event when it completes a line; Errc::GuestFault (what names the
    // violation) when the channel is broken by it or was already.
    Result<std::optional<Event>> feed(std::uint8_t byte);

    bool ready() const { return m_ready; }
    bool exited() const { return m_exited; }

private:
    Result<std::optional<Event>> line_done();
    Unexpected<Error> broken(const char* why);

    std::string m_line;
    bool m_ready = false;
    bool m_exited = false;
    bool m_broken = false;
};

}  // namespace moat::devices
