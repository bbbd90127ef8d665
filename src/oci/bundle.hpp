// What `moat-oci create` makes of a bundle: the rootfs directory that becomes the VM's
// read-only image, and each mount sorted by how a VM can have it. A VM shares no directory with
// the host, so a read-write bind of a directory is refused, naming the mount.
#pragma once

#include <string>
#include <vector>

#include "base/result.hpp"
#include "oci/spec.hpp"

namespace moat::oci {

struct Plan {
    std::string rootfs;  // absolute path of a directory
    // File systems the guest makes itself (proc, sysfs, devpts, tmpfs, mqueue, cgroup).
    std::vector<Mount> guest_mounts;
    // Small regular files bound in (/etc/hosts, /etc/resolv.conf, ...): copied into the guest at
    // create; the container's writes to them stay in the guest.
    struct File {
        std::string source, destination;
    };
    std::vector<File> files;
    // Directories bound in read-only: each a read-only image of its own, another disk.
    struct Dir {
        std::string source, destination;
    };
    std::vector<Dir> dirs;
    // Labelled volumes (image files the policy declares) bound in: each attached as a disk,
    // read-only or read-write as the mount says, if the policy allows it (labels.hpp).
    struct Volume {
        std::size_t volume = 0;  // the index of the declared path it matched
        std::string destination;
        bool read_only = false;
        std::size_t mount = 0;  // index into spec.mounts, for messages
    };
    std::vector<Volume> volumes;
};

// The largest file bound in that is copied.
inline constexpr std::uint64_t k_max_copied_file = 1 << 20;

// Sorts the spec's root and mounts; `bundle` is the bundle directory (absolute). A bound
// regular file whose real path is `volumes[i]` (the policy's volume paths) is volume i; any
// other file carrying a moat volume label is refused (it is not copied). Errors
// (Errc::InvalidInput or Unsupported) name the field and say what to do.
Result<Plan> plan_bundle(const Spec& spec, const std::string& bundle, const std::vector<std::string>& volumes = {});

}  // namespace moat::oci
