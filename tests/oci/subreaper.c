/* oci-subreaper REPORT COMMAND [ARGS...]: what conmon and containerd's shim are to a runtime, a
 * child subreaper. Runs COMMAND, then reaps every descendant re-parented to it (the container
 * process outlives `moat-oci create`), writing "PID exit N" or "PID signal N" for each to REPORT,
 * and exits with COMMAND's status once no descendant is left. */
#include <errno.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: oci-subreaper REPORT COMMAND [ARGS...]\n");
		return 2;
	}
	FILE *report = fopen(argv[1], "w");
	if (!report || prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0) {
		perror("oci-subreaper");
		return 2;
	}
	setvbuf(report, NULL, _IOLBF, 0);
	pid_t command = fork();
	if (command == 0) {
		execvp(argv[2], argv + 2);
		perror(argv[2]);
		_exit(127);
	}
	int result = 2, status;
	for (pid_t pid; (pid = wait(&status)) > 0 || errno == EINTR;) {
		if (pid <= 0)
			continue;
		if (WIFEXITED(status))
			fprintf(report, "%d exit %d\n", pid, WEXITSTATUS(status));
		else
			fprintf(report, "%d signal %d\n", pid, WTERMSIG(status));
		if (pid == command)
			result = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	}
	return result;
}
