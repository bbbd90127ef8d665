// Reading a manifest file (see manifest_file.hpp).
#include "monitor/manifest_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "base/unique_fd.hpp"

namespace moat::monitor {

Result<ManifestFile> load_manifest(const std::string& path)
{
    const std::string name = "manifest '" + path + "'";
    base::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
    if (!fd.valid()) return fail_errno_in(name);
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) return fail_errno_in(name);
    if (!S_ISREG(st.st_mode)) return fail_with(Errc::InvalidInput, name + ": not a regular file");
    std::string text;
    char buf[16384];
    for (;;) {
        const ssize_t n = ::read(fd.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return fail_errno_in(name);
        if (n == 0) break;
        if (text.size() + static_cast<std::size_t>(n) > k_max_manifest_bytes)
            return fail_with(Errc::InvalidInput, name + ": larger than 1 MiB");
        text.append(buf, static_cast<std::size_t>(n));
    }
    const auto slash = path.rfind('/');
    std::string dir = slash == std::string::npos ? "." : path.substr(0, slash == 0 ? 1 : slash);
    auto m = MOAT_TRY(policy::parse_manifest(text, path, dir));
    return ManifestFile{std::move(m), std::move(dir)};
}

}  // namespace moat::monitor
