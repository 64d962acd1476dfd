/* SPDX-License-Identifier: MIT */
/*
 * io: write all of a buffer, through short writes (pipes, sockets, a full
 * pty) and EINTR.  Shared by vmtest and the guest init.
 */
#pragma once

#include <errno.h>
#include <stddef.h>
#include <unistd.h>

/* 0, or -errno (-ENOSPC for a write that took nothing); nothing for fd < 0. */
static inline int io_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	if (fd < 0)
		return 0;
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
