// parse_size: reject rather than guess; every overflow is checked.
#include "base/size.hpp"

#include <limits>

namespace moat {

namespace {

constexpr char upper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c; }

constexpr bool is_digit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

Result<std::uint64_t> parse_size(std::string_view text)
{
    std::size_t i = 0;
    std::uint64_t v = 0;
    while (i < text.size() && is_digit(text[i])) {
        if (__builtin_mul_overflow(v, 10u, &v) ||
            __builtin_add_overflow(v, static_cast<std::uint64_t>(text[i] - '0'), &v))
            return fail(Errc::InvalidInput, "size is too large");
        ++i;
    }
    if (i == 0) return fail(Errc::InvalidInput, "not a size (use a number with K, M, G or T, e.g. 256M)");

    const std::string_view unit = text.substr(i);
    unsigned shift = 0;
    if (!unit.empty()) {
        const std::string_view rest = unit.substr(1);
        switch (upper(unit[0])) {
        case 'K': shift = 10; break;
        case 'M': shift = 20; break;
        case 'G': shift = 30; break;
        case 'T': shift = 40; break;
        case 'B':
            // Plain bytes: nothing may follow.
            if (!rest.empty()) return fail(Errc::InvalidInput, "unknown size unit (use K, M, G or T)");
            break;
        default: return fail(Errc::InvalidInput, "unknown size unit (use K, M, G or T)");
        }
        if (shift != 0 && !(rest.empty() || rest == "B" || rest == "iB" || rest == "b" || rest == "ib"))
            return fail(Errc::InvalidInput, "unknown size unit (use K, M, G or T)");
    }
    if (v > (std::numeric_limits<std::uint64_t>::max() >> shift)) return fail(Errc::InvalidInput, "size is too large");
    return v << shift;
}

}  // namespace moat
