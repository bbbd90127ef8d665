// Labelled volumes, the monitor's side: reading the label stored with an image and checking
// it against the manifest's (volume_create.cpp makes volumes; the monitor never does).
#include "monitor/volume.hpp"

#include <sys/xattr.h>

#include <array>
#include <cerrno>

namespace moat::monitor {

namespace {

// One attribute's text; nullopt when the attribute does not exist.
Result<std::optional<std::string>> read_attribute(int fd, const char* name)
{
    std::array<char, k_max_label_text> buf{};
    const ssize_t n = ::fgetxattr(fd, name, buf.data(), buf.size());
    if (n < 0) {
        if (errno == ENODATA) return std::optional<std::string>{};
        if (errno == ERANGE) return fail(Errc::InvalidInput, "stored label is too long", ERANGE);
        return fail_errno("read the label attributes");
    }
    return std::optional<std::string>{std::string(buf.data(), static_cast<std::size_t>(n))};
}

// The stored text is whatever the file carries; keep it from reaching a terminal raw.
std::string printable(std::string_view s)
{
    std::string out;
    out.reserve(s.size());
    for (char c : s) out += (c >= 0x20 && c <= 0x7e) ? c : '?';
    return out;
}

}  // namespace

Result<std::optional<StoredLabel>> read_volume_label(int fd)
{
    auto label = MOAT_TRY(read_attribute(fd, k_label_xattr));
    auto integrity = MOAT_TRY(read_attribute(fd, k_integrity_xattr));
    if (!label && !integrity) return std::optional<StoredLabel>{};
    return std::optional<StoredLabel>{StoredLabel{label.value_or(""), integrity.value_or("")}};
}

LabelCheckResult check_volume_label(int fd, const policy::Lattice& lattice, const policy::Label& expected)
{
    auto stored = read_volume_label(fd);
    if (!stored) return {LabelCheck::Unparsable, {}};
    if (!stored->has_value()) return {LabelCheck::Missing, {}};
    const StoredLabel& s = **stored;
    std::string shown = printable(s.label) + "/" + printable(s.integrity);
    // The lattice decides which names exist; parse_label also rejects empty and malformed text.
    auto parsed = policy::parse_label(lattice, s.label, s.integrity);
    if (!parsed) return {LabelCheck::Unparsable, std::move(shown)};
    return {*parsed == expected ? LabelCheck::Match : LabelCheck::Differs, std::move(shown)};
}

}  // namespace moat::monitor
