/* SPDX-License-Identifier: MIT */
/*
 * decompress: the compressed formats kernels and their modules come in,
 * behind one small interface so zlib, liblzma and libzstd stay in one file.
 *
 * Everything works on whole buffers with a cap on the output, because the
 * inputs (a kernel given with -k, a rootfs's modules) are not ours and a
 * few kilobytes can claim to expand to terabytes.
 */
#pragma once

#include <stddef.h>

#include "base/error.h"

enum decompress_format {
	DECOMPRESS_NONE,	/* not a format we know by its magic */
	DECOMPRESS_GZIP,
	DECOMPRESS_XZ,
	DECOMPRESS_LZMA,	/* the legacy .lzma ("lzma_alone") format */
	DECOMPRESS_ZSTD,
	DECOMPRESS_BZIP2,
	DECOMPRESS_LZ4,
	DECOMPRESS_LZO,
};

/* The format the buffer starts with, by its magic number. */
enum decompress_format decompress_detect(const void *buf, size_t len);

/* "gzip", "xz", ...; "unknown" for DECOMPRESS_NONE. */
const char *decompress_format_name(enum decompress_format format);

/*
 * Decompress the first stream of in (whatever follows it is ignored: the
 * kernel appends its size).  size_hint, when not 0, is the expected output
 * size, used only to size the first allocation.  Fails with E2BIG when the
 * output would exceed max_out, EBADMSG when the data is corrupt or
 * truncated, ENOTSUP for the formats we only recognise (bzip2, lz4, lzo).
 * *ret_out is malloc'd.
 */
int decompress_buffer(enum decompress_format format, const void *in, size_t in_len,
		      size_t size_hint, size_t max_out, void **ret_out, size_t *ret_len,
		      struct error *err);
