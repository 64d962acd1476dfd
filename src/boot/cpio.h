/* SPDX-License-Identifier: MIT */
/*
 * cpio: the "newc" archives (magic 070701) the kernel unpacks as its
 * initramfs, written to a file descriptor as entries are added.
 *
 * The layout is what init/initramfs.c reads: a 110-byte ASCII header, the
 * NUL-terminated name, padding to 4 bytes, the data, padding to 4 bytes;
 * the archive ends with an entry named TRAILER!!!.  Every entry gets its own
 * inode number and a link count of 1 (2 for directories), so the kernel
 * never takes two files for hard links of each other.  Owners are root and
 * times are a fixed mtime, so the same input gives the same bytes.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/error.h"

struct cpio {
	int fd;			/* not owned */
	uint32_t next_ino;
	uint32_t mtime;		/* of every entry; 0 unless set after cpio_init */
	uint64_t offset;	/* bytes written so far */
	bool finished;
};

void cpio_init(struct cpio *c, int fd);

/*
 * Add an entry.  name is the path inside the archive, without a leading
 * '/' ("init", "lib/modules"); parents must be added before their children.
 * perm is the permission bits (0755).
 */
int cpio_add_dir(struct cpio *c, const char *name, mode_t perm, struct error *err);
int cpio_add_file(struct cpio *c, const char *name, mode_t perm, const void *data, size_t len,
		  struct error *err);
int cpio_add_symlink(struct cpio *c, const char *name, const char *target, struct error *err);

/* Write the TRAILER!!! entry; nothing may be added afterwards. */
int cpio_finish(struct cpio *c, struct error *err);
