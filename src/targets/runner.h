/* SPDX-License-Identifier: MIT */
/*
 * runner: one target's life, whatever its kind (target_run.h): check,
 * prepare what boots, start QEMU and wait for the guest agent, set the
 * guest up, run the command with its output streamed, collect the exit
 * status, stop the VM, clean up.  Everything it learns goes into the
 * target's record.
 */
#pragma once

#include <stdbool.h>

#include "base/error.h"
#include "config/config.h"
#include "targets/record.h"
#include "targets/run_options.h"

/*
 * What can be refused before any VM starts, for every target of a run:
 * status 2 in err for what the user must change.
 */
int runner_check(const struct config *config, const struct target *target,
		 const struct run_options *options, struct error *err);

/*
 * Run one target, which runner_check accepted; its record ends passed,
 * failed, timed out, or in error when the VM could not run the command
 * (the reason says why; also when the run was stopped because a
 * destination failed, vm/interrupt.h).  Returns < 0 (-EINTR) only when a
 * signal interrupted the run: the record then stays unended.
 */
int runner_run(const struct config *config, const struct target *target,
	       const struct run_options *options, struct record *record);

/*
 * For --dry-run: prepare what the target boots (which warms the cache) and
 * return its QEMU command line, shell-quoted, without starting anything.
 * The run directory shows as /tmp/vmtest-XXXXXX.
 */
int runner_plan(const struct config *config, const struct target *target,
		const struct run_options *options, struct record *record, char **ret_line,
		struct error *err);
