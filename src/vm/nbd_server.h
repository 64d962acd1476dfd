/* SPDX-License-Identifier: MIT */
/*
 * nbd_server: a read-only disk for QEMU, served by vmtest over the NBD
 * protocol (fixed newstyle handshake, simple replies) on a unix socket in
 * the run directory.  QEMU's nbd block driver is the client; the guest
 * sees a virtio-blk disk.  What the disk holds comes from a callback:
 * vmtest's EROFS image of /usr (boot/erofs_image.h), whose file data is
 * read from the host's files only when the guest asks for it.
 *
 * The server listens before QEMU starts and answers the handshake at once
 * (the disk's size is fixed); a read waits until the callback can answer
 * it, so the image can be built while the guest boots.  One thread, one
 * client at a time; writes are refused (the export is read-only).
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

/* len bytes at offset into buf: 0, or -errno (the client is told EIO). */
typedef int (*nbd_read_fn)(void *opaque, uint64_t offset, void *buf, size_t len);

struct nbd_server;

/* Listen on socket_path and serve from a thread of its own. */
int nbd_server_start(const char *socket_path, uint64_t size, nbd_read_fn read, void *opaque,
		     struct nbd_server **ret_server, struct error *err);

/* Reads served, how many of them failed, and the bytes read. */
void nbd_server_counts(const struct nbd_server *server, uint64_t *ret_reads,
		       uint64_t *ret_failed, uint64_t *ret_bytes);

/* Stop serving, join the thread, close and unlink the socket; accepts NULL. */
void nbd_server_stop(struct nbd_server *server);
