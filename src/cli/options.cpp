// Value parsers for the command line; they reject rather than guess.
#include "cli/options.hpp"

#include <charconv>

#include "protocol/limits.hpp"

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

Result<VsockSpec> parse_vsock(std::string_view text)
{
    VsockSpec v;
    std::string_view path = text;
    if (auto comma = text.rfind(','); comma != std::string_view::npos) {
        const std::string_view opt = text.substr(comma + 1);
        std::uint64_t cid = 0;
        const char* end = opt.data() + opt.size();
        auto [p, ec] = opt.starts_with("cid=") ? std::from_chars(opt.data() + 4, end, cid)
                                               : std::from_chars_result{opt.data(), std::errc::invalid_argument};
        if (ec != std::errc() || p != end || opt.size() == 4) return fail(Errc::InvalidInput, "vsock option must be ',cid=N'");
        if (!protocol::check_cid(cid)) return fail(Errc::OutOfRange, "the guest's CID must be 3 to 4294967294");
        v.cid = cid;
        path = text.substr(0, comma);
    }
    if (path.empty()) return fail(Errc::InvalidInput, "vsock socket path is empty");
    v.path = std::string(path);
    return v;
}

Result<NetSpec> parse_net(std::string_view text)
{
    NetSpec n;
    bool have_mac = false;
    for (bool more = true; more;) {
        const auto comma = text.find(',');
        const std::string_view opt = text.substr(0, comma);
        more = comma != std::string_view::npos;
        if (more) text.remove_prefix(comma + 1);
        if (opt.starts_with("tap=") && n.tap.empty()) {
            n.tap = std::string(opt.substr(4));
            if (base::check_ifname(n.tap)) return fail(Errc::InvalidInput, "tap=NAME must be an interface name (up to 15 letters, digits, '-', '_', '.')");
        } else if (opt.starts_with("mac=") && !have_mac) {
            const auto mac = base::parse_mac(opt.substr(4));
            if (!mac) return fail(Errc::InvalidInput, "mac= must be six hex bytes, e.g. 52:54:00:12:34:56");
            if (base::check_mac(*mac)) return fail(Errc::InvalidInput, "mac= must be a unicast address, not zero");
            n.mac = *mac;
            have_mac = true;
        } else {
            return fail(Errc::InvalidInput, "expected tap=NAME[,mac=MAC], each once");
        }
    }
    if (n.tap.empty()) return fail(Errc::InvalidInput, "tap=NAME is missing");
    if (!have_mac) n.mac = default_mac(n.tap);
    return n;
}

base::Mac default_mac(std::string_view tap)
{
    return base::local_mac(base::name_hash(tap));
}

}  // namespace moat::cli
