/* SPDX-License-Identifier: MIT */
/*
 * show: what vmtest prints instead of running: --list (the targets'
 * names) and --dry-run (each target resolved, as TOML, with its QEMU
 * command line).
 */
#pragma once

#include "base/error.h"
#include "cli/cli.h"
#include "config/config.h"

/* --list: one name a line, sanitized. */
void show_list(const struct config *config);

/*
 * --list=json: a GitHub Actions matrix of shards ({"include": [{"shard":
 * "K/N", "targets": [...], "time": S}, ...]}), for fromJSON(); --list=gitlab:
 * the value of a GitLab job's parallel:matrix ([{"VMTEST_SHARD": ["1/N",
 * ...]}]).  N is --shards, else one shard per target; the slices are the
 * ones `--shard K/N` (with the same --timings) runs.
 */
int show_matrix(const struct config *config, const struct cli_options *options,
		struct error *err);

/* --dry-run, on stdout; vmtest's own lines (-v) on stderr. */
int show_plan(const struct config *config, const struct cli_options *options,
	      struct error *err);
