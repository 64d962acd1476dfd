/* SPDX-License-Identifier: MIT */
/*
 * runner: one target's life.  Prepare (kernel, modules, initramfs), boot
 * QEMU, wait for the guest agent, set the guest up, run the command with its
 * output streamed, collect the exit status, power off, clean up.
 */
#pragma once

#include <stdbool.h>
#include <stdio.h>

#include "base/error.h"
#include "config/config.h"
#include "ui/view.h"

/* As timeout(1): the status of a command stopped for taking too long. */
#define RUNNER_EXIT_TIMEOUT 124

struct runner_options {
	int out_fd;		/* where the command's stdout goes */
	int err_fd;		/* and its stderr */
	struct view *view;	/* what the user sees: stages, vmtest's lines */
	struct view_target *target;	/* this target's part of it, and its spools */
	int verbose;
	const char *accel;	/* "kvm", "tcg", "auto" or NULL */
	unsigned boot_timeout_s;	/* 0: 60 with KVM, 180 with TCG */
	unsigned timeout_s;	/* overrides the targets' timeout; 0: theirs */
	bool tty;		/* run the command on a guest pty (--tty) */
};

enum runner_outcome {
	RUNNER_PASSED,		/* the command exited 0 */
	RUNNER_FAILED,		/* it exited non-zero, was killed by a signal, or timed out */
	RUNNER_ERROR,		/* the VM could not run it */
};

struct runner_result {
	enum runner_outcome outcome;
	int exit_status;	/* what vmtest exits with for this target alone */
	char reason[2304];	/* why it failed ("Command failed with exit code: 3") */
	char *qemu_line;	/* the QEMU command line, shell-quoted; NULL if none */
};

/*
 * Run one target.  A target that fails is not an error: the result says so.
 * Returns < 0 only for problems of the run itself, with err filled (its
 * status is 69, or 2 for a configuration problem found late).
 */
int runner_run(const struct config *config, const struct target *target,
	       const struct runner_options *options, struct runner_result *ret,
	       struct error *err);

/* What can be refused before any VM starts (2 for configuration problems). */
int runner_check(const struct config *config, const struct target *target, struct error *err);

/*
 * For --dry-run: prepare what the target boots (which warms the cache) and
 * return its QEMU command line, shell-quoted, without starting anything.
 * The run directory shows as /tmp/vmtest-XXXXXX.
 */
int runner_plan(const struct config *config, const struct target *target,
		const struct runner_options *options, char **ret_line, struct error *err);

/*
 * Remove the private directories of vmtest runs that died without
 * removing them (SIGKILL): QEMU went with them (PR_SET_PDEATHSIG), their
 * directory stayed.  Only directories of ours whose vmtest is gone.
 */
void runner_remove_stale_run_dirs(void);

/* Whether the run is being stopped (interrupt.h: a signal, a failed destination). */
int runner_interrupted(void);
