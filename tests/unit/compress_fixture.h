/* SPDX-License-Identifier: MIT */
/*
 * Test fixtures: compress a buffer with the real libraries, so tests feed
 * the decompressors what gzip, xz, lzma and zstd themselves produce; and
 * small file helpers.  A fixture that cannot be built aborts (a broken
 * test, not a result); a file the test machine lacks fails the test and
 * says how to get it.
 */
#pragma once

#include <fcntl.h>
#include <glob.h>
#include <lzma.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "boot/decompress.h"

__attribute__((noreturn)) static inline void fixture_die(const char *what)
{
	fprintf(stderr, "fixture: %s failed\n", what);
	abort();
}

static inline void *fixture_gzip(const void *in, size_t len, size_t *ret_len)
{
	z_stream z = { 0 };
	size_t cap = len + len / 100 + 1024;
	unsigned char *out = malloc(cap);

	/* 15 + 16: a gzip header, as gzip(1) writes. */
	if (!out || deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		fixture_die("deflateInit2");
	z.next_in = (Bytef *)(uintptr_t)in;
	z.avail_in = (uInt)len;
	z.next_out = out;
	z.avail_out = (uInt)cap;
	if (deflate(&z, Z_FINISH) != Z_STREAM_END)
		fixture_die("deflate");
	*ret_len = z.total_out;
	deflateEnd(&z);
	return out;
}

static inline void *fixture_xz(const void *in, size_t len, size_t *ret_len)
{
	size_t cap = lzma_stream_buffer_bound(len), pos = 0;
	unsigned char *out = malloc(cap);

	if (!out || lzma_easy_buffer_encode(1, LZMA_CHECK_CRC32, NULL, in, len, out, &pos, cap) !=
			    LZMA_OK)
		fixture_die("lzma_easy_buffer_encode");
	*ret_len = pos;
	return out;
}

/* The legacy .lzma format, as `lzma -9` writes it for kernels. */
static inline void *fixture_lzma(const void *in, size_t len, size_t *ret_len)
{
	lzma_stream s = LZMA_STREAM_INIT;
	lzma_options_lzma opt;
	size_t cap = len + len / 2 + 4096;
	unsigned char *out = malloc(cap);

	if (!out || lzma_lzma_preset(&opt, 1) || lzma_alone_encoder(&s, &opt) != LZMA_OK)
		fixture_die("lzma_alone_encoder");
	s.next_in = in;
	s.avail_in = len;
	s.next_out = out;
	s.avail_out = cap;
	if (lzma_code(&s, LZMA_FINISH) != LZMA_STREAM_END)
		fixture_die("lzma_code");
	*ret_len = s.total_out;
	lzma_end(&s);
	return out;
}

static inline void *fixture_zstd(const void *in, size_t len, size_t *ret_len)
{
	size_t cap = ZSTD_compressBound(len);
	unsigned char *out = malloc(cap);
	size_t n;

	if (!out)
		fixture_die("malloc");
	n = ZSTD_compress(out, cap, in, len, 3);
	if (ZSTD_isError(n))
		fixture_die("ZSTD_compress");
	*ret_len = n;
	return out;
}

static inline void *fixture_compress(enum decompress_format f, const void *in, size_t len,
				     size_t *ret_len)
{
	switch (f) {
	case DECOMPRESS_GZIP:
		return fixture_gzip(in, len, ret_len);
	case DECOMPRESS_XZ:
		return fixture_xz(in, len, ret_len);
	case DECOMPRESS_LZMA:
		return fixture_lzma(in, len, ret_len);
	case DECOMPRESS_ZSTD:
		return fixture_zstd(in, len, ret_len);
	case DECOMPRESS_NONE:
	case DECOMPRESS_BZIP2:
	case DECOMPRESS_LZ4:
	case DECOMPRESS_LZO:
	default:
		fixture_die("fixture_compress: format");
		return NULL;
	}
}

static inline void fixture_write(const char *path, const void *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0 || write(fd, buf, len) != (ssize_t)len || close(fd) < 0)
		fixture_die(path);
}

static inline void *fixture_read(const char *path, size_t *ret_len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf;
	long n;

	if (!f || fseek(f, 0, SEEK_END) < 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) < 0)
		fixture_die(path);
	buf = malloc((size_t)n + 1);
	if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n)
		fixture_die(path);
	fclose(f);
	*ret_len = (size_t)n;
	return buf;
}

static inline void fixture_rm_rf(const char *dir)
{
	char cmd[4200];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fixture_die(cmd);
}

/* The host's newest /boot/vmlinuz-* (Debian's kernel here); the test fails without one. */
static inline char *fixture_boot_kernel(void)
{
	glob_t g;
	char *best = NULL;

	if (glob("/boot/vmlinuz-*", 0, NULL, &g) != 0)
		fail_msg("fixture: no /boot/vmlinuz-* (apt-get install linux-image-amd64)");
	for (size_t i = 0; i < g.gl_pathc; i++)
		if (!strstr(g.gl_pathv[i], "rescue") &&
		    (!best || strverscmp(g.gl_pathv[i], best) > 0))
			best = g.gl_pathv[i];
	best = best ? strdup(best) : NULL;
	globfree(&g);
	if (!best)
		fixture_die("no usable /boot/vmlinuz-*");
	return best;
}

/*
 * The small test kernel, which make check's fixtures step builds or finds
 * (scripts/test-kernel.sh) and names in VMTEST_TEST_KERNEL.  A missing one
 * fails the test that needs it, with the way to get it.
 */
static inline char *fixture_test_kernel(void)
{
	const char *path = getenv("VMTEST_TEST_KERNEL");

	if (!path || access(path, R_OK) < 0)
		fail_msg("fixture: no small test kernel: VMTEST_TEST_KERNEL is %s%s%s (make unit sets "
			 "it to what scripts/test-kernel.sh prints)",
			 path ? "'" : "unset", path ? path : "", path ? "', which cannot be read" : "");
	return strdup(path);
}
