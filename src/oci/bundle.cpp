// A bundle's root and mounts, sorted by what a VM can be given.
#include "oci/bundle.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace moat::oci {

namespace {

// File systems the guest's init mounts for itself; their source and options stay the spec's.
bool guest_made(const std::string& type)
{
    for (const char* t : {"proc", "sysfs", "devpts", "tmpfs", "mqueue", "cgroup", "cgroup2", "devtmpfs"})
        if (type == t) return true;
    return false;
}

Unexpected<Error> refuse(Errc code, std::size_t index, const Mount& m, const std::string& why)
{
    return fail_with(code, "mounts[" + std::to_string(index) + "] (" + m.destination + "): " + why);
}

Result<void> sort_bind(std::size_t index, const Mount& m, Plan& plan)
{
    struct stat st {};
    if (m.source.empty() || m.source[0] != '/')
        return refuse(Errc::InvalidInput, index, m, "a bind needs an absolute source");
    if (::stat(m.source.c_str(), &st) != 0)
        return refuse(Errc::InvalidInput, index, m, "source '" + m.source + "': " + std::strerror(errno));
    if (S_ISREG(st.st_mode)) {
        if (static_cast<std::uint64_t>(st.st_size) > k_max_copied_file)
            return refuse(Errc::Unsupported, index, m,
                          "a bound file is copied into the VM, and '" + m.source + "' is over 1 MiB");
        plan.files.push_back({m.source, m.destination});
        return {};
    }
    if (S_ISDIR(st.st_mode)) {
        if (!m.is_read_only())
            return refuse(Errc::Unsupported, index, m,
                          "a read-write bind of a directory needs a file system shared with the host, which a moat "
                          "VM does not have: bind it read-only (':ro'), or use a volume");
        plan.dirs.push_back({m.source, m.destination});
        return {};
    }
    return refuse(Errc::Unsupported, index, m, "'" + m.source + "' is neither a regular file nor a directory");
}

}  // namespace

Result<Plan> plan_bundle(const Spec& spec, const std::string& bundle)
{
    if (!spec.process) return fail_with(Errc::InvalidInput, "process: missing (create needs the process to run)");
    Plan plan;
    plan.rootfs = spec.root_path[0] == '/' ? spec.root_path : bundle + "/" + spec.root_path;
    struct stat st {};
    if (::stat(plan.rootfs.c_str(), &st) != 0)
        return fail_with(Errc::InvalidInput, "root.path '" + plan.rootfs + "': " + std::strerror(errno));
    if (!S_ISDIR(st.st_mode)) return fail_with(Errc::InvalidInput, "root.path '" + plan.rootfs + "': not a directory");
    for (std::size_t i = 0; i < spec.mounts.size(); ++i) {
        const Mount& m = spec.mounts[i];
        if (m.is_bind()) {
            MOAT_TRY(sort_bind(i, m, plan));
        } else if (guest_made(m.type)) {
            plan.guest_mounts.push_back(m);
        } else {
            return refuse(Errc::Unsupported, i, m,
                          "a file system of type '" + m.type + "' cannot be given to a VM (moat-oci takes binds and "
                          "proc, sysfs, devpts, tmpfs, mqueue, cgroup)");
        }
    }
    return plan;
}

}  // namespace moat::oci
