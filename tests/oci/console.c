/* oci-console SOCKET ROWS COLS OUT COMMAND [ARGS...]: the engine's side of --console-socket, as
 * conmon plays it. Listens on SOCKET, runs COMMAND (moat-oci create and start), takes the
 * terminal's master from the runtime, gives it a size of ROWS x COLS, and copies what the
 * container writes to OUT until the terminal closes. Exits with COMMAND's status (2 on its own
 * failure). */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

static int receive_fd(int conn)
{
	char data[256];
	struct iovec iov = {data, sizeof data};
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} control;
	struct msghdr m = {0};
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	m.msg_control = control.buf;
	m.msg_controllen = sizeof control.buf;
	if (recvmsg(conn, &m, 0) < 0)
		return -1;
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);
	if (!c || c->cmsg_type != SCM_RIGHTS)
		return -1;
	int fd;
	memcpy(&fd, CMSG_DATA(c), sizeof fd);
	return fd;
}

int main(int argc, char **argv)
{
	if (argc < 6) {
		fprintf(stderr, "usage: oci-console SOCKET ROWS COLS OUT COMMAND [ARGS...]\n");
		return 2;
	}
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	snprintf(a.sun_path, sizeof a.sun_path, "%s", argv[1]);
	unlink(argv[1]);
	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) != 0 || listen(s, 1) != 0) {
		perror("oci-console: socket");
		return 2;
	}
	FILE *out = fopen(argv[4], "w");
	pid_t command = fork();
	if (command == 0) {
		execvp(argv[5], argv + 5);
		_exit(127);
	}
	struct pollfd p = {s, POLLIN, 0};
	if (!out || poll(&p, 1, 120000) != 1) {
		fprintf(stderr, "oci-console: no terminal came\n");
		return 2;
	}
	int conn = accept4(s, NULL, NULL, SOCK_CLOEXEC);
	int master = conn < 0 ? -1 : receive_fd(conn);
	if (master < 0) {
		fprintf(stderr, "oci-console: no terminal received\n");
		return 2;
	}
	struct winsize ws = {(unsigned short)atoi(argv[2]), (unsigned short)atoi(argv[3]), 0, 0};
	ioctl(master, TIOCSWINSZ, &ws);
	char buf[4096];
	for (ssize_t n; (n = read(master, buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR);)
		if (n > 0)
			fwrite(buf, 1, (size_t)n, out);
	fclose(out);
	int status;
	waitpid(command, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 2;
}
