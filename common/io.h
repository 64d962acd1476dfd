/* SPDX-License-Identifier: MIT */
/*
 * io: write all of a buffer, through short writes (pipes, sockets, a full
 * pty) and EINTR; copy all of a file.  Shared by vmtest and the guest init.
 */
#pragma once

#include <errno.h>
#include <stddef.h>
#include <unistd.h>

/*
 * 0, or -errno (-ENOSPC for a write that took nothing, -EBADF for fd < 0).
 * errno is not the answer: read the return value.
 */
static inline int io_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	if (fd < 0)
		return -EBADF;
	while (len) {
		/* At most 1 GiB a call: larger writes are cut short anyway. */
		ssize_t n = write(fd, p, len > (1u << 30) ? (1u << 30) : len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ENOSPC;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* All of buf at offset off of fd, through short writes and EINTR: 0, or
 * -errno (-ENOSPC for a write that took nothing, as io_write_all). */
static inline int io_pwrite_all(int fd, const void *buf, size_t len, off_t off)
{
	const char *p = buf;

	if (fd < 0)
		return -EBADF;
	while (len) {
		ssize_t n = pwrite(fd, p, len, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ENOSPC;
		p += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

/* Up to size bytes into buf, through short reads and EINTR, stopping at
 * end of file: 0 with *ret_len the bytes read, or -errno. */
static inline int io_read_all(int fd, void *buf, size_t size, size_t *ret_len)
{
	size_t len = 0;

	while (len < size) {
		ssize_t n = read(fd, (char *)buf + len, size - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		len += (size_t)n;
	}
	*ret_len = len;
	return 0;
}

/* All of the file in, from its start (whatever its offset), written to out: 0, or -errno. */
static inline int io_copy_all(int in, int out)
{
	char buf[65536];
	off_t off = 0;

	for (;;) {
		ssize_t n = pread(in, buf, sizeof(buf), off);
		int r;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : 0;
		r = io_write_all(out, buf, (size_t)n);
		if (r < 0)
			return r;
		off += n;
	}
}
