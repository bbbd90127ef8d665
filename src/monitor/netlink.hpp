// A minimal rtnetlink client (rtnetlink(7)) for the monitor's networks: bridges, their ports,
// links up, an IPv4 address, links removed. Every request asks for an acknowledgement and
// returns the kernel's answer as an error naming the interface. Hand-written rather than
// libmnl: seven message shapes do not justify a library in the trusted monitor.
#pragma once

#include <cstdint>
#include <string_view>

#include "base/result.hpp"
#include "base/unique_fd.hpp"

namespace moat::monitor {

class Rtnl {
public:
    static Result<Rtnl> open();

    // A new bridge (fails with the kernel's EEXIST when the name is taken).
    Result<void> add_bridge(std::string_view name);
    // Removes a link; Errc::NotFound when there is none of that name.
    Result<void> remove(std::string_view name);
    // Makes `port` a port of `bridge`, or no bridge's when `bridge` is empty.
    Result<void> set_master(std::string_view port, std::string_view bridge);
    Result<void> set_up(std::string_view name);
    // Adds address/prefix (host byte order) to `name`.
    Result<void> add_ipv4(std::string_view name, std::uint32_t address, std::uint32_t prefix);

    static bool exists(std::string_view name);

private:
    explicit Rtnl(base::UniqueFd fd) : m_fd(std::move(fd)) {}
    Result<void> request(struct Message& m, std::string_view about);

    base::UniqueFd m_fd;
    std::uint32_t m_seq = 0;
};

}  // namespace moat::monitor
