// /etc/moat/oci.toml: where moat-oci's guest and cache are.
#include "oci/settings.hpp"

#include <sys/stat.h>

#include <cstdlib>
#include <toml++/toml.h>

#include "base/size.hpp"
#include "oci/state.hpp"
#include "protocol/programs.hpp"

namespace moat::oci {

Result<Settings> parse_settings(std::string_view text, const std::string& name, Settings s)
{
    toml::parse_result doc = toml::parse(text);
    if (!doc) {
        const auto& e = doc.error();
        return fail_with(Errc::InvalidInput, name + ":" + std::to_string(e.source().begin.line) + ": " +
                                                 std::string(e.description()));
    }
    for (const auto& entry : doc.table()) {
        const std::string k(entry.first.str());
        const toml::node& value = entry.second;  // named, not bound: lambdas capture it
        auto text_of = [&](std::string& out) -> Result<void> {
            if (!value.is_string()) return fail_with(Errc::InvalidInput, name + ": " + k + ": must be a string");
            out = *value.value<std::string>();
            return {};
        };
        if (k == "kernel") MOAT_TRY(text_of(s.kernel));
        else if (k == "initrd") MOAT_TRY(text_of(s.initrd));
        else if (k == "cache") MOAT_TRY(text_of(s.cache));
        else if (k == "memory") {
            std::string m;
            MOAT_TRY(text_of(m));
            auto bytes = parse_size(m);
            if (!bytes) return fail_with(Errc::InvalidInput, name + ": memory: '" + m + "': " + bytes.error().what);
            s.memory = *bytes;
        } else if (k == "ready_timeout") {
            const auto t = value.value<std::int64_t>();
            if (!value.is_integer() || !t || *t < 1 || *t > 3600)
                return fail_with(Errc::InvalidInput, name + ": ready_timeout: must be 1 to 3600 (seconds)");
            s.ready_timeout = static_cast<std::uint32_t>(*t);
        } else if (k == "verbose") {
            if (!value.is_boolean()) return fail_with(Errc::InvalidInput, name + ": verbose: must be true or false");
            s.verbose = *value.value<bool>();
        } else {
            return fail_with(Errc::InvalidInput, name + ": unknown key '" + k + "'");
        }
    }
    return s;
}

Result<Settings> load_settings(const std::string& root)
{
    Settings s;
    const std::string bin = protocol::program_path("");
    s.kernel = bin + "../guests/linux/vmlinuz";
    s.initrd = bin + "../guests/linux/oci-initrd.img";
    s.cache = root + "/.cache";
    const char* env = std::getenv("MOAT_OCI_CONFIG");
    std::string file = env && *env ? env : "/etc/moat/oci.toml";
    struct stat st{};
    if ((!env || !*env) && ::stat(file.c_str(), &st) != 0) return s;
    auto text = read_capped(file, 1 << 20);
    if (!text) return fail_with(Errc::InvalidInput, file + ": " + describe(text.error()));
    return parse_settings(*text, file, s);
}

}  // namespace moat::oci
