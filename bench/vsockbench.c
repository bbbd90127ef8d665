/* vsockbench: the vsock and network benchmarks' two ends (bench/README.md), static, in the lab and
 * in the guest.
 *
 *   vsockbench serve [tcp:]PORT    guest: serve connections on vsock PORT (or TCP PORT) one after
 *                                  another, each opened by one command byte: 'p' answers one byte;
 *                                  's' reads to EOF, prints a JSON line of what it took (first
 *                                  byte to EOF) and answers the byte count (8 bytes); 'r' echoes
 *                                  each byte until EOF; 'q' ends the server
 *   vsockbench send TARGET PORT MIB
 *                                  host or guest: sends MIB MiB with 's', waits for the count,
 *                                  prints a JSON line (connection set up to the count's arrival)
 *   vsockbench conns TARGET PORT N host: N connections one after another, each a 'p' and its
 *                                  answer; prints a JSON line with connections per second
 *   vsockbench rr TARGET PORT N    N one-byte requests, each answered before the next (TCP_NODELAY
 *                                  on TCP); prints a JSON line with the mean round trip
 *   vsockbench quit TARGET PORT    ends a server
 *
 * TARGET is a vsock CID, tcp:IPV4, or unix:PATH for `moat run --vsock PATH` (Firecracker's convention:
 * "CONNECT PORT\n", then "OK ...\n"). A connection refused or reset before the server listens is
 * tried again for up to 60 s, as is one to a VM or a guest driver not up yet. With `send` the stream is one-way when the server cannot answer
 * (through a pump): its count never comes, and `send` reports the time to its own close instead. */
#define _GNU_SOURCE
#include <errno.h>
#include <arpa/inet.h>
#include <linux/vm_sockets.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static char buf[1 << 20];

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void die(const char *what)
{
    fprintf(stderr, "vsockbench: %s: %s\n", what, strerror(errno));
    exit(1);
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

/* One connection attempt: the socket, or -1 with errno. */
static int try_connect(const char *target, unsigned port)
{
    if (strncmp(target, "tcp:", 4) == 0) {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
        if (inet_pton(AF_INET, target + 4, &a.sin_addr) != 1) {
            fprintf(stderr, "vsockbench: bad address '%s'\n", target);
            exit(2);
        }
        int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
        if (s < 0) die("socket(AF_INET)");
        setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (connect(s, (struct sockaddr *)&a, sizeof a) == 0) return s;
        int e = errno;
        close(s);
        errno = e;
        return -1;
    }
    if (strncmp(target, "unix:", 5) != 0) {
        struct sockaddr_vm a = {.svm_family = AF_VSOCK, .svm_cid = (unsigned)atoi(target), .svm_port = port};
        int s = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (s < 0) die("socket(AF_VSOCK)");
        if (connect(s, (struct sockaddr *)&a, sizeof a) == 0) return s;
        int e = errno;
        close(s);
        errno = e;
        return -1;
    }
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s", target + 5);
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0) die("socket(AF_UNIX)");
    char line[64];
    int n = snprintf(line, sizeof line, "CONNECT %u\n", port);
    if (connect(s, (struct sockaddr *)&a, sizeof a) < 0 || write_all(s, line, (size_t)n) < 0) goto refused;
    /* "OK <n>\n", a byte at a time: what follows belongs to the stream. */
    for (int i = 0; i < (int)sizeof line; ++i) {
        if (read(s, &line[i], 1) != 1) goto refused;
        if (line[i] == '\n') return strncmp(line, "OK ", 3) == 0 ? s : (errno = ECONNREFUSED, close(s), -1);
    }
refused:
    close(s);
    errno = ECONNREFUSED;
    return -1;
}

static int connect_to(const char *target, unsigned port)
{
    for (double give_up = now() + 60;;) {
        int s = try_connect(target, port);
        if (s >= 0) return s;
        /* Not up yet: no listener (refused, reset), no VM with that CID yet (ENODEV, vhost-vsock),
         * a guest whose driver is not up yet (the guest's connect times out), no socket file yet. */
        int e = errno;
        if (now() > give_up || (e != ECONNREFUSED && e != ECONNRESET && e != ENODEV && e != ETIMEDOUT && e != ENOENT &&
                                e != EHOSTUNREACH && e != ENETUNREACH))
            die("connect");
        usleep(20000);
    }
}

/* A listening socket on vsock PORT, or on TCP PORT of every address for "tcp:PORT". */
static int listener(const char *arg)
{
    if (strncmp(arg, "tcp:", 4) == 0) {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(arg + 4))};
        int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
        if (l < 0 || setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
            bind(l, (struct sockaddr *)&a, sizeof a) < 0 || listen(l, 64) < 0)
            die("listen");
        return l;
    }
    struct sockaddr_vm a = {.svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY, .svm_port = (unsigned)atoi(arg)};
    int l = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof a) < 0 || listen(l, 64) < 0) die("listen");
    return l;
}

static int serve(const char *arg)
{
    int l = listener(arg);
    for (;;) {
        int s = accept(l, NULL, NULL);
        if (s < 0) die("accept");
        char c = 0;
        if (read(s, &c, 1) != 1) { close(s); continue; }
        if (c == 'q') return 0;
        if (c == 'p') (void)!write(s, &c, 1);
        if (c == 'r') {
            int one = 1;
            setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  /* fails harmlessly on vsock */
            while (read(s, &c, 1) == 1 && write(s, &c, 1) == 1) {
            }
        }
        if (c == 's') {
            uint64_t total = 0;
            double first = 0;
            for (ssize_t n; (n = read(s, buf, sizeof buf)) != 0;) {
                if (n < 0 && errno == EINTR) continue;
                if (n < 0) break;
                if (total == 0) first = now();
                total += (uint64_t)n;
            }
            double t = now() - first;
            printf("vsockbench: {\"received_bytes\":%llu,\"seconds\":%.6f,\"mb_s\":%.2f}\n", (unsigned long long)total, t,
                   t > 0 ? (double)total / t / 1e6 : 0.0);
            fflush(stdout);
            (void)!write(s, &total, sizeof total);
        }
        close(s);
    }
}

static int send_bytes(const char *target, unsigned port, unsigned mib)
{
    memset(buf, 0x5a, sizeof buf);
    int s = connect_to(target, port);
    double t0 = now();  /* from the connection's set-up, which waited for the server to be up */
    if (write_all(s, "s", 1) < 0) die("write");
    for (unsigned i = 0; i < mib; ++i)
        if (write_all(s, buf, sizeof buf) < 0) die("write");
    shutdown(s, SHUT_WR);
    uint64_t count = 0;
    ssize_t got = read(s, &count, sizeof count);
    double t = now() - t0;
    uint64_t sent = (uint64_t)mib << 20;
    if (got == (ssize_t)sizeof count && count != sent) {
        fprintf(stderr, "vsockbench: sent %llu bytes, the server got %llu\n", (unsigned long long)sent, (unsigned long long)count);
        return 1;
    }
    printf("{\"sent_bytes\":%llu,\"acknowledged\":%s,\"seconds\":%.6f,\"mb_s\":%.2f}\n", (unsigned long long)sent,
           got == (ssize_t)sizeof count ? "true" : "false", t, (double)sent / t / 1e6);
    close(s);
    return 0;
}

static int conns(const char *target, unsigned port, unsigned n)
{
    close(connect_to(target, port));  /* the server is up: time only what follows */
    double t0 = now();
    for (unsigned i = 0; i < n; ++i) {
        int s = connect_to(target, port);
        char c = 'p';
        if (write_all(s, &c, 1) < 0 || read(s, &c, 1) != 1) die("ping");
        close(s);
    }
    double t = now() - t0;
    printf("{\"connections\":%u,\"seconds\":%.6f,\"per_s\":%.1f}\n", n, t, n / t);
    return 0;
}

static int rr(const char *target, unsigned port, unsigned n)
{
    int s = connect_to(target, port);
    char c = 'r';
    if (write_all(s, &c, 1) < 0) die("write");
    for (int warm = 0; warm < 10; ++warm)
        if (write_all(s, &c, 1) < 0 || read(s, &c, 1) != 1) die("round trip");
    double t0 = now();
    for (unsigned i = 0; i < n; ++i)
        if (write_all(s, &c, 1) < 0 || read(s, &c, 1) != 1) die("round trip");
    double t = now() - t0;
    printf("{\"round_trips\":%u,\"seconds\":%.6f,\"us\":%.1f}\n", n, t, t / n * 1e6);
    close(s);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "serve") == 0) return serve(argv[2]);
    if (argc == 5 && strcmp(argv[1], "rr") == 0) return rr(argv[2], (unsigned)atoi(argv[3]), (unsigned)atoi(argv[4]));
    if (argc == 5 && strcmp(argv[1], "send") == 0) return send_bytes(argv[2], (unsigned)atoi(argv[3]), (unsigned)atoi(argv[4]));
    if (argc == 5 && strcmp(argv[1], "conns") == 0) return conns(argv[2], (unsigned)atoi(argv[3]), (unsigned)atoi(argv[4]));
    if (argc == 4 && strcmp(argv[1], "quit") == 0) {
        int s = connect_to(argv[2], (unsigned)atoi(argv[3]));
        return write_all(s, "q", 1) < 0;
    }
    fprintf(stderr, "usage: vsockbench serve [tcp:]PORT | send TARGET PORT MIB | conns TARGET PORT N | rr TARGET PORT N | "
                    "quit TARGET PORT\n");
    return 2;
}
