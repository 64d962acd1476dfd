/* SPDX-License-Identifier: MIT */
/*
 * kernel_warnings: the splats in a guest kernel's log, as the guest init
 * sent its records (guest/kmsg.h: "PRIO,SEQ,USEC,FLAGS;TEXT" lines, each
 * followed by " KEY=VALUE" lines).
 *
 * Only the kernel's own records count (facility 0): what userspace writes
 * to /dev/kmsg, a test printing "WARNING:" included, is facility 1 and up.
 * A splat starts at a record that opens a report (WARNING:, BUG:, Oops,
 * general protection fault, KASAN:, UBSAN:, KFENCE:, a lockdep or RCU
 * stall or hung task report, kmemleak's unreferenced object, a panic), or
 * at the "[ cut here ]" record a few records before it (a WARN's own
 * message comes between the two), and runs to its "---[ end trace"
 * record, the next report, or a bound.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* How a panic's report starts: the kernel's words. */
#define KERNEL_PANIC_TITLE "Kernel panic - not syncing"

struct kernel_warning {
	char *title;	/* the record that opens the report ("WARNING: CPU: 0 PID: 1 at ...") */
	char *text;	/* the splat's records' text, a line each, from its "[ cut here ]" */
};

struct kernel_warnings {
	struct kernel_warning *items;
	size_t n;
	size_t allowed;		/* splats left out by the allowed patterns */
	bool records_lost;	/* the guest's ring buffer overflowed before it was read */
};

/*
 * Find the splats in log[0..len).  allowed: PCRE2 patterns (NULL-terminated,
 * may be NULL) of splats to leave out, matched against a splat's whole
 * text (multi-line: ^ and $ at each line).  Returns 0, -ENOMEM, or -EINVAL
 * when a pattern does not compile (config_load checked them already).
 */
int kernel_warnings_find(const char *log, size_t len, char *const *allowed,
			 struct kernel_warnings *ret);

void kernel_warnings_clear(struct kernel_warnings *w);
