// Labelled containers (docs/oci.md "Labels"): a container's label from its annotations, and the
// volumes it may be given, decided by the same rules as a system's VMs (policy::decide,
// DESIGN.md "Security policy") and recorded in the same hash-chained audit log format.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "base/unique_fd.hpp"
#include "oci/bundle.hpp"
#include "oci/settings.hpp"
#include "oci/spec.hpp"
#include "policy/label.hpp"
#include "policy/manifest.hpp"

namespace moat::oci {

inline constexpr const char* k_label_annotation = "moat.label";          // secrecy, e.g. "secret:finance"
inline constexpr const char* k_integrity_annotation = "moat.integrity";  // e.g. "trusted"

// The policy file oci.toml names (`policy`: a lattice and labelled volumes, policy::parse_objects),
// or nullopt when it names none. Errors name the file, the line and the key.
Result<std::optional<policy::Manifest>> load_policy(const Settings& s);

// The declared volumes' paths, for plan_bundle.
std::vector<std::string> volume_paths(const std::optional<policy::Manifest>& objects);

// The container's label: its annotations, each half the lattice's lowest when absent. Without a
// policy there is no lattice, and a label annotation is refused rather than ignored.
Result<policy::Label> container_label(const std::optional<policy::Manifest>& objects, const Spec& spec);

// What the policy gave a container: its volumes, open as attached (read-write unless
// plan.volumes[i].read_only), in plan.volumes' order.
struct Admission {
    std::vector<base::UniqueFd> volumes;
};

// Admits container `id` with `label` and the plan's volumes, appending to the audit log (the
// file `audit`, shared by every moat-oci; a writer waits its turn): `container.create`, then for
// each volume the label stored on the descriptor to be attached (`volume.label`) and the
// decision (`decision`, as the monitor writes them), each before the act. The first refusal
// ends it, naming the mount, the rule and both labels. A read-write volume is also refused while
// another VM holds it (an exclusive flock that the VM process keeps with the descriptor).
Result<Admission> admit(const policy::Manifest& objects, const std::string& audit, const std::string& id,
                        const policy::Label& label, const Spec& spec, const Plan& plan);

}  // namespace moat::oci
