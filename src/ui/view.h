/* SPDX-License-Identifier: MIT */
/*
 * view: what the user sees of a run, and the --log file.
 *
 * Plain (not a terminal, or --no-ui): vmtest's seed format, each line
 * once, no escape sequences:
 *
 *   => name / ===> Booting / ===> Setting up VM / ===> Running command /
 *   the command's output / the reason when it failed / PASS or FAILED
 *
 * With one target at a time it is printed as it happens; with several at
 * once (-j), each target's block is printed whole when it ends, or, with
 * --prefix, every line as it comes, prefixed with the target's name.
 *
 * Live (a terminal): each running target is a block redrawn in place, its
 * stage with a spinner and the time, and a rolling window of the stage's
 * last output lines (the boot console while booting, the command's output
 * while it runs), sanitized and cut to the terminal's width.  A target that
 * passes collapses to its name and PASS; one that fails leaves the whole
 * output of the stage that failed, the reason and FAILED.
 *
 * Everything a target prints is in its record's spools, never held in
 * memory: the window, the failure report and the log read them back.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "targets/record.h"

struct view_options {
	int fd;			/* where the view writes: stdout, or stderr for a one-liner */
	bool live;		/* fd is a terminal and the live view is wanted */
	bool color;		/* colour and dimming allowed (a terminal, no NO_COLOR) */
	bool oneliner;		/* the command's output goes to stdout and stderr itself */
	bool whole_blocks;	/* plain: print each target whole when it ends (-j) */
	bool prefix;		/* plain: every line as it comes, prefixed (--prefix) */
	int verbose;		/* -v: vmtest's own steps shown up to this level */
	const char *log_path;	/* --log FILE: everything, with timestamps; or NULL */
	unsigned window;	/* lines in the rolling window; 0: the default, 10 */
};

struct view;

int view_new(const struct view_options *options, struct view **ret, struct error *err);

/* Stop drawing and put the terminal back (cursor shown, attributes reset). */
struct view *view_free(struct view *view);

static inline void view_freep(struct view **v)
{
	view_free(*v);
}

/*
 * The view follows targets through their records (targets/record.h): it
 * fills *ret with the observer to give each record.
 */
void view_observe(struct view *view, struct record_observer *ret);

/*
 * One of vmtest's own lines about the run ("vmtest: " is prepended):
 * shown when level is at most the -v count (level 0: always), written to
 * the log in any case.  Lines about a target go through its record.
 */
void view_log(struct view *view, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* After several targets, in the live view: "2 passed, 1 failed in 1m 3s". */
void view_summary(struct view *view);
