/* SPDX-License-Identifier: MIT */
/*
 * erofs_image: a host directory tree (a kernel target's /usr) as an EROFS
 * filesystem that is never written out.  One stat walk lays the image out:
 * the superblock, the inodes and the directories live in memory; every
 * regular file's data is a run of blocks that maps to the host file
 * itself, read when the guest asks for it (vm/nbd_server.h serves it to
 * QEMU).  Building costs a walk and no copy, so every run builds its own:
 * what changed on the host since the last run is what the guest sees.
 *
 * Why: over 9p every lookup, open, read and close is a round trip through
 * QEMU; over virtio-blk the guest's own page cache and dentry cache serve
 * them, and one request carries a whole directory or a file's blocks
 * (docs/performance.md, "File-heavy work").
 *
 * The guest stacks this image over the 9p view of the same tree
 * (overlayfs, two lower layers).  What the image leaves out falls through
 * to 9p: the names in leave_out (/usr/local, where users install what
 * they build), whatever the user running vmtest cannot read, and files
 * larger than EROFS_IMAGE_FILE_MAX.  Every directory whose whole subtree
 * is in the image is marked opaque (trusted.overlay.opaque), so lookups
 * stop in the image and never reach 9p; overlayfs looks no further under
 * an opaque directory, so one that lacks anything at any depth is not.
 *
 * A file's data changed on the host after the walk is never served as the
 * walk's: each read checks the file's identity, size and times against
 * the walk's, before and after, and fails with EIO when they differ (a
 * write within the walk's clock tick aside).  Directories, symlinks,
 * empty files and metadata are the walk's.  Files' extents are one block
 * apart, so that the guest never merges the reads of two files into one.
 *
 * Layout (4 KiB blocks, uncompressed, extended inodes for the host's
 * mtimes): block 0 holds the superblock at 1024; the metadata area from
 * block 1 holds the inodes, symlink targets and directory tails inline;
 * then the full directory blocks; then the files' data.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

#define EROFS_IMAGE_BLOCK 4096u

/* The largest image vmtest serves: the size the guest's disk announces,
 * fixed so that a snapshot's disk is the restore's (warm starts). */
#define EROFS_IMAGE_DEVICE_BYTES ((uint64_t)1 << 40)

/* A larger file is left to 9p (and its directory is not opaque): one file
 * must not take the image from every other. */
#define EROFS_IMAGE_FILE_MAX ((uint64_t)64 << 30)

struct erofs_image;

struct erofs_image_stats {
	uint64_t entries;	/* in the image, the root included */
	uint64_t files;		/* regular files */
	uint64_t data_bytes;	/* their sizes */
	uint64_t left_out;	/* entries left to 9p (leave_out, unreadable) */
	uint64_t image_bytes;	/* what the guest's disk holds */
	size_t memory_bytes;	/* the metadata vmtest keeps */
};

/*
 * Walk dir and lay the image out.  leave_out: names directly under dir
 * that stay out (NULL-ended; may be NULL).  Errors name the path.
 */
int erofs_image_build(const char *dir, const char *const *leave_out,
		      struct erofs_image **ret_image, struct error *err);

/*
 * len bytes of the image at offset, into buf.  Past the image: zeros.
 * 0, or -EIO (a host file unreadable, or changed since the walk: *ret_path
 * then names it, valid until the image is freed) or -errno.  Not
 * thread-safe: one reader at a time.
 */
int erofs_image_read(struct erofs_image *image, uint64_t offset, void *buf, size_t len,
		     const char **ret_path);

const struct erofs_image_stats *erofs_image_stats(const struct erofs_image *image);

/*
 * Whether the directory at path (relative to the walked one; "" for it)
 * is in the image and opaque: overlayfs then looks nowhere else for
 * anything under it, so it must hold its whole subtree.
 */
bool erofs_image_opaque(const struct erofs_image *image, const char *path);

/* Accepts NULL, returns NULL. */
struct erofs_image *erofs_image_free(struct erofs_image *image);
