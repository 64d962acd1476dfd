/* SPDX-License-Identifier: MIT */
/*
 * record: everything known about one target of a run, in one place: its
 * stage and the time spent in each, the spools of its console and of its
 * command's output, and at the end its outcome, exit status, reason and
 * QEMU command line.
 *
 * The runner writes a record; the view and the reports only read it (they
 * get it const).  The view follows a target as it goes through an
 * observer, called by the record whenever it changes, from the thread that
 * runs the target: an observer copies what it needs and returns, never
 * waiting on a terminal (ui/view.c).
 *
 * Spools are unlinked files (in $XDG_RUNTIME_DIR, else /tmp): what a
 * target prints is never held in memory, and nothing is left behind.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "results/results.h"

enum record_stage {
	RECORD_STAGE_NONE,	/* preparing: nothing started yet */
	RECORD_STAGE_BOOTING,
	RECORD_STAGE_SETUP,
	RECORD_STAGE_COMMAND,
	RECORD_N_STAGES,
};

enum record_outcome {
	RECORD_RUNNING,
	RECORD_PASSED,		/* the command exited 0 */
	RECORD_FAILED,		/* it exited non-zero or was killed */
	RECORD_TIMED_OUT,	/* its timeout stopped it */
	RECORD_ERROR,		/* the VM could not run it */
};

struct record;

/* Who follows the records (the view); every member may be NULL. */
struct record_observer {
	void (*begin)(void *data, const struct record *r);
	void (*stage)(void *data, const struct record *r);
	/* One of vmtest's own lines about the target, at a -v level (0: always). */
	void (*log)(void *data, const struct record *r, int level, const char *line);
	/* Its tests so far, while the command runs ("12 ok, 1 failed"). */
	void (*progress)(void *data, const struct record *r, const char *tests);
	void (*end)(void *data, const struct record *r);
	/* The record is about to go: nothing of it may be read after this. */
	void (*forget)(void *data, const struct record *r);
	void *data;
};

struct record {
	size_t index;			/* the target's place in the config */
	char *name;			/* as written: sanitize before printing */
	int console_fd, output_fd;	/* the spools, written from offset 0 */
	int vmcore_fd;			/* the guest's dump at its panic; -1: none */
	enum record_stage stage;
	int64_t start_ms, stage_start_ms;	/* base/clock.h */
	int64_t stage_ms[RECORD_N_STAGES];	/* time spent in each stage */
	int64_t total_ms;		/* once ended */
	enum record_outcome outcome;
	int exit_status;		/* what vmtest would exit with for this target alone */
	char reason[2304];		/* why it failed ("Command failed with exit code: 3") */
	char *qemu_line;		/* the QEMU command line, shell-quoted; NULL if none */
	/* The guest kernel's splats (kernel targets), each whole; whether
	 * they fail the target (vm.kernel_warnings). */
	char **kernel_warnings;
	char **kernel_warning_titles;	/* each one's first report line */
	size_t n_kernel_warnings;
	bool kernel_warnings_fail;
	/* The tests its command reported (vm.results), every attempt's merged;
	 * NULL: none asked for. */
	struct results *results;
	unsigned attempts;		/* runs of the target: 1, more with --retry-failed */
	bool flaky;			/* it failed, then passed on a retry */
	const struct record_observer *observer;
};

/*
 * A record for target index, with its spools created empty when spools is
 * set (a dry run has none: -1); observer may be NULL.
 */
int record_new(size_t index, const char *name, const struct record_observer *observer,
	       bool spools, struct record **ret, struct error *err);

/* Accepts NULL; tells the observer to forget it first. */
struct record *record_free(struct record *r);

/* The target enters a stage; the time spent in the one before is kept. */
void record_stage(struct record *r, enum record_stage stage);

/* One of vmtest's own lines about this target, shown at -v level and up. */
void record_log(struct record *r, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Its tests so far ("12 ok, 1 failed"), for the view. */
void record_progress(struct record *r, const char *tests);

/* Keep the QEMU command line (a copy). */
void record_qemu_line(struct record *r, const char *line);

/* A splat of the guest kernel's (copies); -ENOMEM or 0. */
int record_add_kernel_warning(struct record *r, const char *title, const char *text);

/* Before another attempt at the target: the last one's kernel warnings go
 * (they were said); its vmcore, if any, stays. */
void record_retry(struct record *r);

/* The end: outcome, status and reason (printf-style; NULL for none). */
void record_end(struct record *r, enum record_outcome outcome, int exit_status,
		const char *reason_fmt, ...) __attribute__((format(printf, 4, 5)));


/* The stage's name, as the view prints it ("Setting up VM"). */
const char *record_stage_name(enum record_stage stage);
