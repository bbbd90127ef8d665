// Labelled volumes: raw disk images whose security label lives in extended attributes on the
// image file. This is the monitor's side, reading and checking a stored label;
// volume_create.hpp makes volumes.
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
inline constexpr const char* k_label_xattr = "user.moat.label";          // secrecy, e.g. "secret:finance"
inline constexpr const char* k_integrity_xattr = "user.moat.integrity";  // integrity, e.g. "trusted"

// Longest label text stored or read back; longer attributes are refused, not truncated.
inline constexpr std::size_t k_max_label_text = 1024;

struct StoredLabel {
    std::string label;      // secrecy text as stored
    std::string integrity;  // integrity text as stored
};

// Reads the stored label text of an open image. nullopt when neither attribute exists (not a
// moat volume). If only one exists, the other is returned empty (which no lattice parses).
// Errors: Errc::Io for failures such as ENOTSUP; Errc::InvalidInput (ERANGE) for an attribute
// longer than k_max_label_text. The text is not validated: it is whatever the file carries.
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

}  // namespace moat::monitor
