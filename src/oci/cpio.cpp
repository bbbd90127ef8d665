// newc: a 110-byte ASCII header of 13 eight-digit hex fields after "070701", the name with its
// NUL, padding to 4 bytes, the data, padding to 4 bytes (the kernel's init/initramfs.c).
#include "oci/cpio.hpp"

#include <sys/stat.h>

#include <cstdio>

namespace moat::oci {

namespace {

void pad4(std::string& s) { s.append((4 - s.size() % 4) % 4, '\0'); }

bool bad_name(std::string_view n)
{
    if (n.empty() || n.front() == '/' || n.find('\0') != std::string_view::npos) return true;
    for (std::size_t at = 0; at <= n.size();) {
        const std::size_t end = std::min(n.find('/', at), n.size());
        if (n.substr(at, end - at) == "..") return true;
        at = end + 1;
    }
    return false;
}

}  // namespace

Result<void> Cpio::add(std::string_view name, std::uint32_t mode, std::string_view data)
{
    if (bad_name(name)) return fail_with(Errc::InvalidInput, "cpio: bad member name '" + std::string(name) + "'");
    if (data.size() > 0xffffffffu) return fail_with(Errc::InvalidInput, "cpio: member over 4 GiB");
    char h[111];
    // magic, ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor, rdevminor, namesize, check
    std::snprintf(h, sizeof h, "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X", m_ino++, mode, 0u, 0u,
                  S_ISDIR(mode) ? 2u : 1u, 0u, static_cast<unsigned>(data.size()), 0u, 0u, 0u, 0u,
                  static_cast<unsigned>(name.size() + 1), 0u);
    m_out.append(h, 110);
    m_out.append(name);
    m_out.push_back('\0');
    pad4(m_out);
    m_out.append(data);
    pad4(m_out);
    return {};
}

Result<void> Cpio::add_dir(std::string_view name, std::uint32_t mode) { return add(name, S_IFDIR | (mode & 07777), {}); }

Result<void> Cpio::add_file(std::string_view name, std::string_view data, std::uint32_t mode)
{
    return add(name, S_IFREG | (mode & 07777), data);
}

std::string Cpio::finish()
{
    // The trailer is a member like any other, named TRAILER!!!, with no data.
    m_ino = 0;
    (void)add("TRAILER!!!", 0, {});
    std::string out = std::move(m_out);
    m_out.clear();
    m_ino = 1;
    return out;
}

}  // namespace moat::oci
