/* SPDX-License-Identifier: MIT */
/*
 * run_dir: the private directory of one target's QEMU (its sockets, its
 * log, its copy of the UEFI variables), "vmtest-PID-XXXXXX", mode 0700.
 *
 * It is named with vmtest's pid so that a later run can tell when its
 * owner died without removing it (SIGKILL: QEMU went with vmtest through
 * PR_SET_PDEATHSIG, the directory stayed), and remove it then.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"

/*
 * Where run directories may go, in order: $XDG_RUNTIME_DIR, /tmp,
 * /var/tmp, /dev/shm, those short enough for socket paths (107 bytes,
 * "/vmtest-PID-XXXXXX/console.sock" included) and writable.  NULL past the
 * last.
 */
const char *run_dir_base(size_t i);

/*
 * Make a run directory in the first base for which avoid(base, data) is
 * false (a base inside a directory the guest may write), else in the
 * first base.  *ret_dir is malloc'd.
 */
int run_dir_make(bool (*avoid)(const char *base, void *data), void *data, char **ret_dir,
		 struct error *err);

/* Remove a run directory: its files and empty directories (never what a
 * directory holds), then itself. */
void run_dir_remove(const char *dir);

/* Remove the run directories of this user's vmtest runs that are gone. */
void run_dir_sweep(void);
