/* SPDX-License-Identifier: MIT */
/*
 * console: the guest's serial console, read by a thread of its own for the
 * whole life of QEMU, so that QEMU never blocks on it whatever the main
 * thread is waiting for.  Every byte goes to a log file; the last lines
 * stay in memory for error messages; a "Kernel panic" line is noticed.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"

struct console;

/* Listen on socket_path (QEMU connects to it) and log to a copy of log_fd. */
int console_start(const char *socket_path, int log_fd, struct console **ret,
		  struct error *err);

/*
 * Stop reading (after QEMU is gone); 0, or the errno that made the copy to
 * log_fd stop early (its file system full): the console kept there is then
 * incomplete, and the caller says so.
 */
int console_stop(struct console *console);

/* Stop reading (after QEMU is gone) and free. */
struct console *console_free(struct console *console);

bool console_panicked(struct console *console);

/*
 * Call fn(data) once, from the console's thread, when the guest's panic
 * has been printed whole ("---[ end Kernel panic"): the console goes on
 * reading only when fn returns.  Set it before the guest runs.
 */
void console_on_panic(struct console *console, void (*fn)(void *data), void *data);

/* Whether the spool has had all of the console so far (no write failed). */
bool console_spool_whole(struct console *console);


/* The lines holding prefix, without it, joined by "; "; NULL if none. */
char *console_lines_with(struct console *console, const char *prefix);

/* From the "Kernel panic" line on (at most max bytes); NULL if none. */
char *console_panic_text(struct console *console, size_t max);
