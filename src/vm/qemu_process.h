/* SPDX-License-Identifier: MIT */
/*
 * qemu_process: start QEMU and make sure it goes away.
 *
 * QEMU gets /dev/null as stdin (never the user's terminal), its stdout and
 * stderr in a log file of the run directory (quoted when it fails), its own
 * process group (so a Ctrl-C on the terminal reaches vmtest, which then
 * stops QEMU in order), and PR_SET_PDEATHSIG so that it dies with vmtest
 * even when vmtest is SIGKILLed.  It is forked by one thread that lives as
 * long as vmtest, not by the worker thread that runs its target: the death
 * signal follows the thread that forked, and workers come and go.
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "base/error.h"

struct qemu_process {
	pid_t pid;		/* 0 once reaped */
	int pidfd;		/* readable when QEMU exits; -1 if unsupported */
	int wstatus;		/* once reaped */
	char *log_path;		/* QEMU's stdout and stderr */
};

/*
 * keep_fds: descriptors (close-on-exec in vmtest) that QEMU inherits at
 * the same numbers, ended by -1; NULL for none.
 */
int qemu_process_start(char *const *argv, const int *keep_fds, const char *log_path,
		       struct qemu_process *ret, struct error *err);

/*
 * The same for a helper daemon that needs the child prepared before exec
 * (a mount namespace of its own): setup(arg) runs in the child, after
 * fork, and may only make system calls; < 0 (-errno) fails the start.
 */
int qemu_process_start_with(char *const *argv, const int *keep_fds, int (*setup)(void *arg),
			    void *setup_arg, const char *log_path, struct qemu_process *ret,
			    struct error *err);

/* Reap without blocking; true if QEMU has exited (wstatus then valid). */
bool qemu_process_exited(struct qemu_process *q);

/* Wait up to timeout_ms for QEMU to exit; true if it did. */
bool qemu_process_wait(struct qemu_process *q, int timeout_ms);

/* SIGTERM, a grace period, then SIGKILL; always reaps. */
void qemu_process_stop(struct qemu_process *q);

/* The tail of QEMU's log (its error messages), malloc'd, or NULL. */
char *qemu_process_log_tail(const struct qemu_process *q, size_t max);

void qemu_process_clear(struct qemu_process *q);
