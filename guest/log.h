/* SPDX-License-Identifier: MIT */
/*
 * log: the init's messages go to the kernel console, which the host keeps
 * and shows when a boot fails.  Prefixed so they stand out among the
 * kernel's own lines.
 */
#pragma once

#include <stddef.h>
#include <sys/types.h>

#include "io.h"

void log_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Read up to len bytes, retrying EINTR.  Bytes read, or -errno. */
ssize_t read_some(int fd, void *buf, size_t len);
