// `moat audit verify|show`: reads the log file and prints what moat_audit_tools finds.
#include "cli/audit_cmd.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "base/unique_fd.hpp"
#include "monitor/audit_verify.hpp"

namespace moat::cli {

namespace {

constexpr int k_exit_broken = 1;
constexpr int k_exit_file = 2;

// The whole file, or nullopt after printing why not.
std::optional<std::string> read_log(const std::string& path)
{
    base::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    struct stat st {};
    int err = 0;
    if (!fd.valid() || ::fstat(fd.get(), &st) != 0) {
        err = errno;
    } else if (!S_ISREG(st.st_mode)) {
        std::fprintf(stderr, "audit: '%s': not a regular file\n", path.c_str());
        return std::nullopt;
    }
    std::string text;
    if (err == 0) {
        text.reserve(static_cast<std::size_t>(st.st_size));
        char buf[65536];
        for (;;) {
            const ssize_t n = ::read(fd.get(), buf, sizeof buf);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) {
                err = errno;
                break;
            }
            if (n == 0) break;
            text.append(buf, static_cast<std::size_t>(n));
        }
    }
    if (err != 0) {
        std::fprintf(stderr, "audit: '%s': %s\n", path.c_str(), std::strerror(err));
        return std::nullopt;
    }
    return text;
}

void print_line(std::string_view s)
{
    std::fwrite(s.data(), 1, s.size(), stdout);
    std::fputc('\n', stdout);
}

}  // namespace

int audit_verify_main(const std::string& path) { return audit_verify_main(path, std::nullopt); }

int audit_verify_main(const std::string& path, const std::optional<std::string>& anchor)
{
    std::optional<monitor::AuditAnchor> a;
    if (anchor) {
        a = monitor::parse_audit_anchor(*anchor);
        if (!a) {
            std::fprintf(stderr, "audit: anchor '%s' is not SEQ:HASH (64 lower-case hex digits)\n", anchor->c_str());
            return k_exit_file;
        }
    }
    const auto text = read_log(path);
    if (!text) return k_exit_file;
    const monitor::VerifyReport r = monitor::verify_audit(*text, a);
    const std::string msg = monitor::format_report(r);
    std::printf("%s%s\n", r.ok ? "" : "audit: ", msg.c_str());
    std::fflush(stdout);
    return r.ok ? 0 : k_exit_broken;
}

int audit_show_main(const std::string& path, std::optional<std::string> vm, std::optional<std::string> event,
                    bool raw)
{
    const auto text = read_log(path);
    if (!text) return k_exit_file;
    for (std::string_view line : monitor::filter_audit(*text, vm, event))
        print_line(raw ? std::string(line) : monitor::render_record(line));
    std::fflush(stdout);
    return 0;
}

}  // namespace moat::cli
