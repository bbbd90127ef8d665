#include "base/net_address.hpp"

#include <cstdio>

namespace moat::base {

namespace {

int hex(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

}  // namespace

std::optional<Mac> parse_mac(std::string_view s)
{
    if (s.size() != 17) return std::nullopt;
    Mac m{};
    for (std::size_t i = 0; i < m.size(); ++i) {
        const int hi = hex(s[3 * i]);
        const int lo = hex(s[3 * i + 1]);
        if (hi < 0 || lo < 0 || (i + 1 < m.size() && s[3 * i + 2] != ':')) return std::nullopt;
        m[i] = static_cast<std::uint8_t>(hi * 16 + lo);
    }
    return m;
}

std::string format_mac(const Mac& m)
{
    char buf[18];
    std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
    return buf;
}

const char* check_mac(const Mac& mac)
{
    if ((mac[0] & 1) != 0) return "a multicast address";
    if (mac == Mac{}) return "all zero";
    return nullptr;
}

Mac local_mac(std::uint32_t tail)
{
    return Mac{0x02, 0x6d, static_cast<std::uint8_t>(tail >> 24), static_cast<std::uint8_t>(tail >> 16),
               static_cast<std::uint8_t>(tail >> 8), static_cast<std::uint8_t>(tail)};
}

const char* check_ifname(std::string_view name)
{
    if (name.empty()) return "empty";
    if (name.size() > 15) return "longer than 15 bytes";
    if (name == "." || name == "..") return "not a name";
    for (char c : name) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                        c == '_' || c == '.';
        if (!ok) return "only letters, digits and '-', '_', '.' may be in it";
    }
    return nullptr;
}

}  // namespace moat::base
