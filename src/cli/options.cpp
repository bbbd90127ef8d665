// Value parsers for the command line; they reject rather than guess.
#include "cli/options.hpp"

namespace moat::cli {

Result<DiskSpec> parse_disk(std::string_view text)
{
    DiskSpec d;
    std::string_view path = text;
    if (auto comma = text.rfind(','); comma != std::string_view::npos) {
        const auto access = parse_disk_access(text.substr(comma + 1));
        if (!access) return fail(Errc::InvalidInput, "disk mode must be ',ro' or ',rw'");
        d.access = *access;
        path = text.substr(0, comma);
    }
    if (path.empty()) return fail(Errc::InvalidInput, "disk path is empty");
    d.path = std::string(path);
    return d;
}

}  // namespace moat::cli
