/* SPDX-License-Identifier: MIT */
/*
 * dump_state: what a target's run holds of its dump (targets/dump.h), apart
 * from the dump itself, so that the run (targets/target_run.h) can hold it
 * without knowing how a dump is made.
 */
#pragma once

#include <pthread.h>
#include <stdbool.h>

struct dump_state {
	/* The dump's file (unlinked; -1: no dump wanted), and what became of
	 * it, written by the thread that dumped. */
	int fd;
	char note[2048 + 64];
	/* The guest kernel's `uname -v`, which the dump's header carries, as
	 * its init said at set-up ("": not yet). */
	char kernel_version[65];
	pthread_mutex_t lock;	/* held while a dump is written */
	bool closed;		/* the VM is ending: no dump now */
	bool dumped;		/* a dump was tried: no other */
};

#define DUMP_STATE_INIT { .fd = -1, .lock = PTHREAD_MUTEX_INITIALIZER }

static inline bool dump_wanted(const struct dump_state *d)
{
	return d->fd >= 0;
}
