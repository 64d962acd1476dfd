/* SPDX-License-Identifier: MIT */
/*
 * kernel_fs: how a kernel target's guest reaches the host's files: the
 * root filesystem, the shared directory and vm.mounts, each exported over
 * 9p by QEMU itself, or over virtiofs by a daemon of vmtest's per export
 * (vm/virtiofsd.h), with 9p beside it for a kernel without virtiofs.
 * vm.filesystem (--filesystem) asks; auto takes virtiofs where it can be
 * had (docs/virtiofs.md).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"
#include "vm/virtiofsd.h"

struct target_run;

struct kernel_fs {
	/* virtiofs: a daemon per export (root, shared, vm.mounts), and their
	 * pidfds.  Beside 9p unless virtiofs_only: the guest then takes
	 * virtiofs when its kernel has it (virtiofs_used, from its answer). */
	bool virtiofs;
	bool virtiofs_only;
	bool virtiofs_used;
	char *virtiofsd;
	struct virtiofsd *daemons;
	size_t n_daemons;
	int *daemon_fds;	/* ended by -1 */
	/* /usr from vmtest's image of it (targets/usr_image.h): wanted by the
	 * configuration, then kept only for a kernel with EROFS and virtio-blk;
	 * the image and its server, once started; whether the guest took it. */
	bool usr_image;
	struct usr_image *image;
	bool usr_image_used;
};

/* 9p or virtiofs, as asked and as this host allows; said with -v. */
int kernel_fs_choose(struct target_run *run, struct kernel_fs *fs, struct error *err);

/* Start the daemons, when virtiofs was chosen. */
int kernel_fs_start(struct target_run *run, struct kernel_fs *fs, struct error *err);

/* What the set-up asks the guest to mount: "virtiofs", "auto" (either), or NULL (9p). */
const char *kernel_fs_setup_name(const struct kernel_fs *fs);

/* The guest answered which it mounted ("virtiofs", "9p", NULL: an older init),
 * and whether /usr came from the image (usr_image: its error, or NULL). */
void kernel_fs_mounted(struct target_run *run, struct kernel_fs *fs, const char *used,
		       bool usr_image_used, const char *usr_image_error);

/* After the command: what the image served, and a file that changed under it. */
void kernel_fs_finished(struct target_run *run, struct kernel_fs *fs);

/* Why a warm start is off for these files; NULL: it is not. */
const char *kernel_fs_warm_off(const struct target_run *run, const struct kernel_fs *fs);

/*
 * A warm boot's guest, saved or restored, has its virtiofs devices' root
 * ports and not the devices: plug each in, connected to its daemon.
 */
int kernel_fs_plug(struct target_run *run, struct kernel_fs *fs, struct error *err);

/* The daemons' pidfds, for the relay to watch, when the guest uses them; NULL: none. */
const int *kernel_fs_watch_fds(const struct kernel_fs *fs);

/* Whether a daemon the guest uses exited under it; err then says which, and how. */
bool kernel_fs_daemon_died(const struct kernel_fs *fs, struct error *err);

/* Stop the daemons and free; any number of times. */
void kernel_fs_clear(struct kernel_fs *fs);
