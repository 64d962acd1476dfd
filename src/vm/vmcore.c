// SPDX-License-Identifier: MIT
#include "vm/vmcore.h"

#include <endian.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "io.h"

/* makedumpfile's flattened format: a header block, then records. */
#define FLAT_HEADER_SIZE 4096
#define FLAT_SIGNATURE "makedumpfile"
#define FLAT_END (-1)

/* The kdump-compressed header (64-bit), as makedumpfile's diskdump_mod.h
 * lays it out: utsname's six 65-byte strings from offset 12. */
#define KDUMP_SIGNATURE "KDUMP   "
#define KDUMP_VERSION_AT 8
#define KDUMP_UTS_AT 12
#define KDUMP_UTS_LEN 65
#define KDUMP_UTS_SYSNAME 0
#define KDUMP_UTS_RELEASE 2
#define KDUMP_UTS_VERSION 3
#define KDUMP_BLOCK_SIZE_AT 428
#define KDUMP_HEADER_SIZE 432
/* The sub-header, one block in: where VMCOREINFO is (header version 3 on). */
#define KDUMP_SUB_VMCOREINFO_AT 32
#define KDUMP_VMCOREINFO_MAX (1 << 20)

/* Exactly len bytes at off: 0, -EIO at end of file, or -errno. */
static int vmcore_pread(int fd, void *buf, size_t len, off_t off)
{
	while (len) {
		ssize_t n = pread(fd, buf, len, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		buf = (char *)buf + n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

static int64_t vmcore_be64(const unsigned char *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return (int64_t)be64toh(v);
}

static uint64_t vmcore_le64(const unsigned char *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return le64toh(v);
}

static uint32_t vmcore_le32(const unsigned char *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return le32toh(v);
}

/* Each record's bytes to their offset in out_fd. */
static int vmcore_unflatten(int flat_fd, int out_fd, struct error *err)
{
	unsigned char head[FLAT_HEADER_SIZE], rec[16];
	_cleanup_free_ char *buf = malloc(1 << 16);
	off_t at = FLAT_HEADER_SIZE;
	int r;

	if (!buf)
		return error_set(err, ENOMEM, "out of memory");
	r = vmcore_pread(flat_fd, head, sizeof(head), 0);
	if (r < 0 || memcmp(head, FLAT_SIGNATURE, sizeof(FLAT_SIGNATURE)) != 0)
		return error_set(err, r < 0 && r != -EIO ? -r : EPROTO,
				 "QEMU's dump is not in makedumpfile's flattened format");
	for (;;) {
		int64_t off, size;

		r = vmcore_pread(flat_fd, rec, sizeof(rec), at);
		if (r < 0)
			return error_set(err, r == -EIO ? EPROTO : -r,
					 "QEMU's dump ends without its end record (at %lld)",
					 (long long)at);
		off = vmcore_be64(rec);
		size = vmcore_be64(rec + 8);
		at += (off_t)sizeof(rec);
		if (off == FLAT_END)
			return 0;
		if (off < 0 || size < 0 || off > INT64_MAX - size)
			return error_set(err, EPROTO,
					 "QEMU's dump has a bad record at %lld (offset %lld, size %lld)",
					 (long long)at - (long long)sizeof(rec), (long long)off,
					 (long long)size);
		while (size > 0) {
			size_t n = size > (1 << 16) ? (1 << 16) : (size_t)size;

			r = vmcore_pread(flat_fd, buf, n, at);
			if (r < 0)
				return error_set(err, r == -EIO ? EPROTO : -r,
						 "QEMU's dump ends inside a record (at %lld)",
						 (long long)at);
			r = io_pwrite_all(out_fd, buf, n, off);
			if (r < 0)
				return error_set_errno(err, -r, "writing the dump");
			at += (off_t)n;
			off += (int64_t)n;
			size -= (int64_t)n;
		}
	}
}

int vmcore_read_vmcoreinfo(int fd, char **ret, struct error *err)
{
	unsigned char head[KDUMP_HEADER_SIZE], sub[KDUMP_SUB_VMCOREINFO_AT + 16];
	uint64_t off, size;
	uint32_t block;
	char *text;
	int r;

	*ret = NULL;
	r = vmcore_pread(fd, head, sizeof(head), 0);
	if (r < 0 || memcmp(head, KDUMP_SIGNATURE, strlen(KDUMP_SIGNATURE)) != 0)
		return error_set(err, EPROTO, "not a kdump-compressed dump");
	block = vmcore_le32(head + KDUMP_BLOCK_SIZE_AT);
	if (vmcore_le32(head + KDUMP_VERSION_AT) < 3 || block < KDUMP_HEADER_SIZE)
		return error_set(err, ENOENT, "the dump carries no VMCOREINFO");
	r = vmcore_pread(fd, sub, sizeof(sub), block);
	if (r < 0)
		return error_set(err, EPROTO, "the dump ends inside its header");
	off = vmcore_le64(sub + KDUMP_SUB_VMCOREINFO_AT);
	size = vmcore_le64(sub + KDUMP_SUB_VMCOREINFO_AT + 8);
	if (!off || !size)
		return error_set(err, ENOENT, "the dump carries no VMCOREINFO");
	if (size > KDUMP_VMCOREINFO_MAX || off > INT64_MAX)
		return error_set(err, EPROTO, "the dump's VMCOREINFO is %llu bytes at %llu",
				 (unsigned long long)size, (unsigned long long)off);
	text = malloc(size + 1);
	if (!text)
		return error_set(err, ENOMEM, "out of memory");
	r = vmcore_pread(fd, text, size, (off_t)off);
	if (r < 0) {
		free(text);
		return error_set(err, EPROTO, "the dump ends inside its VMCOREINFO");
	}
	text[size] = '\0';
	*ret = text;
	return 0;
}

/* One utsname string of the header, when QEMU left it empty. */
static void vmcore_uts_fill(unsigned char *head, int which, const char *value, size_t len)
{
	unsigned char *field = head + KDUMP_UTS_AT + which * KDUMP_UTS_LEN;

	if (field[0])
		return;
	if (len > KDUMP_UTS_LEN - 1)
		len = KDUMP_UTS_LEN - 1;
	memcpy(field, value, len);
	memset(field + len, 0, KDUMP_UTS_LEN - len);
}

/* The line's value in VMCOREINFO's "KEY=value" lines, or NULL. */
static const char *vmcore_info_value(const char *info, const char *key)
{
	size_t len = strlen(key);

	for (const char *line = info; *line; line += strcspn(line, "\n"), line += !!*line)
		if (strncmp(line, key, len) == 0 && line[len] == '=')
			return line + len + 1;
	return NULL;
}

/* "Linux", the VMCOREINFO's OSRELEASE and the version into the header;
 * 1 when the dump has no VMCOREINFO (the release is then "unknown"). */
static int vmcore_complete_uts(int fd, const char *version, struct error *err)
{
	unsigned char head[KDUMP_HEADER_SIZE];
	_cleanup_free_ char *info = NULL;
	const char *release = NULL;
	int r = vmcore_read_vmcoreinfo(fd, &info, err), without = 0;

	if (r == -ENOENT)
		without = 1;
	else if (r < 0)
		return r;
	else
		release = vmcore_info_value(info, "OSRELEASE");
	if (!release)
		release = "unknown";
	r = vmcore_pread(fd, head, sizeof(head), 0);
	if (r < 0)
		return error_set(err, EPROTO, "the dump ends inside its header");
	vmcore_uts_fill(head, KDUMP_UTS_SYSNAME, "Linux", strlen("Linux"));
	vmcore_uts_fill(head, KDUMP_UTS_RELEASE, release, strcspn(release, "\n"));
	if (!version || !*version)
		version = "unknown";
	vmcore_uts_fill(head, KDUMP_UTS_VERSION, version, strlen(version));
	r = io_pwrite_all(fd, head, sizeof(head), 0);
	return r < 0 ? error_set_errno(err, -r, "writing the dump's header") : without;
}

int vmcore_finish(int flat_fd, int out_fd, const char *version, struct error *err)
{
	int r = vmcore_unflatten(flat_fd, out_fd, err);

	if (r >= 0)
		r = vmcore_complete_uts(out_fd, version, err);
	return r;
}
