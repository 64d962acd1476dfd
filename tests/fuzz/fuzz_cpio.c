/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the cpio writer: the input is a little program of
 * entries to add (directory, file, symlink; names, permissions and data
 * taken from the input, so empty, absolute, over-long and reserved names
 * occur), written to a memfd; then the archive is read back as the kernel's
 * init/initramfs.c reads it, and every accepted entry must be there, in
 * order, byte for byte, with unique inode numbers, 4-byte alignment and the
 * trailer last.  A refused entry must leave the archive as it was.
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "boot/cpio.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_ENTRIES 64

struct entry {
	char name[4200];
	uint32_t mode;
	const uint8_t *data;
	size_t len;
};

struct input {
	const uint8_t *p;
	size_t left;
};

static uint8_t take_byte(struct input *in)
{
	if (!in->left)
		return 0;
	in->left--;
	return *in->p++;
}

static const uint8_t *take(struct input *in, size_t *n)
{
	const uint8_t *p = in->p;

	if (*n > in->left)
		*n = in->left;
	in->p += *n;
	in->left -= *n;
	return p;
}

/* A name from the input: a length byte (255 means "longer than PATH_MAX"),
 * the bytes, cut at a NUL as C would. */
static void take_name(struct input *in, char *out, size_t out_size)
{
	size_t n = take_byte(in);
	const uint8_t *bytes;

	if (n == 255) {
		memset(out, 'a', 4097);
		out[4097] = '\0';
		return;
	}
	bytes = take(in, &n);	/* n is cut to what is left: a separate statement,
				 * as arguments are evaluated in no set order */
	memcpy(out, bytes, n);
	out[n] = '\0';
	(void)out_size;
}

static uint32_t hex8(const uint8_t *p)
{
	char buf[9];

	memcpy(buf, p, 8);
	buf[8] = '\0';
	for (int i = 0; i < 8; i++)
		if (!strchr("0123456789ABCDEF", buf[i]))
			abort();	/* we write upper-case hex only */
	return (uint32_t)strtoul(buf, NULL, 16);
}

/* Read the archive back; abort() on any difference. */
static void check_archive(const uint8_t *a, size_t len, const struct entry *e, size_t n)
{
	size_t off = 0;
	uint32_t inos[MAX_ENTRIES + 1];

	for (size_t i = 0; i <= n; i++) {
		const char *want = i < n ? e[i].name : "TRAILER!!!";
		uint32_t f[13], namesize;

		if (off % 4 || len - off < 110 || memcmp(a + off, "070701", 6) != 0)
			abort();
		for (int k = 0; k < 13; k++)
			f[k] = hex8(a + off + 6 + 8 * k);
		namesize = f[11];
		if (namesize != strlen(want) + 1 || len - off - 110 < namesize ||
		    memcmp(a + off + 110, want, namesize) != 0)
			abort();
		off += (110 + namesize + 3) & ~(size_t)3;
		if (i == n) {
			if (f[0] != 0 || f[1] != 0 || f[6] != 0)
				abort();
			break;
		}
		inos[i] = f[0];
		for (size_t j = 0; j < i; j++)
			if (inos[j] == f[0])
				abort();
		if (f[1] != e[i].mode || f[2] != 0 || f[3] != 0 || f[6] != e[i].len ||
		    f[4] != (S_ISDIR(e[i].mode) ? 2u : 1u) || len - off < e[i].len ||
		    (e[i].len && memcmp(a + off, e[i].data, e[i].len) != 0))
			abort();
		off += (e[i].len + 3) & ~(size_t)3;
	}
	if (off != len)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct entry entries[MAX_ENTRIES];
	struct input in = { data, size };
	struct error err = { 0 };
	struct cpio c;
	size_t n = 0;
	bool finished = false;
	struct stat st;
	uint8_t *archive;
	int fd = memfd_create("cpio", MFD_CLOEXEC);

	if (fd < 0)
		return 0;
	cpio_init(&c, fd);
	while (in.left && n < MAX_ENTRIES && !finished) {
		struct entry *e = &entries[n];
		uint8_t op = take_byte(&in) % 5;
		uint64_t before = c.offset;
		mode_t perm;
		size_t len;
		int r;

		take_name(&in, e->name, sizeof(e->name));
		perm = (mode_t)(take_byte(&in) | take_byte(&in) << 8);
		len = take_byte(&in);
		e->data = take(&in, &len);
		e->len = len;
		switch (op) {
		case 0:
			r = cpio_add_dir(&c, e->name, perm, &err);
			e->mode = S_IFDIR | (perm & 07777);
			e->len = 0;
			break;
		case 1:
		case 2:
			r = cpio_add_file(&c, e->name, perm, e->data, e->len, &err);
			e->mode = S_IFREG | (perm & 07777);
			break;
		case 3: {
			char target[300];

			memcpy(target, e->data, e->len);
			target[e->len] = '\0';
			r = cpio_add_symlink(&c, e->name, target, &err);
			e->mode = S_IFLNK | 0777;
			e->len = strlen(target);
			break;
		}
		default:
			r = cpio_finish(&c, &err);
			finished = r >= 0;
			if (r < 0)
				abort();
			continue;
		}
		if (r >= 0)
			n++;
		else if (c.offset != before || !err.msg[0])
			abort();	/* refused, but written, or refused silently */
		err.msg[0] = '\0';
	}
	if (!finished && cpio_finish(&c, &err) < 0)
		abort();
	/* Nothing may be added after the trailer. */
	if (cpio_add_dir(&c, "late", 0755, &err) >= 0)
		abort();
	if (fstat(fd, &st) < 0 || (uint64_t)st.st_size != c.offset)
		abort();
	archive = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (archive == MAP_FAILED)
		abort();
	check_archive(archive, (size_t)st.st_size, entries, n);
	munmap(archive, (size_t)st.st_size);
	close(fd);
	return 0;
}
