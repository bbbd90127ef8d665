/* moat-vsock: the default guest's socket tool (vsock, and TCP for the network tests), and the host
 * side of the tests (static, no libs).
 *
 *   moat-vsock listen PORT [N]      guest: accept N (default 1) vsock connections on PORT, each
 *                                   echoed back by a process of its own, and wait for them all
 *   moat-vsock connect CID PORT     guest: connect to (CID, PORT); stdin to it, it to stdout
 *   moat-vsock tcp-listen PORT [N]  as listen, on TCP PORT of every address
 *   moat-vsock tcp-connect IPV4 PORT
 *                                   as connect, over TCP; a refused or unreachable peer is tried
 *                                   again for up to 180 s (it may still be booting) unless the
 *                                   environment has MOAT_NO_RETRY
 *   moat-vsock sink PORT [US]       guest: accept one connection on PORT, write a line into it,
 *                                   then copy what arrives to stdout, pausing US microseconds
 *                                   after each read of at most 64 KiB (a slow reader)
 *   moat-vsock host-connect PATH PORT
 *                                   host: through `moat run --vsock PATH` to the guest's PORT
 *                                   (writes "CONNECT PORT\n", expects "OK <n>\n"), then as connect
 *   moat-vsock host-listen PATH     host: accept one connection on the Unix socket PATH, then as connect
 *
 * Bytes are copied both ways until both sides are done: stdin's EOF half-closes the connection,
 * and the tool ends once the peer's EOF has arrived and stdin is sent.
 * A refused connection prints nothing on stdout.
 * Exit status: 0, 3 when the connection was refused or reset, 1 on any other error. */
#define _GNU_SOURCE
#include <errno.h>
#include <arpa/inet.h>
#include <linux/vm_sockets.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int fail(const char *what)
{
    int refused = errno == ECONNREFUSED || errno == ECONNRESET;
    fprintf(stderr, "moat-vsock: %s: %s\n", what, strerror(errno));
    exit(refused ? 3 : 1);
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Copies in -> sock (in a child process, so that a peer which answers as it reads never waits for
 * us) and sock -> out until sock's EOF; in's EOF shuts sock's write side. With echo, what sock
 * sends goes back to sock. */
static void copy(int sock, int in, int out, int echo)
{
    static char buf[65536];
    pid_t child = -1;
    if (!echo) {
        child = fork();
        if (child < 0) fail("fork");
        if (child == 0) {
            for (;;) {
                ssize_t n = read(in, buf, sizeof buf);
                if (n < 0 && errno == EINTR) continue;
                if (n <= 0) break;
                if (write_all(sock, buf, (size_t)n) != 0) fail("send");
            }
            shutdown(sock, SHUT_WR);
            _exit(0);
        }
    }
    for (;;) {
        ssize_t n = read(sock, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) fail("receive");
        if (n == 0) break;
        if (write_all(echo ? sock : out, buf, (size_t)n) != 0) fail(echo ? "send" : "write");
    }
    if (echo) shutdown(sock, SHUT_WR);
    if (child > 0) {
        int status = 0;
        while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
        }
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) exit(WIFEXITED(status) ? WEXITSTATUS(status) : 1);
    }
}

static unsigned port_arg(const char *s)
{
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v > 0xffffffffUL) {
        fprintf(stderr, "moat-vsock: bad number '%s'\n", s);
        exit(1);
    }
    return (unsigned)v;
}

static int unix_socket(const char *path, struct sockaddr_un *sa)
{
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0) fail("socket");
    memset(sa, 0, sizeof *sa);
    sa->sun_family = AF_UNIX;
    if (strlen(path) >= sizeof sa->sun_path) {
        fprintf(stderr, "moat-vsock: path too long\n");
        exit(1);
    }
    strcpy(sa->sun_path, path);
    return fd;
}

/* Accepts n connections on l, each echoed by a process of its own; 0 when every echo ended well. */
static int serve_echo(int l, unsigned n)
{
    unsigned failed = 0;
    for (unsigned i = 0; i < n; ++i) {
        int c = accept(l, NULL, NULL);
        if (c < 0) fail("accept");
        pid_t p = fork();
        if (p < 0) fail("fork");
        if (p == 0) {
            copy(c, 0, 1, 1);
            _exit(0);
        }
        close(c);
    }
    for (int status; wait(&status) > 0;)
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) ++failed;
    return failed ? 1 : 0;
}

/* A TCP connection to ip:port, tried again while the peer refuses or cannot be reached yet. */
static int tcp_connect(const char *ip, unsigned port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
    if (port > 65535 || inet_pton(AF_INET, ip, &a.sin_addr) != 1) {
        fprintf(stderr, "moat-vsock: bad IPv4 address or port '%s' %u\n", ip, port);
        exit(1);
    }
    const int retry = getenv("MOAT_NO_RETRY") == NULL;
    for (int tries = 0;; ++tries) {
        int s = socket(AF_INET, SOCK_STREAM, 0);
        if (s < 0) fail("socket");
        if (connect(s, (struct sockaddr *)&a, sizeof a) == 0) {
            /* On the console, not stdout: where a stalled test stopped is then plain. */
            fprintf(stderr, "moat-guest: tcp connected to %s:%u after %d tries\n", ip, port, tries + 1);
            return s;
        }
        int again = errno == ECONNREFUSED || errno == EHOSTUNREACH || errno == ENETUNREACH || errno == ETIMEDOUT;
        if (!retry || !again || tries >= 900) fail("connect");
        close(s);
        struct timespec t = {0, 200000000};
        nanosleep(&t, NULL);
    }
}

int main(int argc, char **argv)
{
    if ((argc == 3 || argc == 4) && strcmp(argv[1], "tcp-listen") == 0) {
        int l = socket(AF_INET, SOCK_STREAM, 0), one = 1;
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port_arg(argv[2]))};
        a.sin_addr.s_addr = htonl(INADDR_ANY);
        if (l < 0 || setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
            bind(l, (struct sockaddr *)&a, sizeof a) != 0 || listen(l, 16) != 0)
            fail("listen");
        printf("moat-guest: tcp listening on %u\n", port_arg(argv[2]));
        fflush(stdout);
        return serve_echo(l, argc == 4 ? port_arg(argv[3]) : 1);
    }
    if (argc == 4 && strcmp(argv[1], "tcp-connect") == 0) {
        int s = tcp_connect(argv[2], port_arg(argv[3]));
        copy(s, 0, 1, 0);
        return 0;
    }
    if ((argc == 3 || argc == 4) && strcmp(argv[1], "listen") == 0) {
        int l = socket(AF_VSOCK, SOCK_STREAM, 0);
        struct sockaddr_vm a = {.svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY, .svm_port = port_arg(argv[2])};
        if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof a) != 0 || listen(l, 16) != 0) fail("listen");
        printf("moat-guest: vsock listening on %u\n", a.svm_port);
        fflush(stdout);
        return serve_echo(l, argc == 4 ? port_arg(argv[3]) : 1);
    }
    if ((argc == 3 || argc == 4) && strcmp(argv[1], "sink") == 0) {
        int l = socket(AF_VSOCK, SOCK_STREAM, 0);
        struct sockaddr_vm a = {.svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY, .svm_port = port_arg(argv[2])};
        unsigned pause = argc == 4 ? port_arg(argv[3]) : 0;
        if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof a) != 0 || listen(l, 1) != 0) fail("listen");
        fprintf(stderr, "moat-guest: vsock sink on %u\n", a.svm_port);
        int c = accept(l, NULL, NULL);
        if (c < 0) fail("accept");
        static const char back[] = "moat-guest: the high side wrote this\n";
        if (write_all(c, back, sizeof back - 1) != 0) fail("send");
        static char buf[65536];
        for (;;) {
            ssize_t n = read(c, buf, sizeof buf);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) fail("receive");
            if (n == 0) return 0;
            if (write_all(1, buf, (size_t)n) != 0) fail("write");
            if (pause) usleep(pause);
        }
    }
    if (argc == 4 && strcmp(argv[1], "connect") == 0) {
        int s = socket(AF_VSOCK, SOCK_STREAM, 0);
        struct sockaddr_vm a = {.svm_family = AF_VSOCK, .svm_cid = port_arg(argv[2]), .svm_port = port_arg(argv[3])};
        if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof a) != 0) fail("connect");
        copy(s, 0, 1, 0);
        return 0;
    }
    if (argc == 4 && strcmp(argv[1], "host-connect") == 0) {
        struct sockaddr_un sa;
        int s = unix_socket(argv[2], &sa);
        if (connect(s, (struct sockaddr *)&sa, sizeof sa) != 0) fail("connect");
        char line[64];
        int n = snprintf(line, sizeof line, "CONNECT %u\n", port_arg(argv[3]));
        if (write_all(s, line, (size_t)n) != 0) fail("send");
        /* The answer, a byte at a time: the guest's bytes may follow it at once. */
        size_t got = 0;
        while (got < sizeof line - 1) {
            ssize_t r = read(s, line + got, 1);
            if (r <= 0) {
                errno = ECONNREFUSED;
                fail("the guest refused");
            }
            if (line[got++] == '\n') break;
        }
        line[got] = '\0';
        if (strncmp(line, "OK ", 3) != 0) {
            fprintf(stderr, "moat-vsock: unexpected answer '%s'\n", line);
            return 1;
        }
        copy(s, 0, 1, 0);
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "host-listen") == 0) {
        struct sockaddr_un sa;
        int l = unix_socket(argv[2], &sa);
        if (bind(l, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(l, 4) != 0) fail("listen");
        int c = accept(l, NULL, NULL);
        if (c < 0) fail("accept");
        copy(c, 0, 1, 0);
        return 0;
    }
    fprintf(stderr, "usage: moat-vsock listen PORT [N] | connect CID PORT | tcp-listen PORT [N] | tcp-connect IPV4 PORT | "
                    "sink PORT [US] | host-connect PATH PORT | host-listen PATH\n");
    return 1;
}
