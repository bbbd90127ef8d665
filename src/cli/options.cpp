// Value parsers for the command line; they reject rather than guess.
#include "cli/options.hpp"

namespace moat::cli {

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
