// Labelled volumes: raw disk images whose security label lives in extended attributes on the
// image file (issue 5, acceptance 5; DESIGN.md "Security policy").
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.hpp"
#include "policy/label.hpp"
#include "policy/lattice.hpp"

namespace moat::monitor {

// The extended attributes holding a volume's label text, exactly as the user wrote it.
inline constexpr const char* kLabelXattr = "user.moat.label";          // secrecy, e.g. "secret:finance"
inline constexpr const char* kIntegrityXattr = "user.moat.integrity";  // integrity, e.g. "trusted"

// Longest label text stored or read back; longer attributes are refused, not truncated.
inline constexpr std::size_t kMaxLabelText = 1024;
// Volume sizes are whole 512-byte sectors (virtio 1.2 §5.2.4: capacity counts 512-byte sectors).
inline constexpr std::uint64_t kSectorSize = 512;

// Checks label text syntax without a lattice (none is known when a volume is created):
// `level` or `level:cat1,cat2`, every name non-empty and made of [A-Za-z0-9_-], no category
// repeated, at most kMaxLabelText bytes. Errc::InvalidInput on failure. Whether the names are
// declared is decided later, against the manifest's lattice.
Result<void> check_label_syntax(std::string_view text);

// Creates a sparse raw image of `size` bytes at `path` (mode 0600) and stores both labels.
// Never replaces anything: an existing path, a symlink included, fails with EEXIST. Validates
// first: size > 0 and a multiple of kSectorSize (Errc::OutOfRange), label and integrity syntax
// (Errc::InvalidInput, `what` says which). Host failures are Errc::Io with sys_errno; when the
// path itself cannot be created, `what` is "open" (so callers may print the errno alone).
// ENOTSUP from fsetxattr means the file system lacks user extended attributes. On any failure
// after the file was created, the file is removed again. Thread-safe (no shared state).
Result<void> create_volume(const std::string& path, std::uint64_t size, std::string_view label,
                           std::string_view integrity);

struct StoredLabel {
    std::string label;      // secrecy text as stored
    std::string integrity;  // integrity text as stored
};

// Reads the stored label text of an open image. nullopt when neither attribute exists (not a
// moat volume). If only one exists, the other is returned empty (which no lattice parses).
// Errors: Errc::Io for failures such as ENOTSUP; Errc::InvalidInput (ERANGE) for an attribute
// longer than kMaxLabelText. The text is not validated: it is whatever the file carries.
Result<std::optional<StoredLabel>> read_volume_label(int fd);

enum class LabelCheck : std::uint8_t {
    Match,       // the stored label equals the expected one
    Missing,     // the image carries no label
    Differs,     // the stored label parses but is another label
    Unparsable,  // the stored text is incomplete, malformed, names something the lattice lacks,
                 // or could not be read at all (e.g. ENOTSUP)
};

struct LabelCheckResult {
    LabelCheck result;
    // "label/integrity" as stored, for messages, e.g. "secret:finance/trusted"; bytes outside
    // printable ASCII are shown as '?'. Empty for Missing or when reading failed.
    std::string stored;
};

// Compares the label stored on an open image with the manifest's. Used by the monitor on the
// very descriptor it is about to pass on, so the file checked is the file attached (no TOCTOU).
// Both sides are compared as parsed Label values, so "secret:hr,finance" matches
// "secret:finance,hr".
LabelCheckResult check_volume_label(int fd, const policy::Lattice& lattice, const policy::Label& expected);

struct VolumeInfo {
    std::uint64_t size;       // bytes (st_size)
    std::uint64_t allocated;  // bytes the file system allocated (st_blocks * 512)
    std::optional<StoredLabel> label;
};

// Size, allocation and stored label of an open image. The fd must refer to a regular file
// (Errc::InvalidInput otherwise); label read errors are returned as errors.
Result<VolumeInfo> volume_info(int fd);

}  // namespace moat::monitor
