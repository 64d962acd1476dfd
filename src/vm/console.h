/* SPDX-License-Identifier: MIT */
/*
 * console: the guest's serial console, read by a thread of its own for the
 * whole life of QEMU, so that QEMU never blocks on it whatever the main
 * thread is waiting for.  Every byte goes to a log file; the last lines
 * stay in memory for error messages; a "Kernel panic" line is noticed.
 *
 * The console is text anyone in the guest may write: what it says names
 * what happened, it never decides that something did (a panic is QEMU's
 * word, vm/qmp_watch.h), except while the guest boots, before anything of
 * the user's runs in it.
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

/* Whether "Kernel panic" has been on the console. */
bool console_panicked(struct console *console);

/* For tests: a console with no socket and no thread, fed by console_feed. */
struct console *console_new_unattached(void);

/* What the thread does with each read: keep it, and notice a panic. */
void console_feed(struct console *console, const char *data, size_t len);

/* Whether the spool has had all of the console so far (no write failed). */
bool console_spool_whole(struct console *console);


/* The lines holding prefix, without it, joined by "; "; NULL if none. */
char *console_lines_with(struct console *console, const char *prefix);

/*
 * The last line of the console holding "Kernel panic", from those words to
 * its end (at most 512 bytes, no newline), malloc'd; NULL if none is kept.
 */
char *console_panic_line(struct console *console);
