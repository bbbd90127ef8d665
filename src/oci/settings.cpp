// /etc/moat/oci.toml: where moat-oci's guest and cache are.
#include "oci/settings.hpp"

#include <sys/stat.h>

#include <cstdlib>

#include "base/size.hpp"
#include "oci/commands.hpp"
#include "oci/state.hpp"
#include "policy/toml.hpp"  // toml++, as the manifest parser includes it
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
        else if (k == "policy") MOAT_TRY(text_of(s.policy));
        else if (k == "audit") MOAT_TRY(text_of(s.audit));
        else if (k == "state") MOAT_TRY(text_of(s.state));
        else if (k == "memory" || k == "cache_max") {
            std::string m;
            MOAT_TRY(text_of(m));
            auto bytes = parse_size(m);
            if (!bytes) return fail_with(Errc::InvalidInput, name + ": " + k + ": '" + m + "': " + bytes.error().what);
            (k == "memory" ? s.memory : s.cache_max) = *bytes;
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
    if (s.policy.empty() != s.audit.empty())
        return fail_with(Errc::InvalidInput, name + ": policy and audit go together (every decision is recorded)");
    return s;
}

std::string state_root(const std::optional<std::string>& root, const Settings& s)
{
    if (root) return *root;
    return s.state.empty() ? k_default_root : s.state;
}

Result<Settings> load_settings(const std::optional<std::string>& root)
{
    Settings s;
    const std::string bin = protocol::program_path("");
    s.kernel = bin + "../guests/linux/vmlinuz";
    s.initrd = bin + "../guests/linux/oci-initrd.img";
    const char* env = std::getenv("MOAT_OCI_CONFIG");
    std::string file = env && *env ? env : "/etc/moat/oci.toml";
    struct stat st{};
    if ((env && *env) || ::stat(file.c_str(), &st) == 0) {
        auto text = read_capped(file, 1 << 20);
        if (!text) return fail_with(Errc::InvalidInput, file + ": " + describe(text.error()));
        s = MOAT_TRY(parse_settings(*text, file, s));
    }
    if (s.cache.empty()) s.cache = state_root(root, s) + "/.cache";
    return s;
}

}  // namespace moat::oci
