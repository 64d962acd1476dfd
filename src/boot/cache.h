/* SPDX-License-Identifier: MIT */
/*
 * cache: files vmtest derives from its inputs and keeps between runs (a
 * kernel's extracted ELF, an initramfs), named by a hash of what they were
 * made from.  Files appear there whole or not at all.
 *
 * A guest can write the cache: a one-liner run from $HOME (or from the
 * cache's parent) shares it read-write, and the guest may replace a file,
 * or a directory on its path, with one of its own.  So no file there is
 * trusted for its name or its place.  When vmtest writes a cache file it
 * records the file's identity (device, inode, size, change time: the
 * kernel sets the change time on every write, rename or link, and nothing
 * can set it back) in the user's kernel keyring, which no guest can reach
 * (unlike any file: guests also read the host's files through the root
 * share).  A file is used only if it is still the one recorded; anything
 * else is made again.  Where the keyring is out of reach (seccomp in some
 * containers), cache_trust_available() is false and callers keep their
 * files for one run only.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "base/error.h"

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
 * over name, so a reader never sees a partial file; then trusted.
 */
int cache_write(const char *dir, const char *name, const void *buf, size_t len,
		struct error *err);

/*
 * Put the file written as tmp (open as fd; written whole and synced) in the
 * cache as path, and record it; unless another vmtest process has put and
 * recorded the same file there meanwhile: then tmp is removed and theirs
 * stays.  A cache name stands for its contents, and a file that one run
 * has checked, pinned and keyed a snapshot on must not be swapped under it
 * by another run making the same file at the same time: its identity would
 * change (docs/warm-start.md).  Without the keyring, tmp is renamed over
 * path.
 */
int cache_publish(int fd, const char *tmp, const char *path, struct error *err);

/* Whether the user's kernel keyring can hold the records (tried once). */
bool cache_trust_available(void);

/*
 * Record the file open as fd, now at path, as one vmtest wrote (after its
 * last rename: renaming changes the change time).  Best effort: a record
 * that cannot be kept only makes the file be made again.
 */
void cache_trust(int fd, const char *path);

/* Whether path is a regular file vmtest recorded, unchanged since. */
bool cache_trusted(const char *path);

/* Whether a and b are one file, unchanged: device, inode, size, change time. */
bool cache_same_file(const struct stat *a, const struct stat *b);
