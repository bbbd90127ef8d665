// Names and addresses a user gives for a network interface: MAC addresses and host interface
// names, parsed and checked where they come in (command line, manifest).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace moat::base {

using Mac = std::array<std::uint8_t, 6>;

// "52:54:00:12:34:56" (hex digits in either case), or std::nullopt.
std::optional<Mac> parse_mac(std::string_view s);
std::string format_mac(const Mac& mac);
// What a VM's interface may have: unicast, not all zero. Nullptr if fine, else why not.
const char* check_mac(const Mac& mac);

// A locally administered unicast MAC (02:6d:...) whose last four bytes are `tail`.
Mac local_mac(std::uint32_t tail);

// A Linux interface name: 1 to 15 bytes of letters, digits and "-_.", not "." or "..".
// Nullptr if fine, else why not.
const char* check_ifname(std::string_view name);

}  // namespace moat::base
