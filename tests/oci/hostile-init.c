/* A guest init that attacks moat-oci's control channel instead of running the container (the
 * lifecycle test's hostile cases). The container's first argument picks the attack:
 *   forge  prints control lines on the workload's stdout ("ready", "exit 0"), then says ready on
 *          the control port, waits for start, and says "exit 7": the status must be 7
 *   flood  writes an endless line on the control port: the container must end, broken (125)
 *   lie    says ready twice: the container must end, broken (125)
 *   mute   never says anything: create must give up, and leave nothing behind */
#define _GNU_SOURCE
#include <fcntl.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

static int port(const char *path)
{
	int fd = open(path, O_RDWR | O_NOCTTY);
	struct termios t;
	if (fd >= 0 && tcgetattr(fd, &t) == 0) {
		cfmakeraw(&t);
		tcsetattr(fd, TCSANOW, &t);
	}
	return fd;
}

static void put(int fd, const char *s)
{
	if (write(fd, s, strlen(s)) < 0)
		reboot(RB_POWER_OFF);
}

int main(void)
{
	mkdir("/dev", 0755);
	mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
	int control = port("/dev/ttyS1"), out = port("/dev/ttyS0");
	char config[4096] = {0};
	int fd = open("/moat/config", O_RDONLY);
	if (fd < 0 || read(fd, config, sizeof config - 1) <= 0)
		reboot(RB_POWER_OFF);
	const char *attack = config + strlen(config) + 1; /* "arg\0ATTACK\0..." */
	if (!strcmp(attack, "forge")) {
		put(out, "ready\nexit 0\n");
		tcdrain(out);
		put(control, "ready\n");
		char c;
		while (read(control, &c, 1) == 1 && c != '\n') {
		}
		put(control, "exit 7\n");
	} else if (!strcmp(attack, "flood")) {
		for (;;)
			put(control, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
	} else if (!strcmp(attack, "lie")) {
		put(control, "ready\nready\n");
	} else {
		for (;;)
			pause();
	}
	tcdrain(control);
	for (;;)
		pause();
}
