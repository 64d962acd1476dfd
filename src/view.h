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
 * Live (a terminal): each target as a block redrawn in place, its stage
 * with a spinner and the time, and a rolling window of the stage's last
 * output lines (the boot console while booting, the command's output while
 * it runs), sanitized and cut to the terminal's width.  A passing target
 * collapses to its name and PASS; a failing one leaves the whole output of
 * the stage that failed, the reason and FAILED.
 *
 * Everything a target prints is spooled to unlinked files (its console and
 * its command's output), never held in memory: the window, the failure
 * report and the log read them back.
 */
#pragma once

#include <stdbool.h>

#include "error.h"

enum view_stage {
	VIEW_STAGE_NONE,
	VIEW_STAGE_BOOTING,
	VIEW_STAGE_SETUP,
	VIEW_STAGE_COMMAND,
};

struct view_options {
	int fd;			/* where the view writes: stdout, or stderr for a one-liner */
	bool live;		/* fd is a terminal and the live view is wanted */
	bool color;		/* colour and dimming allowed (a terminal, no NO_COLOR) */
	bool oneliner;		/* the command's output goes to stdout and stderr itself */
	int verbose;		/* -v: vmtest's own steps shown up to this level */
	const char *log_path;	/* --log FILE: everything, with timestamps; or NULL */
	unsigned window;	/* lines in the rolling window; 0: the default, 10 */
};

struct view;

int view_new(const struct view_options *options, struct view **ret, struct error *err);

/* Stop drawing and put the terminal back (cursor shown, attributes reset). */
struct view *view_free(struct view *view);

/* A target starts: its spools are created empty. */
int view_target_begin(struct view *view, const char *name, struct error *err);

void view_stage(struct view *view, enum view_stage stage);

/* The spools the runner writes to: the console, the command's output. */
int view_console_fd(const struct view *view);
int view_output_fd(const struct view *view);

/*
 * One of vmtest's own lines ("vmtest: " is prepended): shown when level
 * is at most the -v count (level 0: always), written to the log in any case.
 */
void view_log(struct view *view, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

enum view_result {
	VIEW_PASSED,
	VIEW_FAILED,	/* the command failed or timed out: its output explains */
	VIEW_ERROR,	/* the VM could not run it: the console explains */
};

/* The target ends; reason (one line, NULL on a pass) says why it failed. */
void view_target_end(struct view *view, enum view_result result, const char *reason);

static inline void view_freep(struct view **v)
{
	view_free(*v);
}

/* After several targets, in the live view: "2 passed, 1 failed in 1m 3s". */
void view_summary(struct view *view);
