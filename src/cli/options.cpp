// Value parsers for the command line; they reject rather than guess.
#include "cli/options.hpp"

#include <cctype>

namespace moat::cli {

Result<std::uint64_t> parse_size(std::string_view text)
{
    std::size_t i = 0;
    std::uint64_t v = 0;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
        if (__builtin_mul_overflow(v, 10u, &v) ||
            __builtin_add_overflow(v, static_cast<std::uint64_t>(text[i] - '0'), &v))
            return fail(Errc::InvalidInput, "size is too large");
        ++i;
    }
    if (i == 0) return fail(Errc::InvalidInput, "not a size (use a number with K, M, G or T, e.g. 256M)");
    std::string_view unit = text.substr(i);
    unsigned shift = 0;
    if (!unit.empty()) {
        switch (std::toupper(static_cast<unsigned char>(unit[0]))) {
        case 'K': shift = 10; break;
        case 'M': shift = 20; break;
        case 'G': shift = 30; break;
        case 'T': shift = 40; break;
        case 'B': shift = 0; break;
        default: return fail(Errc::InvalidInput, "unknown size unit (use K, M, G or T)");
        }
        std::string_view rest = unit.substr(1);
        if (std::toupper(static_cast<unsigned char>(unit[0])) == 'B') {
            if (!rest.empty()) return fail(Errc::InvalidInput, "unknown size unit (use K, M, G or T)");
        } else if (!(rest.empty() || rest == "B" || rest == "iB" || rest == "b" || rest == "ib")) {
            return fail(Errc::InvalidInput, "unknown size unit (use K, M, G or T)");
        }
    }
    if (shift && v > (UINT64_MAX >> shift)) return fail(Errc::InvalidInput, "size is too large");
    return v << shift;
}

Result<DiskSpec> parse_disk(std::string_view text)
{
    DiskSpec d;
    std::string_view path = text;
    if (auto comma = text.rfind(','); comma != std::string_view::npos) {
        std::string_view mode = text.substr(comma + 1);
        if (mode == "ro") d.read_only = true;
        else if (mode != "rw") return fail(Errc::InvalidInput, "disk mode must be ',ro' or ',rw'");
        path = text.substr(0, comma);
    }
    if (path.empty()) return fail(Errc::InvalidInput, "disk path is empty");
    d.path = std::string(path);
    return d;
}

}  // namespace moat::cli
