// Inside the manifest parser (manifest.cpp, manifest_channels.cpp): toml++ as the parser uses it,
// the helpers that name keys and values in messages, and the Parser. Not for use outside
// src/policy/.
//
// toml++ is used header-only, without exceptions (TOML_HEADER_ONLY=1, TOML_EXCEPTIONS=0, set
// on moat_policy in CMakeLists.txt). Debian's libtomlplusplus-dev ships a shared library built
// with exceptions (its symbols live in toml::v3::ex) and its pkg-config/CMake files force
// TOML_HEADER_ONLY=0; linking it would make parse() throw and the static `moat` binary cannot
// link a .so. Header-only noex mode instantiates toml++ in the parser's two files, in toml++'s
// separate ABI namespace (toml::v3::noex), and reports syntax errors through
// toml::parse_result. toml++ is included only through policy/toml.hpp, so every file sees it
// configured the same way.
#pragma once

#include "policy/toml.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/size.hpp"
#include "policy/manifest.hpp"
#include "protocol/limits.hpp"

namespace moat::policy::manifest_detail {

inline constexpr std::size_t k_max_quoted = 80;  // longer values are cut in messages

inline bool valid_name(std::string_view name)
{
    auto lower_or_digit = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
    if (name.empty() || name.size() > k_max_name_length || !lower_or_digit(name[0])) return false;
    return std::all_of(name.begin(), name.end(), [&](char c) { return lower_or_digit(c) || c == '_' || c == '-'; });
}

// Control bytes are escaped so that a manifest cannot put terminal escapes into messages.
inline void append_escaped(std::string& out, std::string_view text)
{
    for (char c : text) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7f || c == '\\') {
            std::array<char, 5> hex{};
            std::snprintf(hex.data(), hex.size(), "\\x%02x", u);
            out += hex.data();
        } else {
            out += c;
        }
    }
}

// 'value' (or "value"), escaped and cut to k_max_quoted bytes.
inline std::string quoted(std::string_view text, char quote = '\'')
{
    std::string out(1, quote);
    append_escaped(out, text.substr(0, k_max_quoted));
    if (text.size() > k_max_quoted) out += "...";
    return out + quote;
}

// One component of a dotted key: bare when TOML would accept it bare, else "quoted".
inline std::string key_part(std::string_view k)
{
    const bool bare = !k.empty() && std::all_of(k.begin(), k.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    });
    return bare ? std::string(k) : quoted(k, '"');
}

inline std::string dotted(std::string_view prefix, std::string_view k)
{
    if (prefix.empty()) return key_part(k);
    return std::string(prefix) + "." + key_part(k);
}

inline std::string indexed(std::string_view prefix, std::size_t i) { return std::string(prefix) + "[" + std::to_string(i) + "]"; }

inline std::uint32_t line_of(const toml::node& n) { return n.source().begin.line; }
inline std::uint32_t line_of(const toml::key& k) { return k.source().begin.line; }

inline const char* type_name(const toml::node& n)
{
    switch (n.type()) {
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a float";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::date: return "a date";
    case toml::node_type::time: return "a time";
    case toml::node_type::date_time: return "a date-time";
    case toml::node_type::none: break;
    }
    return "nothing";
}

// A table's entries in the order they were written: toml::table is an ordered map (by key),
// but VMs and volumes keep manifest order, and the first error in the text is the one reported.
inline std::vector<std::pair<const toml::key*, const toml::node*>> in_text_order(const toml::table& t)
{
    std::vector<std::pair<const toml::key*, const toml::node*>> out;
    for (const auto& [k, v] : t) out.emplace_back(&k, &v);
    std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
        const auto& pa = a.first->source().begin;
        const auto& pb = b.first->source().begin;
        return pa.line != pb.line ? pa.line < pb.line : pa.column < pb.column;
    });
    return out;
}

class Parser final {
public:
    // `objects_only`: the lattice and volumes alone (parse_objects).
    Parser(std::string_view source, std::string_view base_dir, bool objects_only = false)
        : m_source(source), m_base_dir(base_dir), m_objects_only(objects_only)
    {
    }

    Result<Manifest> parse(std::string_view text);

private:
    using Fail = Unexpected<Error>;

    // The error, its message in its context: "demo.toml:12: vm.web.memory: bad size ...".
    Fail error(std::uint32_t line, std::string_view key, const std::string& detail, Errc code = Errc::InvalidInput)
    {
        return fail_with(code, where(m_source, line, key) + ": " + detail);
    }

    Fail unknown_key(const toml::key& k, std::string_view prefix, std::string_view allowed)
    {
        return error(line_of(k), dotted(prefix, k.str()), "unknown key (expected one of: " + std::string(allowed) + ")");
    }

    Fail wrong_type(const toml::node& n, std::string_view key, const char* expected)
    {
        return error(line_of(n), key, std::string("expected ") + expected + ", found " + type_name(n));
    }

    Result<const toml::table*> table(const toml::node& n, std::string_view key)
    {
        if (const auto* t = n.as_table()) return t;
        return wrong_type(n, key, "a table");
    }

    Result<std::string> string(const toml::node& n, std::string_view key)
    {
        if (const auto* s = n.as_string()) return s->get();
        return wrong_type(n, key, "a string");
    }

    // A string destined for a system call or a kernel: a NUL would silently truncate it.
    Result<std::string> c_string(const toml::node& n, std::string_view key)
    {
        std::string s = MOAT_TRY(string(n, key));
        if (s.find('\0') != std::string::npos) return error(line_of(n), key, "contains a NUL character");
        return s;
    }

    Result<std::int64_t> integer(const toml::node& n, std::string_view key, std::int64_t lo, std::int64_t hi)
    {
        const auto* i = n.as_integer();
        if (!i) return wrong_type(n, key, "an integer");
        const std::int64_t v = i->get();
        if (v < lo || v > hi)
            return error(line_of(n), key,
                         std::to_string(v) + " is out of range (" + std::to_string(lo) + " to " + std::to_string(hi) + ")");
        return v;
    }

    Result<PathRef> path(const toml::node& n, std::string_view key)
    {
        PathRef p;
        p.written = MOAT_TRY(c_string(n, key));
        if (p.written.empty()) return error(line_of(n), key, "empty path");
        p.path = join_path(m_base_dir, p.written);
        p.line = line_of(n);
        return p;
    }

    Result<Part> part(const Lattice& lattice, Dimension d, const toml::node& n, std::string_view key)
    {
        const std::string text = MOAT_TRY(string(n, key));
        auto p = parse_part(lattice, d, text);
        if (p) return *p;
        const std::string& bad = p.error().context;
        std::string detail = quoted(text) + ": " + p.error().what;
        if (bad != text) {
            detail += ' ';  // appended, not " " + quoted(): GCC 12 at -O3 warns falsely (-Wrestrict)
            detail += quoted(bad);
        }
        if (p.error().code == Errc::NotFound) {
            const bool category = std::string_view(p.error().what).find("category") != std::string_view::npos;
            detail += category ? " (declared in lattice.categories)"
                               : (d == Dimension::Secrecy ? " (declared in lattice.levels)"
                                                          : " (declared in lattice.integrity)");
        }
        return error(line_of(n), key, detail);
    }

    // A VM's memory: a size protocol::check_memory accepts.
    Result<std::uint64_t> memory(const toml::node& n, std::string_view key)
    {
        const std::string text = MOAT_TRY(string(n, key));
        auto size = parse_size(text);
        if (!size) return error(line_of(n), key, "bad size " + quoted(text) + ": " + size.error().what);
        if (auto ok = protocol::check_memory(*size); !ok) return error(line_of(n), key, quoted(text) + " is " + ok.error().what);
        return *size;
    }

    // A console budget: a size up to protocol::k_max_console_budget, "0" for none.
    Result<std::uint64_t> console_budget(const toml::node& n, std::string_view key)
    {
        const std::string text = MOAT_TRY(string(n, key));
        auto size = parse_size(text);
        if (!size) return error(line_of(n), key, "bad size " + quoted(text) + ": " + size.error().what);
        if (*size > protocol::k_max_console_budget)
            return error(line_of(n), key, quoted(text) + " is above the maximum of 1T (\"0\" for no budget)");
        return *size;
    }

    Result<std::vector<std::string>> name_list(const toml::node& n, std::string_view key)
    {
        const auto* a = n.as_array();
        if (!a) return wrong_type(n, key, "an array of strings");
        std::vector<std::string> out;
        for (std::size_t i = 0; i < a->size(); ++i) out.push_back(MOAT_TRY(string(*a->get(i), indexed(key, i))));
        return out;
    }

    Result<Lattice> lattice(const toml::node& n);
    Result<VolumeSpec> volume(const Lattice& lattice, std::string_view name, const toml::key& k, const toml::node& n);
    Result<void> jail(Manifest& m, const toml::node& n);
    Result<void> vms(Manifest& m, const toml::node& n);
    Result<VmSpec> vm(const Manifest& m, std::string_view name, const toml::key& k, const toml::node& n);
    Result<Restart> restart(const toml::node& n, const std::string& key);
    Result<std::vector<DiskRef>> disks(const Manifest& m, const toml::node& n, std::string_view key);
    // manifest_networks.cpp
    Result<NetworkSpec> network(const Manifest& m, std::string_view name, const toml::key& k, const toml::node& n);
    Result<void> network_apart(const Manifest& m, const NetworkSpec& net, const std::string& key);
    Result<std::vector<NetRef>> vm_networks(const Manifest& m, const toml::node& n, std::string_view key);
    Result<void> addresses(Manifest& m);
    // manifest_channels.cpp
    Result<void> cids(Manifest& m);
    Result<std::vector<ChannelSpec>> channels(const Manifest& m, const toml::node& n);
    Result<ChannelSpec> channel(const Manifest& m, const toml::node& n, const std::string& key);
    Result<std::size_t> channel_end(const Manifest& m, const toml::node& n, const std::string& key);

    std::string m_source;
    std::string_view m_base_dir;
    bool m_objects_only;
};

}  // namespace moat::policy::manifest_detail
