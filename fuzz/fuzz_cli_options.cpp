// libFuzzer target: the command line's value parsers (sizes, disk and vsock specifications).
// The first byte picks the parser; the rest is the text.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "cli/options.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    if (size == 0) return 0;
    std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
    if (data[0] & 2) {
        auto v = moat::cli::parse_vsock(text);
        // Invariants: a parsed vsock has a path that prefixes the input, and a usable CID.
        if (v) MOAT_CHECK(!v->path.empty() && text.substr(0, v->path.size()) == v->path && v->cid >= 3 && v->cid < 0xffffffff);
    } else if (data[0] & 1) {
        auto d = moat::cli::parse_disk(text);
        // Invariants: a parsed disk has a path, and the path is a prefix of the input.
        if (d) MOAT_CHECK(!d->path.empty() && text.substr(0, d->path.size()) == d->path);
    } else {
        auto s = moat::cli::parse_size(text);
        if (s) MOAT_CHECK(!text.empty() && text[0] >= '0' && text[0] <= '9');
    }
    return 0;
}
