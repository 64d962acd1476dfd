/* SPDX-License-Identifier: MIT */
/*
 * disk_image: what an image target boots.  The format comes from the file's
 * header and is given to QEMU explicitly, since QEMU refuses to guess
 * writes to a raw image and a guessed format is a known way to let a guest
 * turn a raw disk into something else.
 */
#pragma once

#include <stddef.h>

#include "base/error.h"

enum disk_format {
	DISK_RAW,
	DISK_QCOW2,
	DISK_VMDK,
	DISK_VDI,
	DISK_VHDX,
	DISK_QED,
};

/* QEMU's name for the format: "raw", "qcow2", ... */
const char *disk_format_name(enum disk_format format);

/* The format of the image at path, from its first bytes. */
int disk_image_detect(const char *path, enum disk_format *ret_format, struct error *err);

/* The same from bytes already read (len may be short). */
enum disk_format disk_image_detect_bytes(const unsigned char *buf, size_t len);

/*
 * A qcow2 layer at layer over the image (format given, never probed),
 * made with qemu_img: QEMU writes the layer, never the image.  The image
 * is named by its absolute path, so the layer can be copied elsewhere and
 * still find it.
 */
int disk_image_layer_create(const char *qemu_img, const char *image, enum disk_format format,
			    const char *layer, struct error *err);
