// mkfs.erofs, run as a child with its messages caught.
#include "oci/image.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

#include "base/unique_fd.hpp"

extern char** environ;

namespace moat::oci {

namespace {

// Runs argv with stdout to /dev/null and stderr caught (its last 4 KiB); returns the exit
// status, or 128 + signal.
Result<int> run_caught(std::vector<std::string> argv, std::string& err)
{
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) return fail_errno("pipe2");
    base::UniqueFd rd(p[0]), wr(p[1]);
    posix_spawn_file_actions_t fa;
    ::posix_spawn_file_actions_init(&fa);
    ::posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    ::posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    ::posix_spawn_file_actions_adddup2(&fa, wr.get(), STDERR_FILENO);
    std::vector<char*> args;
    for (std::string& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    pid_t pid = -1;
    const int rc = ::posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), environ);
    ::posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        errno = rc;
        return fail_errno_in(rc == ENOENT ? std::string(argv[0]) + " (install erofs-utils)" : std::string(argv[0]));
    }
    wr = base::UniqueFd(-1);
    char buf[1024];
    for (ssize_t n; (n = ::read(rd.get(), buf, sizeof buf)) != 0;) {
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) break;
        err.append(buf, static_cast<std::size_t>(n));
        if (err.size() > 4096) err.erase(0, err.size() - 4096);
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return fail_errno_in(std::string("waiting for ") + argv[0]);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// The last non-empty line of `text`.
std::string last_line(std::string text)
{
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
    const auto nl = text.rfind('\n');
    return nl == std::string::npos ? text : text.substr(nl + 1);
}

}  // namespace

Result<void> make_erofs(const std::string& dir, const std::string& image)
{
    const std::string tmp = image + ".tmp";
    std::string err;
    const int status = MOAT_TRY(run_caught({"mkfs.erofs", "--quiet", tmp, dir}, err));
    if (status != 0) {
        ::unlink(tmp.c_str());
        return fail_with(Errc::Io, "mkfs.erofs of '" + dir + "' exited " + std::to_string(status) +
                                       (err.empty() ? std::string() : ": " + last_line(err)));
    }
    if (::rename(tmp.c_str(), image.c_str()) != 0) return fail_errno_in("renaming '" + tmp + "'");
    return {};
}

}  // namespace moat::oci
