#include "cli/vsock_host.hpp"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include "jail/seccomp.hpp"
#include "protocol/host_connect.hpp"

namespace moat::cli {

namespace {

Result<base::UniqueFd> listen_at(const std::string& path)
{
    MOAT_TRY(check_vsock_path(path));
    base::UniqueFd l(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!l.valid()) return fail_errno("socket");
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::memcpy(sa.sun_path, path.data(), path.size());
    // Only its owner (and root) may connect: made 0700 from the start, not chmod-ed after bind
    // (a connection could come in between). Single-threaded here, so the umask is ours alone.
    const mode_t umask_before = ::umask(077);
    const int bound = ::bind(l.get(), reinterpret_cast<const sockaddr*>(&sa), sizeof sa);
    ::umask(umask_before);
    if (bound != 0) return fail_errno("bind");
    if (::listen(l.get(), 64) != 0) return fail_errno("listen");
    return l;
}

// The connector process: nothing but its socket, no stop signals, its own seccomp filter.
[[noreturn]] void connector_main(int sock, const std::string& path, ino_t inode)
{
    for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) ::signal(sig, SIG_IGN);
    if (::dup2(sock, 3) != 3) ::_exit(1);
    ::close_range(0, 2, 0);
    ::close_range(4, ~0u, 0);
    auto filter = jail::compile(jail::Role::Connector, {::getpid(), 0, -1, false, 3});
    if (!filter || ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || !jail::install(*filter)) ::_exit(1);
    protocol::serve_connects(3, path);
    // The VM process ended: PATH goes, if it is still the socket made for it.
    struct stat st{};
    if (::stat(path.c_str(), &st) == 0 && st.st_ino == inode) ::unlink(path.c_str());
    ::_exit(0);
}

}  // namespace

Result<void> check_vsock_path(const std::string& path)
{
    // The longest PATH_<port> must fit too.
    if (!protocol::port_path(path, 0xffffffff)) return fail(Errc::InvalidInput, "path too long for a Unix socket");
    struct stat st{};
    if (::lstat(path.c_str(), &st) == 0)
        return fail(Errc::InvalidInput, "already exists (remove it, or choose another path)");
    return {};
}

Result<VsockHost> start_vsock_host(const VsockSpec& spec)
{
    VsockHost h;
    h.listener = MOAT_TRY(listen_at(spec.path));
    struct stat st{};
    if (::stat(spec.path.c_str(), &st) != 0) return fail_errno("stat");
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
        ::unlink(spec.path.c_str());
        return fail_errno("socketpair");
    }
    h.connector = base::UniqueFd(sv[0]);
    base::UniqueFd theirs(sv[1]);
    const pid_t pid = ::fork();
    if (pid < 0) {
        ::unlink(spec.path.c_str());
        return fail_errno("fork");
    }
    if (pid == 0) connector_main(theirs.get(), spec.path, st.st_ino);
    return h;
}

}  // namespace moat::cli
