#include "base/net_address.hpp"

#include <algorithm>
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

std::optional<std::uint32_t> parse_ipv4(std::string_view s)
{
    std::uint32_t out = 0;
    for (int i = 0; i < 4; ++i) {
        std::size_t n = 0;
        unsigned v = 0;
        while (n < s.size() && n < 4 && s[n] >= '0' && s[n] <= '9') v = v * 10 + static_cast<unsigned>(s[n++] - '0');
        if (n == 0 || n > 3 || v > 255 || (n > 1 && s[0] == '0')) return std::nullopt;
        out = out << 8 | v;
        s.remove_prefix(n);
        if (i < 3) {
            if (s.empty() || s[0] != '.') return std::nullopt;
            s.remove_prefix(1);
        }
    }
    if (!s.empty()) return std::nullopt;
    return out;
}

std::string format_ipv4(std::uint32_t a)
{
    return std::to_string(a >> 24) + "." + std::to_string((a >> 16) & 255) + "." + std::to_string((a >> 8) & 255) + "." +
           std::to_string(a & 255);
}

const char* parse_ipv4_net(std::string_view s, Ipv4Net& out)
{
    const auto slash = s.find('/');
    if (slash == std::string_view::npos) return "not ADDRESS/PREFIX";
    const auto base = parse_ipv4(s.substr(0, slash));
    if (!base) return "not an IPv4 address before the '/'";
    const std::string_view p = s.substr(slash + 1);
    if (p.empty() || p.size() > 2 || !std::all_of(p.begin(), p.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
        (p.size() == 2 && p[0] == '0'))
        return "the prefix length must be 0 to 32";
    const auto prefix = static_cast<std::uint32_t>(std::stoul(std::string(p)));
    if (prefix > 32) return "the prefix length must be 0 to 32";
    Ipv4Net n{*base, prefix};
    if ((*base & ~n.mask()) != 0) return "host bits are set (the network's own address ends in zeros)";
    out = n;
    return nullptr;
}

std::uint32_t name_hash(std::string_view s, std::uint32_t h)
{
    for (char c : s) h = (h ^ static_cast<std::uint8_t>(c)) * 16777619u;
    return h;
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
