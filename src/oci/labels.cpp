// Labelled containers (labels.hpp).
#include "oci/labels.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <thread>

#include "monitor/audit.hpp"
#include "monitor/vm_files.hpp"
#include "monitor/volume.hpp"
#include "oci/state.hpp"
#include "policy/decide.hpp"
#include "policy/plan.hpp"

namespace moat::oci {

namespace {

// Every moat-oci appends to one log; AuditLog admits one writer at a time (flock), so a create
// waits for the one before it, which holds the log for a few records.
Result<monitor::AuditLog> open_audit(const std::string& path)
{
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    for (;;) {
        auto log = monitor::AuditLog::open(path);
        if (log || log.error().sys_errno != EWOULDBLOCK || std::chrono::steady_clock::now() > until)
            return log ? std::move(log) : fail(log.error().in("the audit log '" + path + "'"));
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
}

std::string annotation(const Spec& spec, const char* key)
{
    auto it = spec.annotations.find(key);
    return it == spec.annotations.end() ? std::string() : it->second;
}

// The lowest part of a dimension, as text: the default of an absent annotation.
std::string lowest(const policy::Lattice& l, policy::Dimension d) { return l.levels(d).front(); }

Unexpected<Error> refused(const Spec& spec, const Plan::Volume& v, const std::string& why)
{
    return fail_with(Errc::InvalidInput,
                     "mounts[" + std::to_string(v.mount) + "] (" + spec.mounts[v.mount].destination + "): " + why);
}

// One volume: opened as it will be attached, its stored label checked on that descriptor, the
// act decided; each step recorded before the next.
Result<base::UniqueFd> attach(monitor::AuditLog& log, const policy::Manifest& m, const std::string& id,
                              const policy::Label& label, const Spec& spec, const Plan::Volume& v)
{
    MOAT_CHECK(v.volume < m.volumes.size());  // plan_bundle matched it among volume_paths(m)
    const policy::VolumeSpec* vol = &m.volumes[v.volume];
    base::UniqueFd fd(::open(vol->path.path.c_str(), (v.read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NOCTTY));
    if (!fd.valid()) return refused(spec, v, "volume " + vol->name + " '" + vol->path.path + "': " + std::strerror(errno));
    const std::string expected = policy::format_label(m.lattice, vol->label);
    const auto check = monitor::check_volume_label(fd.get(), m.lattice, vol->label);
    MOAT_TRY(log.append("volume.label", {{"container", std::string_view(id)}, {"volume", std::string_view(vol->name)},
                                         {"expected", std::string_view(expected)},
                                         {"stored", std::string_view(check.stored)},
                                         {"result", monitor::to_string(check.result)}}));
    if (check.result != monitor::LabelCheck::Match)
        return refused(spec, v, "volume " + vol->name + " ('" + vol->path.path + "') is stored as '" + check.stored +
                                    "', but " + m.source + " says '" + expected + "'; refusing it");
    const policy::Act act = v.read_only ? policy::Act::ReadVolume : policy::Act::ReadWriteVolume;
    const policy::PlannedDecision d{id, "volume " + vol->name, act, label, vol->label,
                                    policy::decide(act, label, vol->label), 0, "container"};
    const bool allow = d.decision.verdict == policy::Verdict::Allow;
    MOAT_TRY(log.append("decision", {{"container", std::string_view(id)}, {"object", std::string_view(d.object)},
                                     {"act", policy::to_string(act)},
                                     {"subject_label", std::string_view(policy::format_label(m.lattice, label))},
                                     {"object_label", std::string_view(expected)},
                                     {"decision", allow ? "allow" : "deny"},
                                     {"rule", policy::rule_name(d.decision.rule)}}));
    if (!allow) return refused(spec, v, policy::describe(m, d));
    // One writer: a read-write volume is the VM's alone; readers share it with readers.
    if (::flock(fd.get(), (v.read_only ? LOCK_SH : LOCK_EX) | LOCK_NB) != 0)
        return refused(spec, v, "volume " + vol->name + " is in use by another VM" +
                                    (v.read_only ? " that writes it" : " (a read-write volume is one VM's alone)"));
    return fd;
}

}  // namespace

Result<std::optional<policy::Manifest>> load_policy(const Settings& s)
{
    std::optional<policy::Manifest> objects;
    if (s.policy.empty()) return objects;
    const std::string text = MOAT_TRY(read_capped(s.policy, 1 << 20));
    const std::string dir = std::filesystem::path(s.policy).parent_path().string();
    objects = MOAT_TRY(policy::parse_objects(text, s.policy, dir));
    return objects;
}

std::vector<std::string> volume_paths(const std::optional<policy::Manifest>& objects)
{
    std::vector<std::string> paths;
    if (objects)
        for (const auto& v : objects->volumes) paths.push_back(v.path.path);
    return paths;
}

Result<policy::Label> container_label(const std::optional<policy::Manifest>& objects, const Spec& spec)
{
    const std::string secrecy = annotation(spec, k_label_annotation);
    const std::string integrity = annotation(spec, k_integrity_annotation);
    if (!objects) {
        if (secrecy.empty() && integrity.empty()) return policy::Label{};
        return fail_with(Errc::InvalidInput, std::string("annotations: ") +
                                                 (secrecy.empty() ? k_integrity_annotation : k_label_annotation) +
                                                 " needs a policy, and oci.toml names none (key: policy)");
    }
    const policy::Lattice& l = objects->lattice;
    auto label = policy::parse_label(l, secrecy.empty() ? lowest(l, policy::Dimension::Secrecy) : secrecy,
                                     integrity.empty() ? lowest(l, policy::Dimension::Integrity) : integrity);
    if (!label)
        return fail_with(Errc::InvalidInput, std::string("annotations: ") + k_label_annotation + " '" + secrecy + "', " +
                                                 k_integrity_annotation + " '" + integrity + "': " + label.error().what +
                                                 " '" + label.error().context + "' (" + objects->source + ")");
    return *label;
}

Result<Admission> admit(const policy::Manifest& objects, const std::string& audit, const std::string& id,
                        const policy::Label& label, const Spec& spec, const Plan& plan)
{
    monitor::AuditLog log = MOAT_TRY(open_audit(audit));
    MOAT_TRY(log.append("container.create", {{"container", std::string_view(id)},
                                              {"label", std::string_view(policy::format_label(objects.lattice, label))},
                                              {"volumes", static_cast<std::int64_t>(plan.volumes.size())}}));
    Admission a;
    for (const auto& v : plan.volumes) a.volumes.push_back(MOAT_TRY(attach(log, objects, id, label, spec, v)));
    return a;
}

}  // namespace moat::oci
