// SPDX-License-Identifier: MIT
#include "boot/decompress.h"

#include <errno.h>
#include <limits.h>
#include <lzma.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "cleanup.h"

#define MIB (1024 * 1024)

/*
 * What liblzma may allocate.  The kernel's xz uses a 32 MiB dictionary and
 * `lzma -9` 64 MiB; a header asking for more is hostile or broken.
 */
#define DECOMPRESS_LZMA_MEMLIMIT (256 * MIB)
/* zstd's window, as a log2: 128 MiB, the most `zstd --ultra -22` uses. */
#define DECOMPRESS_ZSTD_WINDOW_LOG_MAX 27

struct decompress_magic {
	enum decompress_format format;
	const char *name;
	const char *magic;
	size_t len;
};

/* The magics the kernel's own decompressors look for (lib/decompress.c). */
static const struct decompress_magic decompress_magics[] = {
	{ DECOMPRESS_GZIP, "gzip", "\x1f\x8b", 2 },
	{ DECOMPRESS_XZ, "xz", "\xfd" "7zXZ\0", 6 },
	{ DECOMPRESS_LZMA, "lzma", "\x5d\0\0", 3 },
	{ DECOMPRESS_ZSTD, "zstd", "\x28\xb5\x2f\xfd", 4 },
	{ DECOMPRESS_BZIP2, "bzip2", "BZh", 3 },
	{ DECOMPRESS_LZ4, "lz4", "\x02\x21\x4c\x18", 4 },	/* legacy, as the kernel writes */
	{ DECOMPRESS_LZ4, "lz4", "\x04\x22\x4d\x18", 4 },	/* frame format */
	{ DECOMPRESS_LZO, "lzo", "\x89LZO\0\r\n\x1a\n", 9 },
};

/* The output buffer, grown on demand up to limit (max_out + 1). */
struct decompress_out {
	unsigned char *buf;
	size_t size;
	size_t len;
	size_t limit;
};

enum decompress_format decompress_detect(const void *buf, size_t len)
{
	for (size_t i = 0; i < ARRAY_SIZE(decompress_magics); i++) {
		const struct decompress_magic *m = &decompress_magics[i];

		if (len >= m->len && memcmp(buf, m->magic, m->len) == 0)
			return m->format;
	}
	return DECOMPRESS_NONE;
}

const char *decompress_format_name(enum decompress_format format)
{
	for (size_t i = 0; i < ARRAY_SIZE(decompress_magics); i++)
		if (decompress_magics[i].format == format)
			return decompress_magics[i].name;
	return "unknown";
}

/*
 * Room for more output.  The buffer may reach one byte more than allowed,
 * so that output of exactly max_out bytes is not mistaken for a bomb.
 */
static int decompress_out_grow(struct decompress_out *o, struct error *err)
{
	unsigned char *p;
	size_t want;

	if (o->size >= o->limit)
		return error_set(err, E2BIG, "decompresses to more than %zu MiB",
				 (o->limit - 1) / MIB);
	want = o->size < 64 * 1024 ? 64 * 1024 : o->size * 2;
	if (want > o->limit || want < o->size)
		want = o->limit;
	p = realloc(o->buf, want);
	if (!p)
		return error_set(err, ENOMEM, "out of memory");
	o->buf = p;
	o->size = want;
	return 0;
}

static int decompress_truncated(struct error *err, enum decompress_format format)
{
	return error_set(err, EBADMSG, "truncated %s data", decompress_format_name(format));
}

static int decompress_corrupt(struct error *err, enum decompress_format format,
			      const char *why)
{
	return error_set(err, EBADMSG, "corrupt %s data (%s)", decompress_format_name(format),
			 why);
}

static int decompress_zlib_step(z_stream *z, const unsigned char *in, size_t in_len,
				size_t *in_pos, struct decompress_out *o, struct error *err)
{
	size_t chunk = in_len - *in_pos, room = o->size - o->len;
	int zr;

	z->next_in = (Bytef *)(uintptr_t)(in + *in_pos);
	z->avail_in = chunk > UINT_MAX ? UINT_MAX : (uInt)chunk;
	z->next_out = o->buf + o->len;
	z->avail_out = room > UINT_MAX ? UINT_MAX : (uInt)room;
	chunk = z->avail_in;
	room = z->avail_out;
	zr = inflate(z, Z_NO_FLUSH);
	*in_pos += chunk - z->avail_in;
	o->len += room - z->avail_out;
	switch (zr) {
	case Z_STREAM_END:
		return 1;
	case Z_OK:
		return 0;
	case Z_BUF_ERROR:
		if (*in_pos == in_len && o->len < o->size)
			return decompress_truncated(err, DECOMPRESS_GZIP);
		return 0;
	case Z_MEM_ERROR:
		return error_set(err, ENOMEM, "out of memory");
	case Z_NEED_DICT:
	case Z_DATA_ERROR:
	case Z_STREAM_ERROR:
	case Z_ERRNO:
	case Z_VERSION_ERROR:
	default:
		return decompress_corrupt(err, DECOMPRESS_GZIP, z->msg ? z->msg : "inflate failed");
	}
}

static int decompress_gzip(const unsigned char *in, size_t in_len, struct decompress_out *o,
			   struct error *err)
{
	z_stream z = { 0 };
	size_t in_pos = 0;
	int r = 0;

	/* 15 + 32: a 32 KiB window, gzip or zlib header detected. */
	if (inflateInit2(&z, 15 + 32) != Z_OK)
		return error_set(err, ENOMEM, "cannot initialise zlib");
	while (r == 0) {
		if (o->len == o->size) {
			r = decompress_out_grow(o, err);
			if (r < 0)
				break;
		}
		r = decompress_zlib_step(&z, in, in_len, &in_pos, o, err);
	}
	inflateEnd(&z);
	return r < 0 ? r : 0;
}

/* On an int: liblzma's enum grows reserved values from release to release. */
static int decompress_lzma_result(lzma_ret lr, enum decompress_format format, struct error *err)
{
	switch ((int)lr) {
	case LZMA_STREAM_END:
		return 1;
	case LZMA_OK:
	case LZMA_NO_CHECK:
	case LZMA_UNSUPPORTED_CHECK:
	case LZMA_GET_CHECK:
		return 0;
	case LZMA_BUF_ERROR:
		return decompress_truncated(err, format);
	case LZMA_MEM_ERROR:
		return error_set(err, ENOMEM, "out of memory");
	case LZMA_MEMLIMIT_ERROR:
		return error_set(err, ENOMEM, "%s data needs more than %d MiB of memory to decompress",
				 decompress_format_name(format), DECOMPRESS_LZMA_MEMLIMIT / MIB);
	case LZMA_FORMAT_ERROR:
		return decompress_corrupt(err, format, "bad header");
	case LZMA_OPTIONS_ERROR:
		return decompress_corrupt(err, format, "unsupported options");
	case LZMA_DATA_ERROR:
		return decompress_corrupt(err, format, "bad data");
	case LZMA_PROG_ERROR:
	default:
		return decompress_corrupt(err, format, "liblzma failed");
	}
}

/* xz and the legacy .lzma format, both through liblzma. */
static int decompress_lzma(enum decompress_format format, const unsigned char *in,
			   size_t in_len, struct decompress_out *o, struct error *err)
{
	lzma_stream s = LZMA_STREAM_INIT;
	lzma_ret lr;
	int r = 0;

	if (format == DECOMPRESS_XZ)
		lr = lzma_stream_decoder(&s, DECOMPRESS_LZMA_MEMLIMIT, 0);
	else
		lr = lzma_alone_decoder(&s, DECOMPRESS_LZMA_MEMLIMIT);
	if (lr != LZMA_OK)
		return error_set(err, ENOMEM, "cannot initialise liblzma");
	s.next_in = in;
	s.avail_in = in_len;
	while (r == 0) {
		if (o->len == o->size) {
			r = decompress_out_grow(o, err);
			if (r < 0)
				break;
		}
		s.next_out = o->buf + o->len;
		s.avail_out = o->size - o->len;
		lr = lzma_code(&s, LZMA_FINISH);
		o->len = o->size - s.avail_out;
		r = decompress_lzma_result(lr, format, err);
	}
	lzma_end(&s);
	return r < 0 ? r : 0;
}

static void cleanup_zstd_dctxp(ZSTD_DCtx **d)
{
	ZSTD_freeDCtx(*d);
}

static int decompress_zstd(const unsigned char *in, size_t in_len, struct decompress_out *o,
			   struct error *err)
{
	_cleanup_(cleanup_zstd_dctxp) ZSTD_DCtx *d = ZSTD_createDCtx();
	ZSTD_inBuffer ib = { in, in_len, 0 };
	int r;

	if (!d)
		return error_set(err, ENOMEM, "cannot initialise libzstd");
	ZSTD_DCtx_setParameter(d, ZSTD_d_windowLogMax, DECOMPRESS_ZSTD_WINDOW_LOG_MAX);
	for (;;) {
		ZSTD_outBuffer ob;
		size_t zr;

		if (o->len == o->size) {
			r = decompress_out_grow(o, err);
			if (r < 0)
				return r;
		}
		ob = (ZSTD_outBuffer){ o->buf + o->len, o->size - o->len, 0 };
		zr = ZSTD_decompressStream(d, &ob, &ib);
		o->len += ob.pos;
		if (ZSTD_isError(zr))
			return decompress_corrupt(err, DECOMPRESS_ZSTD, ZSTD_getErrorName(zr));
		if (zr == 0)
			return 0;
		if (ib.pos == ib.size && ob.pos < ob.size)
			return decompress_truncated(err, DECOMPRESS_ZSTD);
	}
}

static int decompress_run(enum decompress_format format, const unsigned char *in,
			  size_t in_len, struct decompress_out *o, struct error *err)
{
	switch (format) {
	case DECOMPRESS_GZIP:
		return decompress_gzip(in, in_len, o, err);
	case DECOMPRESS_XZ:
	case DECOMPRESS_LZMA:
		return decompress_lzma(format, in, in_len, o, err);
	case DECOMPRESS_ZSTD:
		return decompress_zstd(in, in_len, o, err);
	case DECOMPRESS_BZIP2:
	case DECOMPRESS_LZ4:
	case DECOMPRESS_LZO:
		return error_set(err, ENOTSUP,
				 "%s compression is not supported (vmtest reads gzip, xz, lzma and zstd)",
				 decompress_format_name(format));
	case DECOMPRESS_NONE:
	default:
		return error_set(err, EINVAL, "not compressed in a known format");
	}
}

int decompress_buffer(enum decompress_format format, const void *in, size_t in_len,
		      size_t size_hint, size_t max_out, void **ret_out, size_t *ret_len,
		      struct error *err)
{
	struct decompress_out o = { .limit = max_out < SIZE_MAX ? max_out + 1 : max_out };
	unsigned char *shrunk;
	int r;

	/* The hint saves reallocations; a lying one costs only address space. */
	o.size = size_hint ? size_hint + 1 : in_len * 4;
	if (o.size > o.limit || o.size < in_len)
		o.size = o.limit;
	o.buf = malloc(o.size ? o.size : 1);
	if (!o.buf)
		return error_set(err, ENOMEM, "out of memory");
	r = decompress_run(format, in, in_len, &o, err);
	if (r == 0 && o.len > max_out)
		r = error_set(err, E2BIG, "decompresses to more than %zu MiB", max_out / MIB);
	if (r < 0) {
		free(o.buf);
		return r;
	}
	shrunk = realloc(o.buf, o.len ? o.len : 1);
	*ret_out = shrunk ? shrunk : o.buf;
	*ret_len = o.len;
	return 0;
}
