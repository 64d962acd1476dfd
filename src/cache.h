/* SPDX-License-Identifier: MIT */
/*
 * cache: files vmtest derives from its inputs and keeps between runs (a
 * kernel's extracted ELF), named by a hash of what they were made from.
 * The directory is private to the user; files appear there whole or not at
 * all.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "error.h"

/*
 * $XDG_CACHE_HOME/vmtest, else ~/.cache/vmtest, created (0700) if needed.
 * *ret_dir is malloc'd.
 */
int cache_dir_get(char **ret_dir, struct error *err);

/*
 * A 64-bit hash of buf, to name cache entries after their source.  Not
 * cryptographic: it tells a user's kernels apart, it does not resist an
 * attacker (who would need write access to the user's cache anyway).
 */
uint64_t cache_hash(const void *buf, size_t len);

/*
 * Write dir/name atomically: a temporary file in dir, synced, then renamed
 * over name, so a reader never sees a partial file.
 */
int cache_write(const char *dir, const char *name, const void *buf, size_t len,
		struct error *err);
