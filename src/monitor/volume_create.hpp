// Labelled volumes, the user's side: creating a sparse raw image with its label, and
// describing one (`moat volume create | show`). Not part of the monitor (see volume.hpp).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.hpp"
#include "monitor/volume.hpp"

namespace moat::monitor {

// Volume sizes are whole 512-byte sectors (virtio 1.2 §5.2.4: capacity counts 512-byte sectors).
inline constexpr std::uint64_t k_sector_size = 512;

// Checks label text syntax without a lattice (none is known when a volume is created):
// `level` or `level:cat1,cat2`, every name non-empty and made of [A-Za-z0-9_-], no category
// repeated, at most k_max_label_text bytes. Errc::InvalidInput on failure. Whether the names are
// declared is decided later, against the manifest's lattice.
Result<void> check_label_syntax(std::string_view text);

// Creates a sparse raw image of `size` bytes at `path` (mode 0600) and stores both labels.
// Never replaces anything: an existing path, a symlink included, fails with EEXIST. Validates
// first: size > 0 and a multiple of k_sector_size (Errc::OutOfRange), label and integrity syntax
// (Errc::InvalidInput, `what` says which). Host failures are Errc::Io with sys_errno; when the
// path itself cannot be created, `what` is "open" (so callers may print the errno alone).
// ENOTSUP from fsetxattr means the file system lacks user extended attributes. On any failure
// after the file was created, the file is removed again. Thread-safe (no shared state).
Result<void> create_volume(const std::string& path, std::uint64_t size, std::string_view label,
                           std::string_view integrity);

struct VolumeInfo {
    std::uint64_t size;       // bytes (st_size)
    std::uint64_t allocated;  // bytes the file system allocated (st_blocks * 512)
    std::optional<StoredLabel> label;
};

// Size, allocation and stored label of an open image. The fd must refer to a regular file
// (Errc::InvalidInput otherwise); label read errors are returned as errors.
Result<VolumeInfo> volume_info(int fd);

}  // namespace moat::monitor
