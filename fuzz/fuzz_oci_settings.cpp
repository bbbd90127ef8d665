// moat-oci's user input beside config.json: /etc/moat/oci.toml, and the label annotations read
// against a policy's lattice. Any bytes parse or fail with one line that names what was wrong.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/check.hpp"
#include "oci/labels.hpp"
#include "oci/settings.hpp"
#include "policy/manifest.hpp"

namespace {

const moat::policy::Manifest& policy_objects()
{
    static const moat::policy::Manifest m = *moat::policy::parse_objects(
        "[lattice]\nlevels = [\"public\", \"secret\"]\ncategories = [\"hr\", \"ops\"]\n"
        "integrity = [\"untrusted\", \"trusted\"]\n",
        "policy.toml", "");
    return m;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    auto s = moat::oci::parse_settings(text, "oci.toml", moat::oci::Settings{});
    if (s) {
        MOAT_CHECK(s->ready_timeout >= 1 && s->ready_timeout <= 3600);
        MOAT_CHECK(s->policy.empty() == s->audit.empty());
    } else {
        MOAT_CHECK(moat::describe(s.error()).starts_with("oci.toml"));
    }
    // The same bytes as annotations: the secrecy up to the first newline, the integrity after it.
    moat::oci::Spec spec;
    const std::size_t nl = text.find('\n');
    spec.annotations[moat::oci::k_label_annotation] = std::string(text.substr(0, nl));
    if (nl != std::string_view::npos) spec.annotations[moat::oci::k_integrity_annotation] = std::string(text.substr(nl + 1));
    const std::optional<moat::policy::Manifest> objects = policy_objects();
    auto label = moat::oci::container_label(objects, spec);
    if (label) MOAT_CHECK(moat::policy::within(objects->lattice, *label));
    else MOAT_CHECK(moat::describe(label.error()).starts_with("annotations: "));
    return 0;
}
