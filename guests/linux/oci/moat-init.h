/* moat-init: PID 1 of an OCI container's VM (docs/oci.md). Shared between its two parts:
 * setup.c (the root file system, the container's mounts, its settings) and moat-init.c (the
 * control port, the workload's life). */
#ifndef MOAT_INIT_H
#define MOAT_INIT_H

#include <stddef.h>
#include <sys/types.h>

#define MAX_ITEMS 256

struct limit {
	int resource;
	unsigned long long soft, hard;
};

/* What /moat/config says (src/oci/guest_config.hpp has the format). */
struct config {
	char *args[MAX_ITEMS + 1];
	int nargs;
	char *env[MAX_ITEMS + 1];
	int nenv;
	const char *cwd;
	uid_t uid;
	gid_t gid;
	gid_t groups[MAX_ITEMS];
	int ngroups;
	int umask; /* -1: leave the default */
	const char *hostname;
	struct limit limits[32];
	int nlimits;
	int terminal, nnp, readonly, caps;
	unsigned long long cap_sets[5]; /* bounding, effective, inheritable, permitted, ambient */
};

/* Reads /moat/config; on a malformed one says why through fail(). */
void read_config(struct config *c);
/* Mounts the root (erofs under an overlay), the container's mounts and binds, copies its files,
 * and moves into it: the caller's root and cwd are the container's afterwards. */
void enter_root(const struct config *c);
/* Before the VM ends: every other process killed (as a container's pid namespace ends) and
 * the read-write volumes unmounted (or, if busy, made read-only), so that what the container
 * wrote is on the disk, clean, before `exit N` lets the VM process end the VM. */
void release_volumes(void);
/* In the workload's child, just before exec: ids, groups, umask, limits, capabilities, nnp. */
void apply_process(const struct config *c);

/* Says `error CODE MESSAGE` on the control port and powers off (setup failures). */
void fail(const char *code, const char *fmt, ...) __attribute__((noreturn, format(printf, 2, 3)));
/* A line in the kernel's log. */
void trace(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Writes a control line (the newline added). */
void say(const char *line);

#endif
