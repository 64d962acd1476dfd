/* SPDX-License-Identifier: MIT */
/*
 * view_internal: what the view's files share (ui/view.c, the core that
 * follows the records; view_live.c, the live area on a terminal;
 * view_plain.c, the plain format and --prefix; view_log.c, the --log
 * file).  Everything here runs on the view's own thread, the one thread
 * that writes to the terminal, the view's stream and the log: the targets'
 * threads only queue what happened (view.c), and never wait on a terminal.
 */
#pragma once

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "targets/record.h"
#include "ui/view.h"

#define VIEW_WINDOW_DEFAULT 10
#define VIEW_WINDOW_MAX 64
#define VIEW_LINE_MAX 1024		/* bytes of a line kept for the window */
#define VIEW_TICK_MS 100
#define VIEW_MAX_DRAWN 512		/* lines of the live area remembered */
#define VIEW_FAILED_CONSOLE_MAX 65536	/* the console shown for a failure, at most */
#define VIEW_PLAIN_CONSOLE_MAX 8192	/* ... in the plain format, as a tail */
#define VIEW_FAILED_TESTS_MAX 20	/* failed tests named at a target's end */

#define SGR_RESET "\033[0m"
#define SGR_BOLD "\033[1m"
#define SGR_DIM "\033[2m"
#define SGR_GREEN "\033[32m"
#define SGR_RED "\033[31m"
#define CURSOR_HIDE "\033[?25l"
#define CURSOR_SHOW "\033[?25h"

/* A spool read line by line from where the last read stopped. */
struct view_tail {
	int fd;
	off_t off;
	char part[VIEW_LINE_MAX];	/* the line being read, cut at VIEW_LINE_MAX */
	size_t len;
};

/* Text being put together for one write(2). */
struct view_text {
	char *p;
	size_t len, cap;
};

/*
 * What the view knows of a target's record, copied when the target's
 * thread told it: the record itself may be gone by the time the view
 * draws.  The spools are the view's own descriptors of the same files.
 */
struct view_record {
	int console_fd, output_fd;
	enum record_stage stage;
	int64_t stage_start_ms;		/* base/clock.h */
	enum record_outcome outcome;
	int64_t total_ms;		/* once ended */
	char *reason;			/* NULL: none */
	/* Its tests, once ended: "39/40 ok, 1 failed" and the failed tests'
	 * paths, a line each, sanitized; NULL: it reported none. */
	char *tests;
	char *tests_failed;
	char *tests_progress;		/* while it runs: the count so far */
	bool flaky;
	unsigned attempts;
};

/* What the view keeps of a target it shows. */
struct view_target {
	struct view *view;
	const struct record *key;	/* the record it follows: compared, never read */
	struct view_record rec;
	char *name;			/* the record's, sanitized */
	struct view_tail window_tail;	/* the spool the window shows */
	struct view_tail log_tails[2];	/* console and output, for the log */
	struct view_tail prefix_tail;	/* output, for --prefix */
	char (*window)[VIEW_LINE_MAX];	/* the last lines, a ring */
	size_t *window_len;
	unsigned window_head, window_count;
	bool direct;			/* a one-liner's command writes to the terminal */
};

struct view_event;

struct view {
	struct view_options o;
	/* The queue the targets' threads fill and the view's thread empties,
	 * under the lock (held only to queue and to take). */
	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_cond_t done;		/* an event marked to be waited for was drawn */
	struct view_event *head, *tail;
	uint64_t queued, done_seq;	/* events queued and drawn so far, for view_sync */
	pthread_t thread;
	bool thread_started;
	bool stopping;
	/* The targets the targets' threads told of, by record (under the lock). */
	struct view_target **known;
	size_t n_known, cap_known;
	/* The view thread's own from here. */
	int log_fd;
	int64_t run_start;

	/* Every target whose record the view follows, and those running (on
	 * the live area), in the order they started. */
	struct view_target **targets;
	size_t n_targets, cap_targets;
	struct view_target **active;
	size_t n_active, cap_active;

	/* What the live view has on screen: its lines' widths. */
	unsigned drawn[VIEW_MAX_DRAWN];
	unsigned n_drawn;
	bool cursor_hidden;
	unsigned spin;

	unsigned passed, failed, flaky;
};

/* --- text (view_text.c) --------------------------------------------------------- */

/* A target's tests at its end: "Tests: ..." and the failed ones, or nothing. */
void view_text_tests(const struct view_target *t, struct view_text *text);

void view_text_add(struct view_text *t, const char *s, size_t n);
void view_text_vaddf(struct view_text *t, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
void view_text_addf(struct view_text *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Write it all to fd in one go, and empty it. */
void view_text_flush(struct view_text *t, int fd);

/* An SGR sequence when colour is allowed, else nothing. */
const char *view_text_sgr(const struct view *v, const char *sgr);

/* "4.2s", "1m 3s" */
void view_text_duration(int64_t ms, char *buf, size_t size);

typedef void (*view_line_fn)(struct view_target *t, const char *line, size_t len, int which);

/*
 * Read what was added to the tail's spool; call fn for each whole line
 * (cut at VIEW_LINE_MAX bytes).  The last, unfinished line stays in part.
 */
void view_text_tail_read(struct view_tail *tail, view_line_fn fn, struct view_target *t, int which);

/* Read to the end, the last line too even without its newline. */
void view_text_tail_finish(struct view_tail *tail, view_line_fn fn, struct view_target *t,
			   int which);

/*
 * A spool's content, or its last max bytes from a line start.  Sanitized
 * line by line for a terminal (not cut: the terminal wraps), else as is.
 */
void view_text_spool(struct view *v, struct view_text *text, int fd, size_t max, bool sanitize);

/* The reason a target failed, as the view shows it; NULL when it passed. */
const char *view_text_reason(const struct view_target *t);

/* --- the live area (view_live.c) ----------------------------------------- */

void view_live_window_push(struct view_target *t, const char *line, size_t len, int which);

/*
 * Move back to the live area's first line and clear from there down.
 * Nothing when nothing is drawn.
 */
void view_live_erase(struct view *v, struct view_text *text);

/* Redraw every running target's block; they share the terminal's height. */
void view_live_redraw(struct view *v);

/* The ending of a target: the block collapsed, or the failing stage whole. */
void view_live_end(struct view_target *t, struct view_text *text);

/* --- the plain format (view_plain.c) --------------------------------------- */

/* Plain, one target at a time or with --prefix: a line of vmtest's block. */
void view_plain_line(struct view_target *t, const char *line);

/* The plain format's ending: console on error, reason, verdict. */
void view_plain_end(struct view_target *t, struct view_text *text);

/* --prefix: "[name] line", as it comes; and the ending, line by line. */
void view_plain_prefix_line(struct view_target *t, const char *line, size_t len, int which);
void view_plain_prefix_end(struct view_target *t);

/* --- the log (view_log.c) ------------------------------------------------- */

int view_log_open(const char *path, int *ret_fd, struct error *err);
void view_log_printf(struct view *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void view_log_write(struct view *v, struct view_target *t, const char *what, const char *line,
		    size_t len);
void view_log_spool_line(struct view_target *t, const char *line, size_t len, int which);
