/* startup: a VMM's startup cost, measured from outside and the same way for every VMM: the
 * CPU time all its threads have used (from /proc/PID/task/TID/schedstat) when one of them
 * first enters ioctl(KVM_RUN), found by tracing system calls until then, in the process
 * started and in a process it forks (a jailed moat VM process is the child of the process
 * `moat run` became: both count). The VMM is killed at that point. Prints
 * {"startup_cpu_us": N}. Static, so it runs in the test lab.
 *
 *   startup -- COMMAND ARGS... */
#define _GNU_SOURCE
#include <dirent.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

static unsigned long long cpu_ns(pid_t pid)
{
	char path[64];
	unsigned long long sum = 0, ns;
	snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
	DIR *d = opendir(path);
	for (struct dirent *e; d && (e = readdir(d));) {
		if (e->d_name[0] == '.')
			continue;
		char p[320];
		snprintf(p, sizeof p, "/proc/%d/task/%s/schedstat", (int)pid, e->d_name);
		FILE *f = fopen(p, "r");
		if (f && fscanf(f, "%llu", &ns) == 1)
			sum += ns;
		if (f)
			fclose(f);
	}
	if (d)
		closedir(d);
	return sum;
}

/* The process a thread belongs to, from /proc/TID/status. */
static pid_t tgid_of(pid_t tid)
{
	char path[64], line[128];
	snprintf(path, sizeof path, "/proc/%d/status", (int)tid);
	FILE *f = fopen(path, "r");
	int tgid = -1;
	while (f && fgets(line, sizeof line, f))
		if (sscanf(line, "Tgid: %d", &tgid) == 1)
			break;
	if (f)
		fclose(f);
	return tgid;
}

int main(int argc, char **argv)
{
	if (argc < 3 || strcmp(argv[1], "--") != 0) {
		fprintf(stderr, "usage: startup -- COMMAND ARGS...\n");
		return 2;
	}
	pid_t pid = fork();
	if (pid == 0) {
		if (!freopen("/dev/null", "w", stdout))
			_exit(127);
		ptrace(PTRACE_TRACEME, 0, 0, 0);
		raise(SIGSTOP);
		execvp(argv[2], argv + 2);
		_exit(127);
	}
	int st;
	waitpid(pid, &st, 0);
	ptrace(PTRACE_SETOPTIONS, pid, 0,
	       PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACECLONE | PTRACE_O_TRACEFORK | PTRACE_O_EXITKILL);
	ptrace(PTRACE_SYSCALL, pid, 0, 0);
	for (;;) {
		pid_t tid = waitpid(-1, &st, __WALL);
		if (tid < 0 || (tid == pid && (WIFEXITED(st) || WIFSIGNALED(st)))) {
			fprintf(stderr, "startup: the command ended before its first KVM_RUN\n");
			return 1;
		}
		if (!WIFSTOPPED(st))
			continue;
		int sig = 0;
		if (WSTOPSIG(st) == (SIGTRAP | 0x80)) {
			struct user_regs_struct r;
			if (ptrace(PTRACE_GETREGS, tid, 0, &r) == 0 && r.orig_rax == SYS_ioctl && r.rsi == KVM_RUN) {
				pid_t vm = tgid_of(tid);
				unsigned long long ns = cpu_ns(pid) + (vm > 0 && vm != pid ? cpu_ns(vm) : 0);
				printf("{\"startup_cpu_us\":%llu}\n", ns / 1000);
				if (vm > 0)
					kill(vm, SIGKILL);
				kill(pid, SIGKILL);
				return 0;
			}
		} else if (WSTOPSIG(st) != SIGTRAP && WSTOPSIG(st) != SIGSTOP) {
			sig = WSTOPSIG(st);  /* a real signal: deliver it */
		}
		ptrace(PTRACE_SYSCALL, tid, 0, sig);
	}
}
