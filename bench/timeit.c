/* timeit: runs one command and measures it from the outside, the same way for every VMM.
 *
 *   timeit [--marker TEXT] [--guest-mem MIB] [--stop-at-marker] [--out FILE] -- COMMAND ARGS...
 *
 * Prints one JSON object (to FILE, default stdout) with: ns from exec to the first output line
 * containing TEXT, ns to process exit, exit status, peak RSS (wait4), and -- sampled when the
 * marker appears -- the process's RSS outside guest RAM (mappings at least MIB large are taken
 * to be guest RAM). Also records the time of every output line starting with "bench: ".
 * --stop-at-marker kills the command (SIGKILL) once the marker is seen and its RSS sampled, for
 * runs that only measure memory ("stopped":true in the output; its status is then the kill's).
 * The command's output is passed through to stderr. Static, so it runs in the test lab. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* RSS in KiB of `pid` outside mappings of at least `big_kb` (guest RAM), from smaps; with
 * `private_only`, only the private pages of its writable mappings: what it adds beside a
 * process it was forked from (its read-only and executable pages are the program file's, in
 * the page cache, whichever process maps them). */
static long rss_outside_guest(pid_t pid, long big_kb, int private_only)
{
	char path[64], line[512], perms[8] = "";
	snprintf(path, sizeof path, "/proc/%d/smaps", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	long total = 0, size = 0, v;
	while (fgets(line, sizeof line, f)) {
		unsigned long lo, hi;
		if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) == 3)
			continue;
		if (sscanf(line, "Size: %ld kB", &v) == 1)
			size = v;
		else if (size >= big_kb || (private_only && !strchr(perms, 'w')))
			continue;
		else if (!private_only && sscanf(line, "Rss: %ld kB", &v) == 1)
			total += v;
		else if (private_only && (sscanf(line, "Private_Clean: %ld kB", &v) == 1 ||
					  sscanf(line, "Private_Dirty: %ld kB", &v) == 1))
			total += v;
	}
	fclose(f);
	return total;
}

/* The VMM's memory outside guest RAM. A jailed moat VM process is the child of a reaper (the
 * process started here, src/jail/jail.hpp): the VM process's RSS, plus the private pages of
 * the reaper's writable mappings (its heap and stack; the rest it shares with the VM process
 * or the program file). */
static long vmm_overhead(pid_t pid, long big_kb)
{
	char path[96];
	snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)pid, (int)pid);
	FILE *f = fopen(path, "r");
	int child = 0;
	if (!f || fscanf(f, "%d", &child) != 1)
		child = 0;
	if (f)
		fclose(f);
	if (!child)
		return rss_outside_guest(pid, big_kb, 0);
	long vm = rss_outside_guest(child, big_kb, 0), reaper = rss_outside_guest(pid, big_kb, 1);
	return vm < 0 || reaper < 0 ? -1 : vm + reaper;
}

int main(int argc, char **argv)
{
	const char *marker = NULL, *out = NULL;
	long guest_mb = 0;
	int stop_at_marker = 0, stopped = 0;
	int i = 1;
	for (; i < argc && strcmp(argv[i], "--") != 0; i++) {
		if (!strcmp(argv[i], "--marker") && i + 1 < argc)
			marker = argv[++i];
		else if (!strcmp(argv[i], "--guest-mem") && i + 1 < argc)
			guest_mb = atol(argv[++i]);
		else if (!strcmp(argv[i], "--stop-at-marker"))
			stop_at_marker = 1;
		else if (!strcmp(argv[i], "--out") && i + 1 < argc)
			out = argv[++i];
		else {
			fprintf(stderr, "timeit: unknown option %s\n", argv[i]);
			return 2;
		}
	}
	if (i + 1 >= argc) {
		fprintf(stderr, "usage: timeit [--marker TEXT] [--guest-mem MIB] [--stop-at-marker] [--out FILE] -- COMMAND...\n");
		return 2;
	}
	int pipefd[2];
	if (pipe(pipefd) < 0)
		return 2;
	uint64_t t0 = now_ns();
	pid_t pid = fork();
	if (pid == 0) {
		dup2(pipefd[1], 1);
		dup2(pipefd[1], 2);
		close(pipefd[0]);
		close(pipefd[1]);
		execvp(argv[i + 1], argv + i + 1);
		perror("timeit: exec");
		_exit(127);
	}
	close(pipefd[1]);
	FILE *in = fdopen(pipefd[0], "r");
	char line[4096];
	uint64_t t_marker = 0;
	long overhead_kb = -1;
	char marks[4096] = "";
	size_t mlen = 0;
	while (fgets(line, sizeof line, in)) {
		uint64_t t = now_ns() - t0;
		fputs(line, stderr);
		if (marker && !t_marker && strstr(line, marker)) {
			t_marker = t;
			if (guest_mb > 0)
				overhead_kb = vmm_overhead(pid, guest_mb * 1024);
			if (stop_at_marker) {
				kill(pid, SIGKILL);
				stopped = 1;
			}
		}
		char *b = strstr(line, "bench: ");
		if (b && mlen < sizeof marks - 200) {
			b += 7;
			b[strcspn(b, "\r\n\"\\")] = 0;
			mlen += (size_t)snprintf(marks + mlen, sizeof marks - mlen, "%s{\"line\":\"%s\",\"ns\":%llu}",
						 mlen ? "," : "", b, (unsigned long long)t);
		}
	}
	int status = 0;
	struct rusage ru;
	wait4(pid, &status, 0, &ru);
	uint64_t t_exit = now_ns() - t0;
	FILE *o = out ? fopen(out, "a") : stdout;
	if (!o)
		return 2;
	fprintf(o,
		"{\"marker_ns\":%llu,\"exit_ns\":%llu,\"status\":%d,\"maxrss_kb\":%ld,\"overhead_rss_kb\":%ld,"
		"\"user_us\":%ld,\"sys_us\":%ld,\"stopped\":%s,\"marks\":[%s]}\n",
		(unsigned long long)t_marker, (unsigned long long)t_exit,
		WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), ru.ru_maxrss, overhead_kb,
		ru.ru_utime.tv_sec * 1000000L + ru.ru_utime.tv_usec, ru.ru_stime.tv_sec * 1000000L + ru.ru_stime.tv_usec,
		stopped ? "true" : "false", marks);
	if (o != stdout)
		fclose(o);
	if (stopped)
		return 0;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
