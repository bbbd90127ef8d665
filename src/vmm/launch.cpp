// The launch message from the monitor to a VM process (see launch.hpp).
#include "vmm/launch.hpp"

#include <charconv>

namespace moat::vmm {

std::string encode_launch(const VmLaunch& l)
{
    // One "key value" per line; the command line last, as it may hold any byte but '\n'.
    std::string s = "name " + l.name + "\nmemory " + std::to_string(l.memory) + "\ncpus " +
                    std::to_string(l.cpus) + "\ninitrd " + (l.initrd ? "1" : "0") + "\n";
    for (bool w : l.disk_writable) s += w ? "disk rw\n" : "disk ro\n";
    s += "cmdline " + l.cmdline + "\n";
    return s;
}

Result<VmLaunch> decode_launch(std::string_view text)
{
    VmLaunch l;
    bool have_name = false, have_memory = false, have_cmdline = false;
    while (!text.empty()) {
        const auto nl = text.find('\n');
        if (nl == std::string_view::npos) return fail(Errc::InvalidInput, "launch message: unterminated line");
        const std::string_view line = text.substr(0, nl);
        text.remove_prefix(nl + 1);
        const auto sp = line.find(' ');
        if (sp == std::string_view::npos) return fail(Errc::InvalidInput, "launch message: line without a value");
        const std::string_view key = line.substr(0, sp), value = line.substr(sp + 1);
        auto number = [&](std::uint64_t& out) {
            auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), out);
            return ec == std::errc() && p == value.data() + value.size();
        };
        if (key == "name") {
            l.name = value;
            have_name = true;
        } else if (key == "memory") {
            if (!number(l.memory)) return fail(Errc::InvalidInput, "launch message: bad memory");
            have_memory = true;
        } else if (key == "cpus") {
            std::uint64_t c = 0;
            if (!number(c) || c == 0 || c > 255) return fail(Errc::InvalidInput, "launch message: bad cpus");
            l.cpus = static_cast<std::uint32_t>(c);
        } else if (key == "initrd") {
            l.initrd = value == "1";
        } else if (key == "disk") {
            if (value != "ro" && value != "rw") return fail(Errc::InvalidInput, "launch message: bad disk mode");
            l.disk_writable.push_back(value == "rw");
        } else if (key == "cmdline") {
            l.cmdline = value;
            have_cmdline = true;
        } else {
            return fail(Errc::InvalidInput, "launch message: unknown key");
        }
    }
    if (!have_name || !have_memory || !have_cmdline) return fail(Errc::InvalidInput, "launch message incomplete");
    return l;
}

}  // namespace moat::vmm
