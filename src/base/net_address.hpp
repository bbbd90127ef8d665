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

// "10.77.0.1" (four decimal bytes, no leading zeros but "0"), in host byte order; std::nullopt
// else.
std::optional<std::uint32_t> parse_ipv4(std::string_view s);
std::string format_ipv4(std::uint32_t a);

// An IPv4 subnet "10.77.0.0/24": no host bits set.
struct Ipv4Net {
    std::uint32_t base = 0;    // the network's address, host byte order
    std::uint32_t prefix = 0;  // 0..32
    std::uint32_t mask() const { return prefix == 0 ? 0 : ~std::uint32_t{0} << (32 - prefix); }
    std::uint32_t broadcast() const { return base | ~mask(); }
    // An address a machine on it may have: inside, neither the network's nor the broadcast address.
    bool holds_host(std::uint32_t a) const { return (a & mask()) == base && a != base && a != broadcast(); }
};
// Nullptr when `s` is such a subnet (into `out`), else why not.
const char* parse_ipv4_net(std::string_view s, Ipv4Net& out);

// FNV-1a of `s`, going on from `h` (chain calls to hash several names): the stable hash that
// default MACs and the monitor's interface names are made from.
std::uint32_t name_hash(std::string_view s, std::uint32_t h = 2166136261u);

// A locally administered unicast MAC (02:6d:...) whose last four bytes are `tail`.
Mac local_mac(std::uint32_t tail);

// A Linux interface name: 1 to 15 bytes of letters, digits and "-_.", not "." or "..".
// Nullptr if fine, else why not.
const char* check_ifname(std::string_view name);

}  // namespace moat::base
