/* SPDX-License-Identifier: MIT */
/*
 * log: the init's messages go to the kernel console, which the host keeps
 * and shows when a boot fails.  Prefixed so they stand out among the
 * kernel's own lines.
 */
#pragma once

#include <stddef.h>
#include <sys/types.h>

void log_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Write all of buf, retrying short writes and EINTR.  0 or -errno. */
int write_full(int fd, const void *buf, size_t len);

/* Read up to len bytes, retrying EINTR.  Bytes read, or -errno. */
ssize_t read_some(int fd, void *buf, size_t len);
