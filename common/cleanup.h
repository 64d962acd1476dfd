/* SPDX-License-Identifier: MIT */
/*
 * Scope-exit cleanup, as crun and systemd do it: a local declared with
 * `_cleanup_free_` is freed when it goes out of scope, and TAKE_PTR() hands
 * ownership on explicitly, leaving NULL behind so nothing is freed twice.
 */
#pragma once

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static inline void cleanup_freep(void *p)
{
	free(*(void **)p);
}

static inline void cleanup_closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
}

static inline void cleanup_fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}

#define _cleanup_(fn) __attribute__((cleanup(fn)))
#define _cleanup_free_ _cleanup_(cleanup_freep)
#define _cleanup_close_ _cleanup_(cleanup_closep)
#define _cleanup_fclose_ _cleanup_(cleanup_fclosep)

/* Hand the pointer over: return its value and leave NULL in its place. */
#define TAKE_PTR(ptr)                          \
	({                                     \
		__typeof__(ptr) *_pp = &(ptr); \
		__typeof__(ptr) _p = *_pp;     \
		*_pp = NULL;                   \
		_p;                            \
	})

#define TAKE_FD(fd)                \
	({                         \
		int *_pfd = &(fd); \
		int _fd = *_pfd;   \
		*_pfd = -1;        \
		_fd;               \
	})

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
