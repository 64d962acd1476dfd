/* SPDX-License-Identifier: MIT */
/*
 * load: the targets a command line selects: a one-liner's single target,
 * or vmtest.toml's (-c), narrowed by --filter and --shard.
 */
#pragma once

#include "base/error.h"
#include "cli/cli.h"
#include "config/config.h"

int load_targets(const struct cli_options *options, enum cli_mode mode,
		 struct config **ret_config, struct error *err);

/*
 * Each target's slice of n: by the times in the --json report at
 * timings_path (an earlier run's, or --merge's) when given, else by
 * position (i % n + 1).  ret_slices holds config->n_targets; ret_loads,
 * when not NULL, n: each slice's time (0 without timings).
 */
int load_slices(const struct config *config, unsigned n, const char *timings_path,
		unsigned *ret_slices, double *ret_loads, struct error *err);

/* The files the selected targets name exist and are of the right kind. */
int load_check_files(const struct config *config, struct error *err);
