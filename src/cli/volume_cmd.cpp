// `moat volume create|show`: command-line front ends for monitor/volume.hpp.
#include "cli/volume_cmd.hpp"

#include <fcntl.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string_view>

#include "base/unique_fd.hpp"
#include "cli/options.hpp"
#include "monitor/volume_create.hpp"

namespace moat::cli {

namespace {

// "64M" when the size is a whole number of K/M/G/T, else "1536 bytes".
std::string format_size(std::uint64_t v)
{
    constexpr struct {
        unsigned shift;
        char unit;
    } units[] = {{40, 'T'}, {30, 'G'}, {20, 'M'}, {10, 'K'}};
    for (const auto& u : units) {
        const std::uint64_t one = std::uint64_t{1} << u.shift;
        if (v >= one && v % one == 0) return std::to_string(v >> u.shift) + u.unit;
    }
    return std::to_string(v) + " bytes";
}

// Stored label text comes from the file, not from us: never print control bytes raw.
std::string printable(std::string_view s)
{
    std::string out;
    for (char c : s) out += (c >= 0x20 && c <= 0x7e) ? c : '?';
    return out;
}

std::string describe_volume_error(const Error& e)
{
    if (e.code != Errc::Io || e.sys_errno == 0) return e.what;
    const std::string reason = std::strerror(e.sys_errno);
    // Failing to open the path itself: "File exists", "Permission denied" say it all.
    if (std::strcmp(e.what, "open") == 0) return reason;
    std::string s = std::string(e.what) + ": " + reason;
    if (e.sys_errno == ENOTSUP && std::strstr(e.what, "attribute") != nullptr)
        s += " (the file system does not support user extended attributes)";
    return s;
}

int report(const char* command, const std::string& path, const std::string& message, int status)
{
    std::fprintf(stderr, "moat: volume %s '%s': %s\n", command, path.c_str(), message.c_str());
    return status;
}

int report(const char* command, const std::string& path, const Error& e)
{
    return report(command, path, describe_volume_error(e), e.code == Errc::Io ? 1 : 2);
}

}  // namespace

int volume_create_main(const std::string& path, const std::string& size_text, const std::string& label,
                       const std::string& integrity)
{
    auto size = parse_size(size_text);
    if (!size) return report("create", path, "size '" + size_text + "': " + size.error().what, 2);
    auto created = monitor::create_volume(path, *size, label, integrity);
    if (!created) {
        // The path already names something, or cannot be created where the user said: their
        // input (status 2). Failures after creation are the host's (status 1).
        const Error& e = created.error();
        const int n = e.sys_errno;
        const bool input = std::string_view(e.what) == "open" &&
                           (n == EEXIST || n == ENOENT || n == ENOTDIR || n == EACCES || n == EISDIR || n == ELOOP);
        return input ? report("create", path, std::strerror(n), 2) : report("create", path, e);
    }
    std::printf("created %s: %s, label %s, integrity %s\n", path.c_str(), format_size(*size).c_str(), label.c_str(),
                integrity.c_str());
    return 0;
}

int volume_show_main(const std::string& path)
{
    // O_NONBLOCK: opening a FIFO must not hang; it is refused below as not a regular file.
    base::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
    // A path that names nothing usable is the user's input at fault (status 2); other
    // failures are the host's (status 1).
    if (!fd.valid()) {
        const int e = errno;
        const bool input = e == ENOENT || e == ENOTDIR || e == EACCES || e == ELOOP || e == ENAMETOOLONG;
        return report("show", path, std::strerror(e), input ? 2 : 1);
    }
    auto info = monitor::volume_info(fd.get());
    if (!info) return report("show", path, info.error());

    std::printf("path: %s\n", path.c_str());
    if (format_size(info->size).ends_with(" bytes"))
        std::printf("size: %llu bytes\n", static_cast<unsigned long long>(info->size));
    else
        std::printf("size: %s (%llu bytes)\n", format_size(info->size).c_str(),
                    static_cast<unsigned long long>(info->size));
    std::printf("allocated: %llu bytes\n", static_cast<unsigned long long>(info->allocated));
    if (!info->label) {
        std::printf("label: none (not a moat volume)\n");
        return 0;
    }
    auto line = [](const char* key, const std::string& text) {
        if (text.empty())
            std::printf("%s: none (missing)\n", key);
        else
            std::printf("%s: %s\n", key, printable(text).c_str());
    };
    line("label", info->label->label);
    line("integrity", info->label->integrity);
    return 0;
}

}  // namespace moat::cli
