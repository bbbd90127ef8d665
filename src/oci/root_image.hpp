// The container's root as an erofs image, cached by what it was made from: when the bundle's
// root is an overlay mount (podman's and containerd's snapshots), by its lower layers, so that a
// second container of the same image does not make it again (docs/oci.md).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/result.hpp"

namespace moat::oci {

// What an overlay mount at `path` is made of, from the text of /proc/self/mountinfo: its
// lowerdir and upperdir options; nothing when no overlay is mounted exactly there.
struct Overlay {
    std::string lower, upper;
};
std::optional<Overlay> overlay_at(std::string_view mountinfo, const std::string& path);

// The cache key of an overlay's image: a SHA-256 over its lower layers and what its upper layer
// holds, or nothing when the upper layer holds a file with content (only names, directories,
// symlinks and empty files, such as an engine's mount points, are keyed exactly).
std::optional<std::string> cache_key(const Overlay& o);

// The image's path: CACHE/KEY.erofs (made if missing) for a cacheable overlay, else `fresh`,
// made now. Errors name the directory.
Result<std::string> root_image(const std::string& rootfs, const std::string& cache, const std::string& fresh);

}  // namespace moat::oci
