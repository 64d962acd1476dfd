/* SPDX-License-Identifier: MIT */
/*
 * image_guest: what vmtest does inside an image target, through the
 * image's own qemu-ga.  The image is its own world: vmtest only mounts the
 * shared directory and vm.mounts over 9p, then runs the command with the
 * image's shell in /mnt/vmtest, with the image's environment.
 */
#pragma once

#include <stdint.h>

#include "config.h"
#include "error.h"
#include "qga.h"

/* Mount /mnt/vmtest and vm.mounts, retrying while 9p modules load. */
int image_guest_mount(struct qga *qga, const struct target *target, int64_t deadline,
		      struct error *err);

/*
 * Run the command, copy its stdout and stderr to out_fd and err_fd, and
 * return its status.  The output is captured by qemu-ga and copied when
 * the command ends (at most 16 MiB per stream).
 */
int image_guest_run(struct qga *qga, const struct target *target, int out_fd, int err_fd,
		    int64_t deadline, struct qga_exec_status *ret_status, struct error *err);
