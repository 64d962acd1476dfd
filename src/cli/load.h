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

/* The files the selected targets name exist and are of the right kind. */
int load_check_files(const struct config *config, struct error *err);
