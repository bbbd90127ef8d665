/* moat-init: PID 1 of an OCI container's VM (docs/oci.md, "Channels").
 *
 * Ports: ttyS0 the workload's stdin and stdout (with a terminal: its controlling terminal),
 * ttyS1 control lines only, ttyS2 the workload's stderr. It loads its modules, reads
 * /moat/config, enters the container's root, finds the executable (`error ENOENT ...` if there
 * is none), says `ready`, waits for `start`, runs the workload, passes on `signal N`, gives it
 * end of file on stdin at `eof`, relays `winsize ROWS COLS`, and at its end drains the ports,
 * says `exit N` (128+N for a signal) and powers off. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "moat-init.h"

/* in: ttyS0 again, non-blocking, for relaying stdin (without a terminal) */
static int control = -1, out = -1, err = -1, in = -1;

/* A step, in the kernel's log (on the kernel's console when moat-oci is verbose). */
void trace(const char *fmt, ...)
{
	char line[256];
	int n = snprintf(line, sizeof line, "<6>moat-init: ");
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
	va_end(ap);
	static int kmsg = -2;
	if (kmsg == -2)
		kmsg = open("/dev/kmsg", O_WRONLY | O_CLOEXEC);
	if (kmsg >= 0) {
		ssize_t r = write(kmsg, line, strlen(line));
		(void)r;
	}
}
static struct config cfg;

static void write_all(int fd, const char *s, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, s, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

void say(const char *line)
{
	char l[200];
	int n = snprintf(l, sizeof l, "%s\n", line);
	write_all(control, l, (size_t)n < sizeof l ? (size_t)n : sizeof l - 1);
	tcdrain(control);
}

/* Ends the VM. The VM process ends it at once when it reads `exit N`, so whatever must reach
 * a disk is written before that line is said (release_volumes). */
__attribute__((noreturn)) static void power_off(void)
{
	sync();
	reboot(RB_POWER_OFF);
	for (;;)
		pause();
}

void fail(const char *code, const char *fmt, ...)
{
	char msg[150], line[200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	for (char *p = msg; *p; ++p) /* the protocol's lines are printable ASCII */
		if (*p < 0x20 || *p > 0x7e)
			*p = '?';
	snprintf(line, sizeof line, "error %s %s", code, msg);
	trace("%s", line);
	release_volumes();
	if (control >= 0)
		say(line);
	power_off();
}

/* A serial port, in raw mode unless it is to be the workload's terminal. */
static int open_port(const char *path, int raw)
{
	int fd = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	struct termios t;
	if (raw && tcgetattr(fd, &t) == 0) {
		cfmakeraw(&t);
		tcsetattr(fd, TCSANOW, &t);
	}
	return fd;
}

static void load_modules(void)
{
	FILE *list = fopen("/lib/modules/load", "re");
	char name[128];
	while (list && fscanf(list, "%127s", name) == 1) {
		char path[200];
		snprintf(path, sizeof path, "/lib/modules/%s.ko", name);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || (syscall(SYS_finit_module, fd, "", 0) != 0 && errno != EEXIST))
			fail("ENODEV", "module %s: %s", name, strerror(errno));
		close(fd);
	}
	if (list)
		fclose(list);
}

/* The executable as execvp would find it in the container's PATH; NULL if none. */
static const char *find_executable(const char *name, char *buf, size_t size)
{
	if (strchr(name, '/'))
		return access(name, F_OK) == 0 ? name : NULL;
	const char *path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	for (int i = 0; i < cfg.nenv; ++i)
		if (!strncmp(cfg.env[i], "PATH=", 5))
			path = cfg.env[i] + 5;
	for (const char *p = path; *p;) {
		const char *end = strchr(p, ':');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		snprintf(buf, size, "%.*s/%s", (int)len, p, name);
		struct stat st;
		if (stat(buf, &st) == 0 && S_ISREG(st.st_mode))
			return buf;
		p += len + (end ? 1 : 0);
	}
	return NULL;
}

/* A control line from the host, read a byte at a time; 1 when `line` holds a whole one. */
static int control_line(char *line, size_t size)
{
	static char buf[256];
	static size_t len;
	char c;
	while (read(control, &c, 1) == 1) {
		if (c == '\n') {
			buf[len] = '\0';
			snprintf(line, size, "%s", buf);
			len = 0;
			return 1;
		}
		if (len < sizeof buf - 1)
			buf[len++] = c;
	}
	return 0;
}

static pid_t workload = -1;
static int stdin_pipe = -1; /* without a terminal: our end of the workload's stdin */
static int eof_asked;

static void close_stdin(void)
{
	if (stdin_pipe >= 0)
		close(stdin_pipe);
	stdin_pipe = -1;
}

/* The bytes on ttyS0 still on their way, then end of file (the host read its stdin's end
 * before it said `eof`, so what is left arrives within moments). */
static void end_stdin(void)
{
	char buf[4096];
	struct pollfd p = {in, POLLIN, 0};
	while (stdin_pipe >= 0 && poll(&p, 1, 50) > 0) {
		ssize_t n = read(in, buf, sizeof buf);
		if (n <= 0)
			break;
		write_all(stdin_pipe, buf, (size_t)n);
	}
	close_stdin();
}

static void on_line(const char *line)
{
	trace("host says: %s", line);
	int sig;
	unsigned short rows, cols;
	if (sscanf(line, "signal %d", &sig) == 1 && sig > 0 && sig < 65) {
		if (workload > 0)
			kill(workload, sig);
	} else if (!strcmp(line, "eof")) {
		eof_asked = 1;
		if (workload > 0)
			end_stdin();
	} else if (sscanf(line, "winsize %hu %hu", &rows, &cols) == 2) {
		struct winsize ws = {rows, cols, 0, 0};
		ioctl(out, TIOCSWINSZ, &ws);
	}
}

/* Waits for `start`; a signal first ends the container as that signal would have. */
static void wait_for_start(void)
{
	char line[256];
	struct pollfd p = {control, POLLIN, 0};
	for (;;) {
		poll(&p, 1, -1);
		while (control_line(line, sizeof line)) {
			int sig;
			if (!strcmp(line, "start"))
				return;
			if (sscanf(line, "signal %d", &sig) == 1 && sig > 0 && sig < 65) {
				snprintf(line, sizeof line, "exit %d", 128 + sig);
				release_volumes();
				say(line);
				power_off();
			}
			on_line(line);
		}
	}
}

static void start_workload(const char *exe)
{
	int in[2] = {-1, -1};
	if (!cfg.terminal && pipe2(in, O_CLOEXEC) != 0)
		fail("EIO", "pipe: %s", strerror(errno));
	workload = fork();
	if (workload < 0)
		fail("EIO", "fork: %s", strerror(errno));
	if (workload == 0) {
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		setsid();
		if (cfg.terminal) {
			/* Through the container's own node, so that ttyname() finds it there. */
			int t = open("/dev/ttyS0", O_RDWR | O_CLOEXEC);
			if (t < 0)
				t = out;
			ioctl(t, TIOCSCTTY, 0);
			dup2(t, 0);
			dup2(t, 1);
			dup2(t, 2);
		} else {
			dup2(in[0], 0);
			dup2(out, 1);
			dup2(err, 2);
		}
		apply_process(&cfg);
		if (chdir(cfg.cwd) != 0)
			fail("ENOENT", "cwd %s: %s", cfg.cwd, strerror(errno));
		execve(exe, cfg.args, cfg.env);
		fail(errno == ENOENT ? "ENOENT" : "EACCES", "exec %s: %s", exe, strerror(errno));
	}
	if (!cfg.terminal) {
		close(in[0]);
		stdin_pipe = in[1];
		if (eof_asked)
			close_stdin();
	}
}

/* Until the workload ends: control lines, stdin for it, and its children's ends (PID 1 reaps
 * every orphan). */
static int run(int sigchld)
{
	for (;;) {
		struct pollfd p[3] = {{control, POLLIN, 0}, {sigchld, POLLIN, 0}, {stdin_pipe >= 0 ? in : -1, POLLIN, 0}};
		if (poll(p, 3, -1) < 0 && errno != EINTR)
			return 125;
		char line[256];
		while ((p[0].revents & POLLIN) && control_line(line, sizeof line))
			on_line(line);
		if (p[2].revents & POLLIN) {
			char buf[4096];
			ssize_t n = read(in, buf, sizeof buf);
			if (n > 0 && stdin_pipe >= 0)
				write_all(stdin_pipe, buf, (size_t)n);
		}
		if (p[1].revents & POLLIN) {
			struct signalfd_siginfo si;
			while (read(sigchld, &si, sizeof si) == sizeof si) {
			}
			int status;
			for (pid_t pid; (pid = waitpid(-1, &status, WNOHANG)) > 0;)
				if (pid == workload)
					return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		}
	}
}

int main(void)
{
	mkdir("/dev", 0755);
	mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
	mkdir("/proc", 0755);
	mount("proc", "/proc", "proc", 0, NULL);
	mkdir("/sys", 0755);
	mount("sysfs", "/sys", "sysfs", 0, NULL);
	trace("started");
	control = open_port("/dev/ttyS1", 1);
	if (control < 0) {
		trace("no control port: %s", strerror(errno));
		power_off(); /* nobody to tell: the VM process ends the container as broken */
	}
	ioctl(control, TIOCEXCL); /* nobody else opens the control port */
	read_config(&cfg);
	out = open_port("/dev/ttyS0", !cfg.terminal);
	err = open_port("/dev/ttyS2", 1);
	in = open("/dev/ttyS0", O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (out < 0 || err < 0 || in < 0)
		fail("ENODEV", "the container's serial ports: %s", strerror(errno));
	trace("ports open");
	load_modules();
	trace("modules loaded");
	sigset_t chld;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	int sigchld = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
	enter_root(&cfg);
	trace("in the container's root");
	char buf[4096];
	const char *exe = find_executable(cfg.args[0], buf, sizeof buf);
	if (!exe)
		fail("ENOENT", "exec: \"%s\": executable file not found in $PATH", cfg.args[0]);
	fcntl(control, F_SETFL, O_NONBLOCK);
	trace("found %s; saying ready", exe);
	say("ready");
	trace("said ready");
	wait_for_start();
	trace("starting %s", exe);
	start_workload(exe);
	const int status = run(sigchld);
	trace("the workload ended: %d", status);
	close_stdin();
	tcdrain(out);
	tcdrain(err);
	snprintf(buf, sizeof buf, "exit %d", status);
	release_volumes();
	say(buf);
	power_off();
}
