/* SPDX-License-Identifier: MIT */
/*
 * image_guest: what vmtest does inside an image target, through the
 * image's own qemu-ga.  The image is its own world: vmtest only mounts the
 * shared directory and vm.mounts over 9p, then runs the command with the
 * image's shell in /mnt/vmtest, with the image's environment.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "config/config.h"
#include "vm/qga.h"

/*
 * Fail clearly when the agent refuses guest-exec (RHEL and Fedora ship
 * qemu-ga that way) rather than at the first command.
 */
int image_guest_check_agent(struct qga *qga, int64_t deadline, struct error *err);

/* Mount /mnt/vmtest and vm.mounts, retrying while 9p modules load. */
int image_guest_mount(struct qga *qga, const struct target *target, int64_t deadline,
		      struct error *err);

/* Flush the guest's file systems (run `sync`), before a persistent image stops. */
int image_guest_sync(struct qga *qga, int64_t deadline, struct error *err);

/* The two raw output ports of an image target and where their bytes go. */
struct image_guest_streams {
	int port_fds[2];	/* stdout's and stderr's port sockets */
	int out_fds[2];		/* vmtest's stdout and stderr (or both stdout; -1: nowhere) */
	int copy_fd;		/* both streams again, by whole lines (the view's spool) */
};

/*
 * Run the command and return its status.  Its stdout and stderr are
 * relayed live: a wrapper run through guest-exec finds vmtest's two ports
 * under /sys/class/virtio-ports, pipes the command's output into them and
 * ends each with a marker unique to the run, after which the status is
 * final.  Without the ports (an image without sysfs or devtmpfs), qemu-ga
 * captures the output, shown when the command ends (16 MiB per stream).
 */
int image_guest_run(struct qga *qga, const struct target *target,
		    const struct image_guest_streams *streams, int64_t deadline,
		    struct qga_exec_status *ret_status, struct error *err);
