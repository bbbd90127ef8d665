// A bundle's root and mounts, sorted by what a VM can be given.
#include "oci/bundle.hpp"

#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/xattr.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>

#include "monitor/volume.hpp"

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

// An engine's /dev/shm (podman binds an empty tmpfs of its own there, read-write) becomes a
// tmpfs of the same size in the guest: it starts empty either way, and what is written there
// stays in the VM, as a VM shares no memory with the host's other processes.
std::optional<Mount> shm_in_guest(const Mount& m, const struct stat& st)
{
    struct statfs fs {};
    std::error_code ec;
    if (m.destination != "/dev/shm" || ::statfs(m.source.c_str(), &fs) != 0 ||
        fs.f_type != static_cast<decltype(fs.f_type)>(TMPFS_MAGIC) || !std::filesystem::is_empty(m.source, ec) || ec)
        return std::nullopt;
    const auto bytes = static_cast<std::uint64_t>(fs.f_blocks) * static_cast<std::uint64_t>(fs.f_bsize);
    std::string options = "size=" + std::to_string(bytes);
    char mode[16];
    std::snprintf(mode, sizeof mode, "mode=%o", static_cast<unsigned>(st.st_mode & 07777));
    Mount shm{m.destination, "tmpfs", "shm", {options, mode}};
    for (const std::string& o : m.options)
        if (o == "nosuid" || o == "nodev" || o == "noexec") shm.options.push_back(o);
    return shm;
}

// The index of the declared volume whose real path is the real path of `source`, if any.
std::optional<std::size_t> declared_volume(const std::string& source, const std::vector<std::string>& volumes)
{
    std::error_code ec;
    const auto real = std::filesystem::canonical(source, ec);
    if (ec) return std::nullopt;
    for (std::size_t i = 0; i < volumes.size(); ++i)
        if (std::filesystem::canonical(volumes[i], ec) == real && !ec) return i;
    return std::nullopt;
}

bool carries_volume_label(const std::string& path)
{
    return ::getxattr(path.c_str(), monitor::k_label_xattr, nullptr, 0) >= 0 ||
           ::getxattr(path.c_str(), monitor::k_integrity_xattr, nullptr, 0) >= 0;
}

Result<void> sort_bind(std::size_t index, const Mount& m, Plan& plan, const std::vector<std::string>& volumes)
{
    struct stat st {};
    if (m.source.empty() || m.source[0] != '/')
        return refuse(Errc::InvalidInput, index, m, "a bind needs an absolute source");
    if (::stat(m.source.c_str(), &st) != 0)
        return refuse(Errc::InvalidInput, index, m, "source '" + m.source + "': " + std::strerror(errno));
    if (S_ISREG(st.st_mode)) {
        if (auto v = declared_volume(m.source, volumes)) {
            plan.volumes.push_back({*v, m.destination, m.is_read_only(), index});
            return {};
        }
        if (carries_volume_label(m.source))
            return refuse(Errc::InvalidInput, index, m,
                          "'" + m.source + "' is a moat volume that the policy does not declare (oci.toml: policy)");
        if (static_cast<std::uint64_t>(st.st_size) > k_max_copied_file)
            return refuse(Errc::Unsupported, index, m,
                          "a bound file is copied into the VM, and '" + m.source + "' is over 1 MiB");
        plan.files.push_back({m.source, m.destination});
        return {};
    }
    if (S_ISDIR(st.st_mode)) {
        if (!m.is_read_only()) {
            if (auto shm = shm_in_guest(m, st)) {
                plan.guest_mounts.push_back(std::move(*shm));
                return {};
            }
            return refuse(Errc::Unsupported, index, m,
                          "a read-write bind of a directory needs a file system shared with the host, which a moat "
                          "VM does not have: bind it read-only (':ro'), or use a volume");
        }
        plan.dirs.push_back({m.source, m.destination});
        return {};
    }
    return refuse(Errc::Unsupported, index, m, "'" + m.source + "' is neither a regular file nor a directory");
}

}  // namespace

Result<Plan> plan_bundle(const Spec& spec, const std::string& bundle, const std::vector<std::string>& volumes)
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
            MOAT_TRY(sort_bind(i, m, plan, volumes));
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
