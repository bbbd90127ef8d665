/* moat-init's setup: the settings from /moat/config, the container's root (its erofs image,
 * /dev/vda, under an overlay with a tmpfs upper layer), its mounts and copied files, and what
 * the workload's process is given just before exec. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/mount.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <grp.h>

#include "moat-init.h"

static char config_bytes[1 << 20];

static const char *const cap_names[] = {
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
	"CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
	"CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
	"CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT",
	"CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME",
	"CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL",
	"CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
	"CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
};
#define NCAPS ((int)(sizeof cap_names / sizeof cap_names[0]))

static const struct {
	const char *name;
	int resource;
} rlimit_names[] = {
	{"RLIMIT_CPU", RLIMIT_CPU}, {"RLIMIT_FSIZE", RLIMIT_FSIZE}, {"RLIMIT_DATA", RLIMIT_DATA},
	{"RLIMIT_STACK", RLIMIT_STACK}, {"RLIMIT_CORE", RLIMIT_CORE}, {"RLIMIT_RSS", RLIMIT_RSS},
	{"RLIMIT_NPROC", RLIMIT_NPROC}, {"RLIMIT_NOFILE", RLIMIT_NOFILE}, {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},
	{"RLIMIT_AS", RLIMIT_AS}, {"RLIMIT_LOCKS", RLIMIT_LOCKS}, {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
	{"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE}, {"RLIMIT_NICE", RLIMIT_NICE}, {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},
	{"RLIMIT_RTTIME", RLIMIT_RTTIME},
};

/* The container's mounts and files, applied once inside its root. */
static struct mount_rec {
	const char *type, *source, *dest, *options;
} mounts[MAX_ITEMS];
static int nmounts;
static struct file_rec {
	const char *from, *dest;
} files[MAX_ITEMS];
static int nfiles;
/* Disks mounted in the root: read-only directories (erofs images) and labelled volumes (ext4,
 * read-only or read-write as the policy allowed). */
static struct bind_rec {
	const char *device, *dest, *fstype;
	unsigned long flags;
} binds[MAX_ITEMS];
static int nbinds;
static int binds_placed; /* binds[0 .. binds_placed) are mounted in the container's root */

static unsigned long long number(const char *s, const char *what)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *end)
		fail("EINVAL", "/moat/config: %s '%s' is not a number", what, s);
	return v;
}

static int cap_number(const char *name)
{
	for (int i = 0; i < NCAPS; ++i)
		if (strcmp(cap_names[i], name) == 0)
			return i;
	return -1;
}

static const char *set_names[] = {"bounding", "effective", "inheritable", "permitted", "ambient"};

/* One record: its key and fields, at `*at`; false at the end of the file. */
static int next_field(size_t *at, size_t len, const char **out)
{
	if (*at >= len)
		return 0;
	*out = config_bytes + *at;
	*at += strlen(*out) + 1;
	return 1;
}

static void record(struct config *c, const char *key, const char **f)
{
	if (!strcmp(key, "arg") && c->nargs < MAX_ITEMS) c->args[c->nargs++] = (char *)f[0];
	else if (!strcmp(key, "env") && c->nenv < MAX_ITEMS) c->env[c->nenv++] = (char *)f[0];
	else if (!strcmp(key, "cwd")) c->cwd = f[0];
	else if (!strcmp(key, "uid")) c->uid = (uid_t)number(f[0], "uid");
	else if (!strcmp(key, "gid")) c->gid = (gid_t)number(f[0], "gid");
	else if (!strcmp(key, "group") && c->ngroups < MAX_ITEMS) c->groups[c->ngroups++] = (gid_t)number(f[0], "group");
	else if (!strcmp(key, "umask")) c->umask = (int)(number(f[0], "umask") & 0777);
	else if (!strcmp(key, "hostname")) c->hostname = f[0];
	else if (!strcmp(key, "terminal")) c->terminal = 1;
	else if (!strcmp(key, "nnp")) c->nnp = 1;
	else if (!strcmp(key, "readonly")) c->readonly = 1;
	else if (!strcmp(key, "caps")) c->caps = 1;
	else if (!strcmp(key, "rlimit")) {
		for (size_t i = 0; i < sizeof rlimit_names / sizeof rlimit_names[0]; ++i)
			if (!strcmp(rlimit_names[i].name, f[0]) && c->nlimits < 32)
				c->limits[c->nlimits++] = (struct limit){rlimit_names[i].resource, number(f[1], "rlimit"),
				                                         number(f[2], "rlimit")};
	} else if (!strcmp(key, "cap")) {
		const int n = cap_number(f[1]);
		for (int s = 0; s < 5 && n >= 0; ++s)
			if (!strcmp(set_names[s], f[0]))
				c->cap_sets[s] |= 1ull << n;
	} else if (!strcmp(key, "mount") && nmounts < MAX_ITEMS) {
		mounts[nmounts++] = (struct mount_rec){f[0], f[1], f[2], f[3]};
	} else if (!strcmp(key, "file") && nfiles < MAX_ITEMS) {
		files[nfiles++] = (struct file_rec){f[0], f[1]};
	} else if (!strcmp(key, "bind") && nbinds < MAX_ITEMS) {
		binds[nbinds++] = (struct bind_rec){f[0], f[1], "erofs", MS_RDONLY};
	} else if (!strcmp(key, "volume") && nbinds < MAX_ITEMS) {
		binds[nbinds++] = (struct bind_rec){f[0], f[1], "ext4", strcmp(f[2], "rw") ? MS_RDONLY : 0};
	}
}

static int fields_of(const char *key)
{
	static const struct {
		const char *key;
		int n;
	} k[] = {{"rlimit", 3}, {"cap", 2}, {"mount", 4}, {"file", 2}, {"bind", 2}, {"volume", 3}};
	for (size_t i = 0; i < sizeof k / sizeof k[0]; ++i)
		if (!strcmp(k[i].key, key))
			return k[i].n;
	return 1;
}

void read_config(struct config *c)
{
	memset(c, 0, sizeof *c);
	c->umask = -1;
	c->cwd = "/";
	int fd = open("/moat/config", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		fail("EINVAL", "/moat/config: %s", strerror(errno));
	size_t len = 0;
	for (ssize_t n; (n = read(fd, config_bytes + len, sizeof config_bytes - 1 - len)) > 0;)
		len += (size_t)n;
	close(fd);
	if (len == 0 || config_bytes[len - 1] != '\0')
		fail("EINVAL", "/moat/config: empty or not NUL-ended");
	size_t at = 0;
	const char *key, *f[4];
	while (next_field(&at, len, &key)) {
		const int n = fields_of(key);
		for (int i = 0; i < n; ++i)
			if (!next_field(&at, len, &f[i]))
				fail("EINVAL", "/moat/config: record '%s' cut short", key);
		record(c, key, f);
	}
	if (c->nargs == 0)
		fail("EINVAL", "/moat/config: no process.args");
}

static void mkdirs(const char *path)
{
	char p[4096];
	snprintf(p, sizeof p, "%s", path);
	for (char *s = p + 1; *s; ++s) {
		if (*s != '/')
			continue;
		*s = '\0';
		mkdir(p, 0755);
		*s = '/';
	}
	mkdir(p, 0755);
}

/* mount(8)'s words for flags; everything else is the file system's own data. */
static unsigned long split_options(const char *options, char *data, size_t size)
{
	static const struct {
		const char *word;
		unsigned long flag;
	} words[] = {{"ro", MS_RDONLY}, {"nosuid", MS_NOSUID}, {"nodev", MS_NODEV}, {"noexec", MS_NOEXEC},
	             {"sync", MS_SYNCHRONOUS}, {"dirsync", MS_DIRSYNC}, {"noatime", MS_NOATIME},
	             {"nodiratime", MS_NODIRATIME}, {"relatime", MS_RELATIME}, {"strictatime", MS_STRICTATIME},
	             {"rw", 0}, {"private", 0}, {"rprivate", 0}, {"shared", 0}, {"rshared", 0}, {"slave", 0},
	             {"rslave", 0}, {"bind", 0}, {"rbind", 0}};
	char copy[4096];
	unsigned long flags = 0;
	snprintf(copy, sizeof copy, "%s", options);
	data[0] = '\0';
	for (char *save, *w = strtok_r(copy, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
		size_t i = 0;
		while (i < sizeof words / sizeof words[0] && strcmp(words[i].word, w))
			++i;
		if (i < sizeof words / sizeof words[0]) {
			flags |= words[i].flag;
		} else if (strlen(data) + strlen(w) + 2 < size) {
			if (data[0])
				strcat(data, ",");
			strcat(data, w);
		}
	}
	return flags;
}

/* The nodes a container's /dev holds (runc's defaults). No serial port but the workload's own
 * terminal (ttyS0, also as /dev/console, with process.terminal): the control port is
 * moat-init's alone. */
static void populate_dev(int terminal)
{
	static const struct {
		const char *name;
		unsigned maj, min;
	} nodes[] = {{"/dev/null", 1, 3}, {"/dev/zero", 1, 5}, {"/dev/full", 1, 7},
	             {"/dev/random", 1, 8}, {"/dev/urandom", 1, 9}, {"/dev/tty", 5, 0}};
	for (size_t i = 0; i < sizeof nodes / sizeof nodes[0]; ++i) {
		mknod(nodes[i].name, S_IFCHR | 0666, makedev(nodes[i].maj, nodes[i].min));
		chmod(nodes[i].name, 0666);
	}
	symlink("/proc/self/fd", "/dev/fd");
	symlink("/proc/self/fd/0", "/dev/stdin");
	symlink("/proc/self/fd/1", "/dev/stdout");
	symlink("/proc/self/fd/2", "/dev/stderr");
	symlink("pts/ptmx", "/dev/ptmx");
	if (terminal) {
		mknod("/dev/ttyS0", S_IFCHR | 0620, makedev(4, 64));
		mknod("/dev/console", S_IFCHR | 0620, makedev(4, 64));
	}
}

static void container_mounts(int terminal)
{
	int dev_done = 0;
	for (int i = 0; i < nmounts; ++i) {
		char data[4096];
		const unsigned long flags = split_options(mounts[i].options, data, sizeof data);
		mkdirs(mounts[i].dest);
		const char *type = mounts[i].type;
		if (!strcmp(type, "cgroup"))
			type = "cgroup2"; /* the guest's kernel has the unified hierarchy only */
		if (mount(mounts[i].source, mounts[i].dest, type, flags, data[0] ? data : NULL) != 0) {
			/* A cgroup or mqueue the kernel will not give is not worth failing the container for. */
			if (!strcmp(type, "cgroup2") || !strcmp(type, "mqueue"))
				continue;
			fail("EINVAL", "mount %s on %s: %s", mounts[i].type, mounts[i].dest, strerror(errno));
		}
		if (!strcmp(mounts[i].dest, "/dev")) {
			populate_dev(terminal);
			dev_done = 1;
		}
	}
	if (!dev_done) {
		mkdirs("/dev");
		if (mount("tmpfs", "/dev", "tmpfs", MS_NOSUID, "mode=755,size=65536k") != 0)
			fail("EINVAL", "mount tmpfs on /dev: %s", strerror(errno));
		populate_dev(terminal);
		mkdirs("/dev/pts");
		mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620");
	}
}

static void wait_for(const char *path)
{
	for (int tries = 0; access(path, F_OK) != 0; ++tries) {
		if (tries == 1000)
			fail("ENODEV", "%s did not appear", path);
		nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
	}
}

static void copy_files(const int *fds)
{
	for (int i = 0; i < nfiles; ++i) {
		char dir[4096];
		snprintf(dir, sizeof dir, "%s", files[i].dest);
		char *slash = strrchr(dir, '/');
		if (slash && slash != dir) {
			*slash = '\0';
			mkdirs(dir);
		}
		int out = open(files[i].dest, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
		if (out < 0 && errno == ELOOP) { /* an image's symlink (/etc/resolv.conf): replace it */
			unlink(files[i].dest);
			out = open(files[i].dest, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		}
		if (out < 0)
			fail("EINVAL", "%s: %s", files[i].dest, strerror(errno));
		char buf[65536];
		for (ssize_t n; (n = read(fds[i], buf, sizeof buf)) > 0;)
			if (write(out, buf, (size_t)n) != n)
				fail("EIO", "%s: %s", files[i].dest, strerror(errno));
		close(out);
		close(fds[i]);
	}
}

void enter_root(const struct config *c)
{
	wait_for("/dev/vda");
	mkdirs("/mnt/lower");
	mkdirs("/mnt/rw");
	mkdirs("/mnt/root");
	if (mount("/dev/vda", "/mnt/lower", "erofs", MS_RDONLY, NULL) != 0)
		fail("EINVAL", "the root image (/dev/vda, erofs): %s", strerror(errno));
	if (mount("tmpfs", "/mnt/rw", "tmpfs", 0, "mode=755") != 0)
		fail("EINVAL", "the writable layer (tmpfs): %s", strerror(errno));
	trace("root image mounted");
	mkdirs("/mnt/rw/upper");
	mkdirs("/mnt/rw/work");
	if (mount("overlay", "/mnt/root", "overlay", 0,
	          "lowerdir=/mnt/lower,upperdir=/mnt/rw/upper,workdir=/mnt/rw/work") != 0)
		fail("EINVAL", "the root overlay: %s", strerror(errno));
	trace("overlay mounted");
	/* Directories bound in and volumes, each a disk, cloned as detached mounts now and attached
	 * once inside the root (so that the image's symlinks resolve inside it). */
	int trees[MAX_ITEMS], file_fds[MAX_ITEMS];
	for (int i = 0; i < nbinds; ++i) {
		char at[64];
		snprintf(at, sizeof at, "/mnt/bind%d", i);
		mkdirs(at);
		wait_for(binds[i].device);
		/* A volume its last writer did not release (a VM killed) needs its journal replayed,
		 * which a read-only disk cannot: a reader then takes it without the journal. */
		if (mount(binds[i].device, at, binds[i].fstype, binds[i].flags, NULL) != 0 &&
		    !(errno == EROFS && !strcmp(binds[i].fstype, "ext4") &&
		      mount(binds[i].device, at, "ext4", binds[i].flags, "noload") == 0))
			fail("EINVAL", "%s (for %s): %s", binds[i].device, binds[i].dest, strerror(errno));
		trees[i] = (int)syscall(SYS_open_tree, AT_FDCWD, at, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
		if (trees[i] < 0)
			fail("EINVAL", "open_tree %s: %s", at, strerror(errno));
		/* The clone is then the file system's only mount: unmounting it at the end
		 * (release_volumes) unmounts the file system. */
		umount2(at, MNT_DETACH);
	}
	for (int i = 0; i < nfiles; ++i)
		if ((file_fds[i] = open(files[i].from, O_RDONLY | O_CLOEXEC)) < 0)
			fail("EINVAL", "%s: %s", files[i].from, strerror(errno));
	if (chdir("/mnt/root") != 0 || mount("/mnt/root", "/", NULL, MS_MOVE, NULL) != 0 || chroot(".") != 0 ||
	    chdir("/") != 0)
		fail("EINVAL", "entering the root: %s", strerror(errno));
	trace("root entered");
	container_mounts(c->terminal);
	trace("mounts made");
	for (int i = 0; i < nbinds; ++i) {
		mkdirs(binds[i].dest);
		if (syscall(SYS_move_mount, trees[i], "", AT_FDCWD, binds[i].dest, MOVE_MOUNT_F_EMPTY_PATH) != 0)
			fail("EINVAL", "mounting %s: %s", binds[i].dest, strerror(errno));
		close(trees[i]);
		binds_placed = i + 1;
	}
	copy_files(file_fds);
	if (c->hostname && sethostname(c->hostname, strlen(c->hostname)) != 0)
		fail("EINVAL", "hostname '%s': %s", c->hostname, strerror(errno));
	if (c->readonly && mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) != 0)
		fail("EINVAL", "root.readonly: %s", strerror(errno));
}

void release_volumes(void)
{
	int rw = 0;
	for (int i = 0; i < binds_placed; ++i)
		rw |= !(binds[i].flags & MS_RDONLY);
	if (!rw)
		return;
	kill(-1, SIGKILL);
	while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
		;
	for (int i = 0; i < binds_placed; ++i) {
		if (binds[i].flags & MS_RDONLY)
			continue;
		if (umount2(binds[i].dest, 0) != 0 &&
		    mount(NULL, binds[i].dest, NULL, MS_REMOUNT | MS_RDONLY, NULL) != 0)
			trace("volume %s still mounted read-write: %s", binds[i].dest, strerror(errno));
	}
	sync();
}

static void capset_all(const struct config *c)
{
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2];
	memset(d, 0, sizeof d);
	for (int i = 0; i < 2; ++i) {
		d[i].effective = (unsigned)(c->cap_sets[1] >> (32 * i));
		d[i].inheritable = (unsigned)(c->cap_sets[2] >> (32 * i));
		d[i].permitted = (unsigned)(c->cap_sets[3] >> (32 * i));
	}
	if (syscall(SYS_capset, &h, d) != 0)
		fail("EPERM", "capabilities: %s", strerror(errno));
	for (int n = 0; n < 64; ++n)
		if ((c->cap_sets[4] >> n) & 1)
			prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, n, 0, 0);
}

void apply_process(const struct config *c)
{
	for (int i = 0; i < c->nlimits; ++i) {
		struct rlimit r = {c->limits[i].soft, c->limits[i].hard};
		if (setrlimit(c->limits[i].resource, &r) != 0)
			fail("EINVAL", "rlimit %d: %s", c->limits[i].resource, strerror(errno));
	}
	if (c->caps)
		for (int n = 0; n <= 63 && prctl(PR_CAPBSET_READ, n, 0, 0, 0) >= 0; ++n)
			if (!((c->cap_sets[0] >> n) & 1))
				prctl(PR_CAPBSET_DROP, n, 0, 0, 0);
	prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0);
	if (setgroups((size_t)c->ngroups, c->groups) != 0 || setgid(c->gid) != 0 || setuid(c->uid) != 0)
		fail("EPERM", "user %u:%u: %s", (unsigned)c->uid, (unsigned)c->gid, strerror(errno));
	if (c->caps)
		capset_all(c);
	if (c->umask >= 0)
		umask((mode_t)c->umask);
	if (c->nnp && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		fail("EPERM", "noNewPrivileges: %s", strerror(errno));
}
