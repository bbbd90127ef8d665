// The container's root as an erofs image, cached by what it was made from: when the bundle's
// root is an overlay mount (podman's and containerd's snapshots), by its lower layers, so that a
// second container of the same image does not make it again (docs/oci.md).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.hpp"
#include "base/unique_fd.hpp"

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

// The image, open: CACHE/KEY.erofs for a cacheable overlay (made if missing; its time set to now
// when found, so that the least recently used go first), else `fresh`, made now. A new cached
// image then trims the cache to `cache_max` bytes. Errors name the directory.
Result<base::UniqueFd> root_image(const std::string& rootfs, const std::string& cache, std::uint64_t cache_max,
                                  const std::string& fresh);

// Removes the least recently used images (CACHE/*.erofs, by modification time) until they take
// at most `max` bytes, never `keep`. An image a VM holds open stays its VM's until it ends (an
// unlinked file lives on); a create that finds its image gone makes it again.
void trim_cache(const std::string& cache, std::uint64_t max, const std::string& keep);

}  // namespace moat::oci
