// Labelled volumes, the user's side (`moat volume create | show`): making sparse raw images
// with their label extended attributes, and describing one. Not part of the monitor.
#include "monitor/volume_create.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <limits>
#include <vector>

#include "base/unique_fd.hpp"

namespace moat::monitor {

namespace {

// Names are ASCII letters, digits, '_' and '-'; locale-independent on purpose.
bool is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

bool is_name(std::string_view s)
{
    if (s.empty()) return false;
    for (char c : s)
        if (!is_name_char(c)) return false;
    return true;
}

// Writes size and labels into a freshly created, empty file.
Result<void> fill_new_volume(int fd, std::uint64_t size, std::string_view label, std::string_view integrity)
{
    // Extending with ftruncate allocates nothing: the image is sparse.
    if (::ftruncate(fd, static_cast<off_t>(size)) != 0) return fail_errno("set the image size");
    // XATTR_CREATE: the file is new, so an existing attribute would mean someone else is at work.
    if (::fsetxattr(fd, k_label_xattr, label.data(), label.size(), XATTR_CREATE) != 0)
        return fail_errno("store the label attribute");
    if (::fsetxattr(fd, k_integrity_xattr, integrity.data(), integrity.size(), XATTR_CREATE) != 0)
        return fail_errno("store the integrity attribute");
    if (::fsync(fd) != 0) return fail_errno("sync the image");
    return {};
}

// Removes the file create_volume made, but only if `path` still names that very file: if it
// was renamed away and replaced meanwhile, the replacement is not ours to delete.
void remove_created(const std::string& path, int fd)
{
    struct stat ours{};
    struct stat now{};
    if (::fstat(fd, &ours) != 0 || ::lstat(path.c_str(), &now) != 0) return;
    if (ours.st_dev == now.st_dev && ours.st_ino == now.st_ino) ::unlink(path.c_str());
}

}  // namespace

Result<void> check_label_syntax(std::string_view text)
{
    if (text.empty()) return fail(Errc::InvalidInput, "label is empty");
    if (text.size() > k_max_label_text) return fail(Errc::InvalidInput, "label is too long");
    const std::size_t colon = text.find(':');
    if (!is_name(text.substr(0, colon)))
        return fail(Errc::InvalidInput, "label level must be a name of letters, digits, '_' or '-'");
    if (colon == std::string_view::npos) return {};

    std::vector<std::string_view> seen;
    std::string_view rest = text.substr(colon + 1);
    while (true) {
        const std::size_t comma = rest.find(',');
        const std::string_view name = rest.substr(0, comma);
        if (!is_name(name))
            return fail(Errc::InvalidInput, "label category must be a name of letters, digits, '_' or '-'");
        for (std::string_view s : seen)
            if (s == name) return fail(Errc::InvalidInput, "label repeats a category");
        seen.push_back(name);
        if (comma == std::string_view::npos) return {};
        rest = rest.substr(comma + 1);
    }
}

Result<void> create_volume(const std::string& path, std::uint64_t size, std::string_view label,
                           std::string_view integrity)
{
    if (size == 0 || size % k_sector_size != 0)
        return fail(Errc::OutOfRange, "volume size must be a positive multiple of 512 bytes");
    if (size > static_cast<std::uint64_t>(std::numeric_limits<off_t>::max()))
        return fail(Errc::OutOfRange, "volume size is too large");
    if (!check_label_syntax(label))
        return fail(Errc::InvalidInput, "label must be 'level' or 'level:cat1,cat2' (letters, digits, '_', '-')");
    if (!check_label_syntax(integrity))
        return fail(Errc::InvalidInput,
                    "integrity must be 'level' or 'level:cat1,cat2' (letters, digits, '_', '-')");

    // O_EXCL never reuses an existing file and, with O_CREAT, refuses a symlink even if dangling.
    base::UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!fd.valid()) return fail_errno("open");
    auto filled = fill_new_volume(fd.get(), size, label, integrity);
    if (!filled) {
        remove_created(path, fd.get());
        return filled;
    }
    return {};
}

Result<VolumeInfo> volume_info(int fd)
{
    struct stat st{};
    if (::fstat(fd, &st) != 0) return fail_errno("stat the image");
    if (!S_ISREG(st.st_mode)) return fail(Errc::InvalidInput, "not a regular file");
    VolumeInfo info{};
    info.size = static_cast<std::uint64_t>(st.st_size);
    // st_blocks counts 512-byte units whatever the file system's block size (stat(2)).
    info.allocated = static_cast<std::uint64_t>(st.st_blocks) * 512u;
    info.label = MOAT_TRY(read_volume_label(fd));
    return info;
}

}  // namespace moat::monitor
