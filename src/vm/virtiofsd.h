/* SPDX-License-Identifier: MIT */
/*
 * virtiofsd: the daemons that serve a kernel target's root and shares over
 * virtiofs (docs/virtiofs.md), one per export, each listening on a socket
 * in the run directory that QEMU's vhost-user-fs device connects to.
 *
 * Debian 12's virtiofsd (QEMU 7.2's, in C) runs only as root and has no
 * read-only mode, and a root guest could remount a virtiofs export
 * read-write.  So a read-only export is served from a read-only view: the
 * daemon starts in a mount namespace of its own, where the export is bound
 * (recursively) on a directory of the run directory and made read-only
 * (mount_setattr); the host's mount table never sees it, and it goes with
 * the daemon.  The daemon also drops CAP_MKNOD (-o modcaps=-mknod).
 *
 * Daemons are forked by vmtest's spawner (vm/qemu_process.h), so they die
 * with vmtest.  The pid file the C daemon writes in /run/virtiofsd, which
 * it leaves behind, is removed when it stops, and by the next run when
 * vmtest was killed (virtiofsd_sweep).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "vm/qemu_process.h"

struct virtiofsd {
	struct qemu_process process;
	char *id;		/* the export's, as given */
	char *what;		/* for messages: "/" or "the shared directory /home/u/p" */
	char *socket;		/* RUN/vfs-ID.sock */
	char *view;		/* RUN/vfs-ID: a read-only export's place; NULL otherwise */
	char *pid_file;		/* where the C daemon writes its pid */
};

/*
 * The daemon: /usr/libexec/virtiofsd, /usr/lib/qemu/virtiofsd, or one in
 * PATH (malloc'd); NULL when there is none.
 */
char *virtiofsd_find(void);

/* What one daemon serves. */
struct virtiofsd_export {
	const char *id;		/* "root", "shared", "m0"...: names its files in the run directory */
	const char *socket;	/* where it listens (QEMU's vhost-user-fs connects) */
	const char *source;	/* a directory of the host */
	bool writable;
	/*
	 * The host's mounts below source announced as mounts of their own
	 * (distinct devices, as 9p's multidevs=remap gives).  Not for a
	 * lower layer of overlayfs, which refuses their automount points
	 * (EREMOTE): the guest's root, whose inodes then share one device.
	 */
	bool submounts;
	const char *what;	/* for messages */
};

/* Start binary serving e, and wait until it listens (up to deadline). */
int virtiofsd_start(const char *binary, const char *run_dir, const struct virtiofsd_export *e,
		    int64_t deadline, struct virtiofsd *ret, struct error *err);

/* Whether it exited; *ret_why then says how ("killed by signal 9"). */
bool virtiofsd_exited(struct virtiofsd *d, char *ret_why, size_t why_len);

/* Stop it (SIGTERM, then SIGKILL) and remove its socket, pid file and view. */
void virtiofsd_stop(struct virtiofsd *d);

/*
 * How many files a daemon may keep open, when that is few: 0 when it can
 * raise its limit to what a guest needs (it tries; it keeps an open file
 * per inode the guest holds), else the limit it is stuck with (RLIMIT_NOFILE,
 * without CAP_SYS_RESOURCE to raise it, as in some containers).
 */
unsigned long virtiofsd_files_limit(void);

/* Pid files of daemons whose vmtest is gone (it was SIGKILLed). */
void virtiofsd_sweep(void);
