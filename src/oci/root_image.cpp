// The root image and its cache (root_image.hpp).
#include "oci/root_image.hpp"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <sstream>
#include <vector>

#include "oci/image.hpp"
#include "oci/state.hpp"

namespace moat::oci {

namespace {

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescape(std::string_view s)
{
    std::string out;
    auto octal = [](char c) { return c >= '0' && c <= '7'; };
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\\' && i + 3 < s.size() && octal(s[i + 1]) && octal(s[i + 2]) && octal(s[i + 3])) {
            out.push_back(static_cast<char>(((s[i + 1] - '0') << 6) | ((s[i + 2] - '0') << 3) | (s[i + 3] - '0')));
            i += 3;
        } else {
            out.push_back(s[i]);
        }
    }
    return out;
}

std::vector<std::string_view> words(std::string_view line)
{
    std::vector<std::string_view> w;
    for (std::size_t at = 0; at < line.size();) {
        const std::size_t sp = std::min(line.find(' ', at), line.size());
        if (sp > at) w.push_back(line.substr(at, sp - at));
        at = sp + 1;
    }
    return w;
}

// The value of `key=` in comma-separated mount options.
std::string option(std::string_view options, std::string_view key)
{
    for (std::size_t at = 0; at <= options.size();) {
        const std::size_t comma = std::min(options.find(',', at), options.size());
        const std::string_view o = options.substr(at, comma - at);
        if (o.size() > key.size() && o.substr(0, key.size()) == key && o[key.size()] == '=')
            return unescape(o.substr(key.size() + 1));
        at = comma + 1;
    }
    return {};
}

std::string sha256_hex(const std::string& data)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
    static const char* hex = "0123456789abcdef";
    std::string s;
    for (unsigned int i = 0; i < len; ++i) {
        s.push_back(hex[md[i] >> 4]);
        s.push_back(hex[md[i] & 0xf]);
    }
    return s;
}

}  // namespace

std::optional<Overlay> overlay_at(std::string_view mountinfo, const std::string& path)
{
    std::optional<Overlay> found;
    std::istringstream in{std::string(mountinfo)};
    for (std::string line; std::getline(in, line);) {
        const auto w = words(line);
        const auto dash = std::find(w.begin(), w.end(), "-");
        if (w.size() < 5 || dash == w.end() || w.end() - dash < 4) continue;
        if (unescape(w[4]) != path || dash[1] != "overlay") continue;
        // The last mount there is the one seen.
        found = Overlay{option(dash[3], "lowerdir"), option(dash[3], "upperdir")};
    }
    if (found && found->lower.empty()) return std::nullopt;
    return found;
}

std::optional<std::string> cache_key(const Overlay& o)
{
    std::string keyed = "lower " + o.lower + "\n";
    if (!o.upper.empty()) {
        std::error_code ec;
        std::vector<std::string> entries;
        for (auto it = std::filesystem::recursive_directory_iterator(o.upper, ec);
             !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
            const auto& e = *it;
            const std::string rel = e.path().lexically_relative(o.upper).string();
            if (e.is_symlink(ec)) entries.push_back("l " + rel + " " + std::filesystem::read_symlink(e.path(), ec).string());
            else if (e.is_directory(ec)) entries.push_back("d " + rel);
            else if (e.is_regular_file(ec) && e.file_size(ec) == 0) entries.push_back("f " + rel);
            else return std::nullopt;  // content (or a device, a fifo): not keyed by names
        }
        if (ec) return std::nullopt;
        std::sort(entries.begin(), entries.end());
        for (const auto& e : entries) keyed += e + "\n";
    }
    return sha256_hex(keyed);
}

void trim_cache(const std::string& cache, std::uint64_t max, const std::string& keep)
{
    struct Entry {
        std::filesystem::file_time_type when;
        std::uint64_t size;
        std::filesystem::path path;
    };
    std::vector<Entry> entries;
    std::uint64_t total = 0;
    std::error_code ec;
    for (auto it = std::filesystem::directory_iterator(cache, ec); !ec && it != std::filesystem::directory_iterator();
         it.increment(ec)) {
        if (it->path().extension() != ".erofs" || !it->is_regular_file(ec)) continue;
        const auto size = it->file_size(ec);
        const auto when = it->last_write_time(ec);
        if (ec) continue;  // gone meanwhile (another create trimmed it)
        entries.push_back({when, size, it->path()});
        total += size;
    }
    std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.when < b.when; });
    for (const auto& e : entries) {
        if (total <= max) break;
        if (e.path == keep) continue;
        std::filesystem::remove(e.path, ec);
        total -= e.size;
    }
}

Result<base::UniqueFd> root_image(const std::string& rootfs, const std::string& cache, std::uint64_t cache_max,
                                  const std::string& fresh)
{
    auto mountinfo = read_capped("/proc/self/mountinfo", 16 << 20);
    std::optional<std::string> key;
    if (mountinfo)
        if (auto o = overlay_at(*mountinfo, rootfs)) key = cache_key(*o);
    const std::string image = key ? cache + "/" + *key + ".erofs" : fresh;
    if (key) {
        // Opened at once: an image trimmed by another create after this has it open stays this one's.
        base::UniqueFd found(::open(image.c_str(), O_RDONLY | O_CLOEXEC));
        if (found.valid()) {
            ::utimensat(AT_FDCWD, image.c_str(), nullptr, 0);  // used now
            return found;
        }
        std::error_code ec;
        std::filesystem::create_directories(cache, ec);
        if (ec) return fail_with(Errc::Io, "the image cache '" + cache + "': " + ec.message());
        // Images hold every file of the containers' roots, some kept from their own users: the
        // cache is root's alone, whatever the umask made it (or an older moat-oci did).
        if (::chmod(cache.c_str(), 0700) != 0) return fail_errno_in("the image cache '" + cache + "'");
    }
    MOAT_TRY(make_erofs(rootfs, image));
    if (::chmod(image.c_str(), 0600) != 0) return fail_errno_in("the root image '" + image + "'");
    base::UniqueFd fd(::open(image.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) return fail_errno_in("the root image '" + image + "'");
    if (key) trim_cache(cache, cache_max, image);
    return fd;
}

}  // namespace moat::oci
