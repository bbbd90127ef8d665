// config.json as moat-oci reads it from a bundle: any bytes parse or fail cleanly, what parses
// keeps the promises the runtime relies on, and encodes for the guest or is refused cleanly.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "base/check.hpp"
#include "oci/guest_config.hpp"
#include "oci/spec.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    auto s = moat::oci::parse_spec(std::string_view(reinterpret_cast<const char*>(data), size));
    if (!s) return 0;
    if (s->process) {
        MOAT_CHECK(!s->process->args.empty() && !s->process->args[0].empty());
        MOAT_CHECK(!s->process->cwd.empty() && s->process->cwd[0] == '/');
        for (const auto& l : s->process->rlimits) MOAT_CHECK(l.soft <= l.hard);
    }
    for (const auto& m : s->mounts) MOAT_CHECK(!m.destination.empty() && m.destination[0] == '/');
    // What moat-init would be given: refused cleanly (a NUL inside a value), or records whose
    // every field ends with a NUL.
    if (s->process) {
        moat::oci::Plan plan;
        for (const auto& m : s->mounts)
            if (!m.is_bind()) plan.guest_mounts.push_back(m);
        auto c = moat::oci::encode_guest_config(*s, plan);
        if (c) MOAT_CHECK(!c->empty() && c->back() == '\0');
    }
    const auto z = moat::oci::guest_size(*s, 256u << 20, 128u << 20, 8);
    MOAT_CHECK(z.memory >= 128u << 20 && z.vcpus >= 1 && z.vcpus <= 8);
    return 0;
}
