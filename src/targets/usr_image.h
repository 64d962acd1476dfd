/* SPDX-License-Identifier: MIT */
/*
 * usr_image: a kernel target's /usr from an EROFS image of the host's
 * (boot/erofs_image.h) on a virtio-blk disk that vmtest serves to QEMU
 * over NBD (vm/nbd_server.h), stacked in the guest over the 9p view of
 * /usr, which keeps answering for what the image leaves out (/usr/local,
 * files the user cannot read).
 *
 * The image is built by a stat walk in a thread of its own, started before
 * QEMU, while the guest boots; the disk's reads wait for it.  Each run
 * walks again, so a file changed on the host between two runs is seen by
 * the second; one changed during a run reads as an I/O error rather than
 * as the file the walk saw (docs/performance.md).
 *
 * Used with vm.filesystem = auto (the default) and vm.usr_image (default
 * true), for kernels that have EROFS and virtio-blk, built in or as
 * modules.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"

struct usr_image;

/* Start walking <rootfs>/usr and serving the disk on socket_path. */
int usr_image_start(const char *rootfs, const char *socket_path, struct usr_image **ret,
		    struct error *err);

/*
 * What happened, for the log: the walk's figures, or why there is no
 * image; and the first file that changed under the run, if one did.
 * Waits for the walk.  The text is valid until usr_image_stop.
 */
const char *usr_image_summary(struct usr_image *image);
const char *usr_image_changed_file(struct usr_image *image);
/* What the disk served so far: reads, bytes, failures. */
const char *usr_image_served(struct usr_image *image);

/* Stop the server and free; accepts NULL. */
void usr_image_stop(struct usr_image *image);
