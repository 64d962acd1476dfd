/* SPDX-License-Identifier: MIT */
/*
 * config_load: vmtest.toml's tables (toml.h) read into the model (config.h).
 * Every key of [[target]], [target.vm] and [target.vm.mounts] has an entry
 * in a table with the type it must have and what it sets; the rules
 * between fields (vmtest 0.18's) are checked once a target is read.  Each
 * mistake is one line: "vmtest.toml:3:10: target 'x': what is wrong".
 * config_load_file() and config_load_string() (config.h) are its public
 * side; what follows is config/'s own: the model's rules that config.c
 * defines and the loader shares.
 */
#pragma once

#include <stddef.h>

#include "base/error.h"
#include "config/config.h"
#include "config/toml.h"


/*
 * base_dir/path with "." components and repeated slashes dropped, so
 * messages and --dry-run show /work/bzImage rather than /work/./bzImage;
 * malloc'd.
 */
char *config_resolve_path(const char *base_dir, const char *path);

/* Every field a target left out, at its default. */
int config_fill_defaults(struct target *t, struct error *err);
