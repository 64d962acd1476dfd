/* SPDX-License-Identifier: MIT */
/*
 * host_file: writing vmtest's files on the host (--output-dir, --junit,
 * --json, --log) where a guest may have changed the paths.
 *
 * These paths often lie inside a directory the guest shares read-write,
 * and a root guest can put a symbolic link, a FIFO or a directory anywhere
 * there, before the run, during it, or between its command's end and the
 * reports.  So the directory the user named is resolved once, before any
 * guest runs, and kept open; everything below it is reached relative to
 * that descriptor, one component at a time, never through a link; a file
 * is written as a new temporary file renamed over its name, so whatever
 * was planted there is replaced, never opened or followed.  A path the
 * guest changed is refused with an error that names it and says so.
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "base/error.h"

/*
 * A new file in dir for vmtest alone (0600), already unlinked: O_TMPFILE
 * where the file system has it, else a random name removed at once.  The
 * descriptor, or -errno.
 */
int host_unlinked_file(const char *dir);

/* A directory the user named, and what it was when it was opened. */
struct host_dir;

/*
 * Open the directory path (the user's own path: its links are followed),
 * creating it (0755) first when create is set and it is absent.  Done
 * before any guest runs.
 */
int host_dir_open(const char *path, bool create, struct host_dir **ret, struct error *err);

/*
 * The directory name (one component) below d, created when absent: never a
 * link, never anything but a directory, whatever the guest put there.
 */
int host_dir_subdir(struct host_dir *d, const char *name, struct host_dir **ret,
		    struct error *err);

/* Accepts NULL, returns NULL. */
struct host_dir *host_dir_free(struct host_dir *d);

/* The path as the user named it, for messages. */
const char *host_dir_path(const struct host_dir *d);

/* What fills a new file: < 0 and err set on failure. */
typedef int (*host_file_fill)(int fd, void *arg, struct error *err);

/*
 * Write name (one component) in d: a temporary file of d filled by fill,
 * then renamed over name.  A link, FIFO or file planted at name is
 * replaced; a directory there, or d itself removed or moved, is refused.
 */
int host_dir_write(struct host_dir *d, const char *name, host_file_fill fill, void *arg,
		   struct error *err);

/* The same, the file made with mode (before the umask) from the start:
 * 0600 for what only its owner may read, with no moment at 0644. */
int host_dir_write_mode(struct host_dir *d, const char *name, mode_t mode, host_file_fill fill,
			void *arg, struct error *err);

/* Remove the file name (one component) of d, if there is one. */
int host_dir_remove(struct host_dir *d, const char *name, struct error *err);

/* host_dir_write of a string. */
int host_dir_write_text(struct host_dir *d, const char *name, const char *text,
			struct error *err);

/*
 * A file to write as the run goes (--log): made new and renamed into place
 * at once, returned open for writing (O_CLOEXEC).
 */
int host_dir_create(struct host_dir *d, const char *name, int *ret_fd, struct error *err);

/*
 * Split a file path the user named into its directory, opened, and its
 * last component (malloc'd).  "report.xml" is in ".".
 */
int host_file_open_parent(const char *path, struct host_dir **ret_dir, char **ret_name,
			  struct error *err);
