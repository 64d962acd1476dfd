/* SPDX-License-Identifier: MIT */
/*
 * scheduler: a run of the selected targets, up to -j at once, each on a
 * worker thread with its own record; the view follows the records, the
 * reports collect them.
 */
#pragma once

#include "base/error.h"
#include "cli/cli.h"
#include "config/config.h"
#include "targets/run_options.h"

/*
 * The options every target of a run shares, from the command line, each
 * checked (status 2); the accelerator chosen once, and when not KVM by
 * itself, why; -j's count (0: not given).  forwards: room for --forward's
 * (CLI_MAX_FORWARDS), which ro points to.
 */
int scheduler_run_options(const struct cli_options *options, struct run_options *ro,
			  struct vm_forward *forwards, const char **ret_why, unsigned *ret_jobs,
			  struct error *err);

/*
 * Run the targets.  *ret_status is what vmtest exits with: one target, its
 * command's status; several, 0 when all passed and 1 otherwise (not
 * vmtest 0.18's count of failures, which wraps at 256); 69 when a report
 * could not be written.  < 0 with err set when the run could not start.
 */
int scheduler_run(const struct config *config, const struct cli_options *options,
		  enum cli_mode mode, int *ret_status, struct error *err);
