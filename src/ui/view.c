// SPDX-License-Identifier: MIT
#include "ui/view.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "io.h"
#include "base/clock.h"
#include "base/host_file.h"
#include "targets/record.h"
#include "ui/sanitize.h"
#include "vm/interrupt.h"
#include "vm/output.h"

#define VIEW_WINDOW_DEFAULT 10
#define VIEW_WINDOW_MAX 64
#define VIEW_LINE_MAX 1024		/* bytes of a line kept for the window */
#define VIEW_TICK_MS 100
#define VIEW_MAX_DRAWN 512		/* lines of the live area remembered */
#define VIEW_FAILED_CONSOLE_MAX 65536	/* the console shown for a failure, at most */
#define VIEW_PLAIN_CONSOLE_MAX 8192	/* ... in the plain format, as a tail */

#define SGR_RESET "\033[0m"
#define SGR_BOLD "\033[1m"
#define SGR_DIM "\033[2m"
#define SGR_GREEN "\033[32m"
#define SGR_RED "\033[31m"
#define CURSOR_HIDE "\033[?25l"
#define CURSOR_SHOW "\033[?25h"

static const char view_spinner[] = "|/-\\";

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

/* What the view keeps of a target it shows; the rest is its record's. */
struct view_target {
	struct view *view;
	const struct record *rec;
	char *name;			/* the record's, sanitized */
	struct view_tail window_tail;	/* the spool the window shows */
	struct view_tail log_tails[2];	/* console and output, for the log */
	struct view_tail prefix_tail;	/* output, for --prefix */
	char (*window)[VIEW_LINE_MAX];	/* the last lines, a ring */
	size_t *window_len;
	unsigned window_head, window_count;
	bool direct;			/* a one-liner's command writes to the terminal */
	bool ended;
};

struct view {
	struct view_options o;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_t thread;
	bool thread_started;
	bool stopping;
	int log_fd;
	int64_t run_start;

	/* Every target whose record the view follows, and those running (on
	 * the live area), in the order they started. */
	struct view_target **targets;
	size_t n_targets;
	struct view_target **active;
	size_t n_active, cap_active;

	/* What the live view has on screen: its lines' widths. */
	unsigned drawn[VIEW_MAX_DRAWN];
	unsigned n_drawn;
	bool cursor_hidden;
	unsigned spin;

	unsigned passed, failed;
};

/* --- small helpers --------------------------------------------------------- */

static void view_text_add(struct view_text *t, const char *s, size_t n)
{
	if (t->len + n + 1 > t->cap) {
		size_t cap = (t->len + n + 1) * 2;
		char *p = realloc(t->p, cap);

		if (!p)
			return; /* the screen misses a line; nothing else is at stake */
		t->p = p;
		t->cap = cap;
	}
	memcpy(t->p + t->len, s, n);
	t->len += n;
	t->p[t->len] = '\0';
}

static void view_text_vaddf(struct view_text *t, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

static void view_text_vaddf(struct view_text *t, const char *fmt, va_list ap)
{
	char *s = NULL;
	int n = vasprintf(&s, fmt, ap);

	if (n >= 0)
		view_text_add(t, s, (size_t)n);
	free(s);
}

static void view_text_addf(struct view_text *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void view_text_addf(struct view_text *t, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	view_text_vaddf(t, fmt, ap);
	va_end(ap);
}

static void view_text_flush(struct view_text *t, int fd)
{
	if (t->len)
		io_write_all(fd, t->p, t->len);
	free(t->p);
	*t = (struct view_text){ 0 };
}

/* An SGR sequence when colour is allowed, else nothing. */
static const char *view_sgr(const struct view *v, const char *sgr)
{
	return v->o.color ? sgr : "";
}

/* "4.2s", "1m 3s" */
static void view_format_duration(int64_t ms, char *buf, size_t size)
{
	if (ms < 60000)
		snprintf(buf, size, "%.1fs", (double)ms / 1000);
	else
		snprintf(buf, size, "%lldm %llds", (long long)(ms / 60000),
			 (long long)(ms / 1000 % 60));
}

static void view_size(const struct view *v, unsigned *ret_rows, unsigned *ret_cols)
{
	struct winsize ws;

	*ret_rows = 24;
	*ret_cols = 80;
	if (ioctl(v->o.fd, TIOCGWINSZ, &ws) == 0) {
		if (ws.ws_row > 0)
			*ret_rows = ws.ws_row;
		if (ws.ws_col > 0)
			*ret_cols = ws.ws_col;
	}
}

typedef void (*view_line_fn)(struct view_target *t, const char *line, size_t len, int which);

/*
 * Read what was added to the tail's spool; call fn for each whole line
 * (cut at VIEW_LINE_MAX bytes).  The last, unfinished line stays in part.
 */
static void view_tail_read(struct view_tail *tail, view_line_fn fn, struct view_target *t,
			   int which)
{
	char buf[65536];
	ssize_t n;

	if (tail->fd < 0)
		return;
	while ((n = pread(tail->fd, buf, sizeof(buf), tail->off)) > 0) {
		tail->off += n;
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] == '\n') {
				fn(t, tail->part, tail->len, which);
				tail->len = 0;
			} else if (tail->len < sizeof(tail->part)) {
				tail->part[tail->len++] = buf[i];
			}
		}
	}
}

/* Read to the end, the last line too even without its newline. */
static void view_tail_finish(struct view_tail *tail, view_line_fn fn, struct view_target *t,
			     int which)
{
	view_tail_read(tail, fn, t, which);
	if (tail->len) {
		fn(t, tail->part, tail->len, which);
		tail->len = 0;
	}
}

/* --- the log --------------------------------------------------------------- */

/*
 * --log: a new file made in the directory the user named, opened before
 * any guest runs (host_file.h), so a link or FIFO a guest left at its name
 * is replaced, never followed.
 */
static int view_log_open(const char *path, int *ret_fd, struct error *err)
{
	struct host_dir *dir = NULL;
	_cleanup_free_ char *name = NULL;
	int r;

	r = host_file_open_parent(path, &dir, &name, err);
	if (r >= 0)
		r = host_dir_create(dir, name, ret_fd, err);
	host_dir_free(dir);
	return r < 0 ? error_prefix(err, "--log %s", path) : 0;
}

/* A write to the log that fails (a full disk) stops the run: a log the
 * user asked for must not be silently cut short. */
static void view_log_put(struct view *v, const char *text, size_t len)
{
	int r;

	if (v->log_fd < 0)
		return;
	r = io_write_all(v->log_fd, text, len);
	if (r < 0) {
		interrupt_fail("cannot write --log %s: %s", v->o.log_path, strerror(-r));
		close(v->log_fd);
		v->log_fd = -1;
	}
}

static void view_log_printf(struct view *v, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void view_log_printf(struct view *v, const char *fmt, ...)
{
	struct view_text text = { 0 };
	va_list ap;

	va_start(ap, fmt);
	view_text_vaddf(&text, fmt, ap);
	va_end(ap);
	view_log_put(v, text.p, text.len);
	free(text.p);
}

static void view_log_write(struct view *v, struct view_target *t, const char *what,
			   const char *line, size_t len)
{
	struct sanitize_options so = { 0 };
	_cleanup_free_ char *clean = NULL;

	if (v->log_fd < 0)
		return;
	clean = sanitize_line(line, len, &so, NULL);
	view_log_printf(v, "[%9.3f] %s%s%s: %s\n", (double)(clock_now_ms() - v->run_start) / 1000,
			t ? t->name : "vmtest", what ? " " : "", what ? what : "",
			clean ? clean : "");
}

static void view_log_spool_line(struct view_target *t, const char *line, size_t len, int which)
{
	view_log_write(t->view, t, which == 0 ? "console" : "output", line, len);
}

/* --prefix: "[name] line", as it comes. */
static void view_prefix_line(struct view_target *t, const char *line, size_t len, int which)
{
	struct view_text text = { 0 };

	(void)which;
	view_text_addf(&text, "[%s] ", t->name);
	view_text_add(&text, line, len);
	view_text_add(&text, "\n", 1);
	view_text_flush(&text, t->view->o.fd);
}

/* --- the live area: the blocks of the running targets ---------------------- */

static void view_window_push(struct view_target *t, const char *line, size_t len, int which)
{
	unsigned cap = t->view->o.window;
	unsigned slot;

	(void)which;
	if (t->window_count == cap) {
		slot = t->window_head;
		t->window_head = (t->window_head + 1) % cap;
	} else {
		slot = (t->window_head + t->window_count) % cap;
		t->window_count++;
	}
	memcpy(t->window[slot], line, len);
	t->window_len[slot] = len;
}

/*
 * Move back to the live area's first line and clear from there down.
 * Nothing when nothing is drawn: the cursor is then where the command's own
 * output left it (a one-liner writes to the terminal itself), and clearing
 * would wipe a line it has not ended yet, such as a prompt.
 */
static void view_erase(struct view *v, struct view_text *text)
{
	unsigned rows, cols, up = 0;

	if (!v->n_drawn)
		return;
	view_size(v, &rows, &cols);
	/* A terminal that narrowed may have rewrapped the lines drawn. */
	for (unsigned i = 0; i < v->n_drawn; i++)
		up += v->drawn[i] <= cols ? 1 : (v->drawn[i] + cols - 1) / cols;
	if (up)
		view_text_addf(text, "\r\033[%uA", up);
	view_text_add(text, "\r\033[J", 4);
	v->n_drawn = 0;
}

/* One line of a block, cut to the width (prefix_cols of it for prefix). */
static void view_draw_line(struct view *v, struct view_text *text, const char *prefix,
			   unsigned prefix_cols, const char *line, size_t len, const char *after_sgr)
{
	struct sanitize_options so = { .keep_sgr = v->o.color, .after_sgr = after_sgr };
	_cleanup_free_ char *clean = NULL;
	unsigned rows, cols, used = 0;

	view_size(v, &rows, &cols);
	/* One column spare: a line that fills the width makes some terminals wrap. */
	so.width = cols > prefix_cols + 1 ? cols - prefix_cols - 1 : 1;
	clean = sanitize_line(line, len, &so, &used);
	view_text_add(text, prefix, strlen(prefix));
	view_text_add(text, clean ? clean : "", clean ? strlen(clean) : 0);
	view_text_addf(text, "%s\n", view_sgr(v, SGR_RESET));
	if (v->n_drawn < VIEW_MAX_DRAWN)
		v->drawn[v->n_drawn++] = used + prefix_cols;
}

static void view_draw_block(struct view *v, struct view_target *t, struct view_text *text,
			    unsigned window)
{
	char head[128], elapsed[32];
	unsigned shown, first, pending = t->window_tail.len ? 1 : 0;

	snprintf(head, sizeof(head), "%s=> ", view_sgr(v, SGR_BOLD));
	view_draw_line(v, text, head, 3, t->name, strlen(t->name), NULL);
	if (t->rec->stage == RECORD_STAGE_NONE) {
		view_draw_line(v, text, "", 0, "===> Preparing", 14, NULL);
		return;
	}
	view_format_duration(clock_now_ms() - t->rec->stage_start_ms, elapsed, sizeof(elapsed));
	snprintf(head, sizeof(head), "===> %s %c %s", record_stage_name(t->rec->stage),
		 view_spinner[v->spin % 4], elapsed);
	view_draw_line(v, text, "", 0, head, strlen(head), NULL);
	/* The window: the last lines and the one being written, dimmed. */
	shown = t->window_count + pending;
	if (shown > window)
		shown = window;
	first = t->window_count + pending - shown;
	for (unsigned i = first; i < t->window_count; i++) {
		unsigned slot = (t->window_head + i) % v->o.window;

		view_draw_line(v, text, view_sgr(v, SGR_DIM), 0, t->window[slot],
			       t->window_len[slot], view_sgr(v, SGR_DIM));
	}
	if (shown && pending)
		view_draw_line(v, text, view_sgr(v, SGR_DIM), 0, t->window_tail.part,
			       t->window_tail.len, view_sgr(v, SGR_DIM));
}

/* Redraw every running target's block; they share the terminal's height. */
static void view_redraw(struct view *v)
{
	struct view_text text = { 0 };
	unsigned rows, cols, window, n = 0;

	if (!v->o.live)
		return;
	for (size_t i = 0; i < v->n_active; i++)
		n += !v->active[i]->direct;
	view_erase(v, &text);
	if (n) {
		view_size(v, &rows, &cols);
		window = rows > 1 + 2 * n ? (rows - 1) / n - 2 : 0;
		if (window > v->o.window)
			window = v->o.window;
		if (!v->cursor_hidden) {
			view_text_add(&text, CURSOR_HIDE, strlen(CURSOR_HIDE));
			v->cursor_hidden = true;
		}
		v->spin++;
		for (size_t i = 0; i < v->n_active; i++)
			if (!v->active[i]->direct)
				view_draw_block(v, v->active[i], &text, window);
	}
	view_text_flush(&text, v->o.fd);
}

static void view_tick(struct view *v)
{
	for (size_t i = 0; i < v->n_active; i++) {
		struct view_target *t = v->active[i];

		view_tail_read(&t->log_tails[0], view_log_spool_line, t, 0);
		view_tail_read(&t->log_tails[1], view_log_spool_line, t, 1);
		if (v->o.prefix && !v->o.live)
			view_tail_read(&t->prefix_tail, view_prefix_line, t, 1);
		if (v->o.live && !t->direct)
			view_tail_read(&t->window_tail, view_window_push, t, 0);
	}
	if (v->o.live && v->n_active)
		view_redraw(v);
}

static void *view_thread(void *arg)
{
	struct view *v = arg;

	pthread_mutex_lock(&v->lock);
	while (!v->stopping) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += VIEW_TICK_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&v->wake, &v->lock, &ts);
		if (!v->stopping)
			view_tick(v);
	}
	pthread_mutex_unlock(&v->lock);
	return NULL;
}

static void view_target_free(struct view_target *t)
{
	if (!t)
		return;
	free(t->window);
	free(t->window_len);
	free(t->name);
	free(t);
}

/* --- the run --------------------------------------------------------------- */

int view_new(const struct view_options *o, struct view **ret, struct error *err)
{
	struct view *v = calloc(1, sizeof(*v));
	pthread_condattr_t attr;
	int r;

	if (!v)
		return error_set(err, ENOMEM, "out of memory");
	v->o = *o;
	if (!v->o.window)
		v->o.window = VIEW_WINDOW_DEFAULT;
	if (v->o.window > VIEW_WINDOW_MAX)
		v->o.window = VIEW_WINDOW_MAX;
	v->log_fd = -1;
	v->run_start = clock_now_ms();
	pthread_mutex_init(&v->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&v->wake, &attr);
	pthread_condattr_destroy(&attr);
	if (o->log_path) {
		time_t now = time(NULL);
		char stamp[64];
		struct tm tm;

		r = view_log_open(o->log_path, &v->log_fd, err);
		if (r < 0) {
			err->status = EXIT_STATUS_USAGE;
			view_free(v);
			return r;
		}
		strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
		view_log_printf(v, "# vmtest log, started %s; times in seconds since then\n", stamp);
	}
	if (o->live || v->log_fd >= 0 || o->prefix) {
		r = -pthread_create(&v->thread, NULL, view_thread, v);
		if (r < 0) {
			error_set_errno(err, -r, "start the view's thread");
			view_free(v);
			return r;
		}
		v->thread_started = true;
	}
	*ret = v;
	return 0;
}

struct view *view_free(struct view *v)
{
	if (!v)
		return NULL;
	pthread_mutex_lock(&v->lock);
	v->stopping = true;
	pthread_cond_signal(&v->wake);
	pthread_mutex_unlock(&v->lock);
	if (v->thread_started)
		pthread_join(v->thread, NULL);
	if (v->o.live && (v->cursor_hidden || v->n_drawn)) {
		/* Interrupted mid-target: the blocks stay as they were, the
		 * terminal gets its cursor and plain attributes back. */
		const char restore[] = SGR_RESET CURSOR_SHOW;

		io_write_all(v->o.fd, restore, strlen(restore));
	}
	if (v->log_fd >= 0)
		close(v->log_fd);
	pthread_cond_destroy(&v->wake);
	pthread_mutex_destroy(&v->lock);
	for (size_t i = 0; i < v->n_targets; i++)
		view_target_free(v->targets[i]);
	free(v->targets);
	free(v->active);
	free(v);
	return NULL;
}

/* One of vmtest's lines, the lock held: to the log, and shown up to -v. */
static void view_say(struct view *v, struct view_target *t, int level, const char *msg)
{
	struct view_text text = { 0 };
	bool several = v->o.whole_blocks || v->o.prefix || v->n_active > 1;

	view_log_write(v, t, NULL, msg, strlen(msg));
	if (level > v->o.verbose)
		return;
	if (v->o.live)
		view_erase(v, &text);
	/* With targets side by side, say which one. */
	if (t && several)
		view_text_addf(&text, "vmtest: [%s] %s\n", t->name, msg);
	else
		view_text_addf(&text, "vmtest: %s\n", msg);
	/* Above the live area, in the view's stream; else on stderr. */
	view_text_flush(&text, v->o.live ? v->o.fd : STDERR_FILENO);
	view_redraw(v);
}

void view_log(struct view *v, int level, const char *fmt, ...)
{
	_cleanup_free_ char *msg = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	pthread_mutex_lock(&v->lock);
	view_say(v, NULL, level, msg);
	pthread_mutex_unlock(&v->lock);
}

/* --- a target -------------------------------------------------------------- */

/* Plain, one target at a time or with --prefix: a line of vmtest's block. */
static void view_plain_line(struct view_target *t, const char *line)
{
	struct view *v = t->view;
	struct view_text text = { 0 };

	if (v->o.live || v->o.whole_blocks)
		return;
	if (v->o.prefix)
		view_text_addf(&text, "[%s] ", t->name);
	view_text_addf(&text, "%s\n", line);
	view_text_flush(&text, v->o.fd);
}

/* The view's part of the target whose record is r, the lock held; NULL if none. */
static struct view_target *view_find(struct view *v, const struct record *r)
{
	for (size_t i = 0; i < v->n_targets; i++)
		if (v->targets[i]->rec == r)
			return v->targets[i];
	return NULL;
}


/* A target starts (several may run at once). */
static void view_on_begin(void *data, const struct record *r)
{
	struct view *v = data;
	struct view_target *t = calloc(1, sizeof(*t)), **targets;
	char line[1024];

	if (!t)
		return; /* out of memory: the view shows less, nothing else is at stake */
	t->view = v;
	t->rec = r;
	/* A name is the user's text, shown in CI logs that render escapes:
	 * plain mode, the log and --prefix show it sanitized, as the live view does. */
	t->name = sanitize_line(r->name, strlen(r->name), &(struct sanitize_options){ 0 }, NULL);
	t->window = calloc(v->o.window, sizeof(*t->window));
	t->window_len = calloc(v->o.window, sizeof(*t->window_len));
	if (!t->name || !t->window || !t->window_len) {
		view_target_free(t);
		return;
	}
	t->window_tail = (struct view_tail){ .fd = r->console_fd };
	t->log_tails[0] = (struct view_tail){ .fd = r->console_fd };
	t->log_tails[1] = (struct view_tail){ .fd = r->output_fd };
	t->prefix_tail = (struct view_tail){ .fd = r->output_fd };

	pthread_mutex_lock(&v->lock);
	targets = realloc(v->targets, (v->n_targets + 1) * sizeof(*targets));
	if (!targets) {
		pthread_mutex_unlock(&v->lock);
		view_target_free(t);
		return;
	}
	v->targets = targets;
	v->targets[v->n_targets++] = t;
	if (v->n_active == v->cap_active) {
		size_t cap = v->cap_active ? 2 * v->cap_active : 8;
		struct view_target **active = realloc(v->active, cap * sizeof(*active));

		if (!active) {
			pthread_mutex_unlock(&v->lock);
			return;
		}
		v->active = active;
		v->cap_active = cap;
	}
	v->active[v->n_active++] = t;
	snprintf(line, sizeof(line), "=> %s", t->name);
	view_plain_line(t, line);
	view_log_write(v, t, NULL, "started", 7);
	view_redraw(v);
	pthread_mutex_unlock(&v->lock);
}

static void view_on_stage(void *data, const struct record *r)
{
	struct view *v = data;
	struct view_target *t;
	char line[64];

	pthread_mutex_lock(&v->lock);
	t = view_find(v, r);
	if (!t) {
		pthread_mutex_unlock(&v->lock);
		return;
	}
	snprintf(line, sizeof(line), "===> %s", record_stage_name(r->stage));
	view_plain_line(t, line);
	if (v->o.live && r->stage == RECORD_STAGE_COMMAND && v->o.oneliner) {
		/* The command's output goes to the terminal itself, whole. */
		struct view_text text = { 0 };

		view_erase(v, &text);
		view_text_addf(&text, "=> %s\n%s\n", t->name, line);
		view_text_add(&text, CURSOR_SHOW, strlen(CURSOR_SHOW));
		v->cursor_hidden = false;
		view_text_flush(&text, v->o.fd);
		t->direct = true;
	} else if (r->stage == RECORD_STAGE_COMMAND) {
		/* From now on the window shows the command's output. */
		t->window_tail = (struct view_tail){ .fd = r->output_fd };
		t->window_head = t->window_count = 0;
	}
	view_redraw(v);
	pthread_mutex_unlock(&v->lock);
}

static void view_on_log(void *data, const struct record *r, int level, const char *line)
{
	struct view *v = data;

	pthread_mutex_lock(&v->lock);
	view_say(v, view_find(v, r), level, line);
	pthread_mutex_unlock(&v->lock);
}

/*
 * A spool's content, or its last max bytes from a line start.  Sanitized
 * line by line for a terminal (not cut: the terminal wraps), else as is.
 */
static void view_show_spool(struct view *v, struct view_text *text, int fd, size_t max,
			    bool sanitize)
{
	struct sanitize_options so = { .keep_sgr = v->o.color };
	off_t size = lseek(fd, 0, SEEK_END), off = 0;
	struct view_text line = { 0 };
	bool skip_first;
	char buf[65536];
	ssize_t n;

	if (size <= 0)
		return;
	if ((size_t)size > max)
		off = size - (off_t)max;
	skip_first = off > 0; /* a partial line */
	for (;;) {
		bool eof = (n = pread(fd, buf, sizeof(buf), off)) <= 0;

		for (ssize_t i = 0; i < (eof ? 1 : n); i++) {
			_cleanup_free_ char *clean = NULL;

			if (!eof && buf[i] != '\n') {
				view_text_add(&line, buf + i, 1);
				continue;
			}
			if (eof && !line.len)
				break;
			if (!skip_first && sanitize) {
				clean = sanitize_line(line.p ? line.p : "", line.len, &so, NULL);
				view_text_addf(text, "%s%s\n", clean ? clean : "",
					       v->o.color ? SGR_RESET : "");
			} else if (!skip_first) {
				view_text_add(text, line.p ? line.p : "", line.len);
				view_text_add(text, "\n", 1);
			}
			skip_first = false;
			line.len = 0;
		}
		if (eof)
			break;
		off += n;
	}
	free(line.p);
}

static bool view_spool_empty(int fd)
{
	return fd < 0 || lseek(fd, 0, SEEK_END) <= 0;
}

/* The reason a target failed, as the view shows it; NULL when it passed. */
static const char *view_reason(const struct record *r)
{
	return r->reason[0] ? r->reason : NULL;
}

/* The plain format's ending: console on error, reason, verdict. */
static void view_plain_end(struct view_target *t, struct view_text *text)
{
	struct view *v = t->view;
	const struct record *r = t->rec;

	if (v->o.whole_blocks) {
		/* The block whole: the stages it reached, then its output. */
		view_text_addf(text, "=> %s\n", t->name);
		for (int s = RECORD_STAGE_BOOTING; s <= (int)r->stage; s++)
			view_text_addf(text, "===> %s\n", record_stage_name(s));
		view_show_spool(v, text, r->output_fd, (size_t)-1 / 2, false);
	}
	if (r->outcome == RECORD_ERROR && !view_spool_empty(r->console_fd)) {
		view_text_add(text, "--- guest console (last lines) ---\n", 35);
		view_show_spool(v, text, r->console_fd, VIEW_PLAIN_CONSOLE_MAX, false);
		view_text_add(text, "---\n", 4);
	}
	if (view_reason(r))
		view_text_addf(text, "%s\n", view_reason(r));
	view_text_add(text, r->outcome == RECORD_PASSED ? "PASS\n" : "FAILED\n",
		      r->outcome == RECORD_PASSED ? 5 : 7);
}

/* --prefix: every line of the ending with the name too. */
static void view_prefix_end(struct view_target *t)
{
	struct view_text text = { 0 };

	view_tail_finish(&t->prefix_tail, view_prefix_line, t, 1);
	view_plain_end(t, &text);
	for (char *line = text.p, *nl; line && *line; line = nl + 1) {
		nl = strchr(line, '\n');
		*nl = '\0';
		view_prefix_line(t, line, strlen(line), 1);
	}
	free(text.p);
}

/* The live view's ending: the block collapsed, or the failing stage whole. */
static void view_live_end(struct view_target *t, struct view_text *text)
{
	struct view *v = t->view;
	const struct record *r = t->rec;
	char took[32];

	view_format_duration(r->total_ms, took, sizeof(took));
	if (!t->direct)
		view_text_addf(text, "%s=> %s%s\n", view_sgr(v, SGR_BOLD), t->name,
			       view_sgr(v, SGR_RESET));
	if (r->outcome == RECORD_PASSED) {
		view_text_addf(text, "%sPASS%s (%s)\n", view_sgr(v, SGR_BOLD SGR_GREEN),
			       view_sgr(v, SGR_RESET), took);
		return;
	}
	/* The command's output, or the console for a VM that could not run it. */
	if (r->outcome == RECORD_ERROR || r->stage != RECORD_STAGE_COMMAND) {
		if (t->direct)
			view_text_add(text, "--- guest console ---\n", 22);
		else if (r->stage != RECORD_STAGE_NONE)
			view_text_addf(text, "===> %s\n", record_stage_name(r->stage));
		view_show_spool(v, text, r->console_fd, VIEW_FAILED_CONSOLE_MAX, true);
	} else if (!t->direct) {
		view_text_addf(text, "===> %s\n", record_stage_name(r->stage));
		view_show_spool(v, text, r->output_fd, (size_t)-1 / 2, true);
	}
	if (view_reason(r))
		view_text_addf(text, "%s\n", view_reason(r));
	view_text_addf(text, "%sFAILED%s (%s)\n", view_sgr(v, SGR_BOLD SGR_RED),
		       view_sgr(v, SGR_RESET), took);
}

/* Take t off the running targets (the lock held); nothing if it is not there. */
static void view_unlist(struct view *v, struct view_target *t)
{
	for (size_t i = 0; i < v->n_active; i++)
		if (v->active[i] == t) {
			memmove(v->active + i, v->active + i + 1,
				(v->n_active - i - 1) * sizeof(*v->active));
			v->n_active--;
			return;
		}
}

static void view_on_end(void *data, const struct record *r)
{
	struct view *v = data;
	struct view_text text = { 0 };
	struct view_target *t;
	const char *verdict = r->outcome == RECORD_PASSED ? "PASS"
			      : view_reason(r) ? view_reason(r) : "FAILED";

	pthread_mutex_lock(&v->lock);
	t = view_find(v, r);
	if (!t) {
		pthread_mutex_unlock(&v->lock);
		return;
	}
	view_tail_finish(&t->log_tails[0], view_log_spool_line, t, 0);
	view_tail_finish(&t->log_tails[1], view_log_spool_line, t, 1);
	view_log_write(v, t, NULL, verdict, strlen(verdict));
	if (r->outcome == RECORD_PASSED)
		v->passed++;
	else
		v->failed++;
	/* Off the live area first, so that what follows is printed once. */
	view_unlist(v, t);
	if (v->o.live) {
		view_erase(v, &text);
		view_live_end(t, &text);
		if (v->cursor_hidden && !v->n_active) {
			view_text_add(&text, CURSOR_SHOW, strlen(CURSOR_SHOW));
			v->cursor_hidden = false;
		}
		view_text_flush(&text, v->o.fd);
		view_redraw(v);
	} else if (v->o.prefix) {
		view_prefix_end(t);
	} else {
		view_plain_end(t, &text);
		view_text_flush(&text, v->o.fd);
	}
	pthread_mutex_unlock(&v->lock);
}

/* The record goes: an interrupted target leaves the live area all the same. */
static void view_on_forget(void *data, const struct record *r)
{
	struct view *v = data;
	struct view_target *t;

	pthread_mutex_lock(&v->lock);
	t = view_find(v, r);
	if (t) {
		view_unlist(v, t);
		for (size_t i = 0; i < v->n_targets; i++)
			if (v->targets[i] == t) {
				v->targets[i] = v->targets[--v->n_targets];
				break;
			}
	}
	pthread_mutex_unlock(&v->lock);
	view_target_free(t);
}

void view_observe(struct view *v, struct record_observer *ret)
{
	*ret = (struct record_observer){
		.begin = view_on_begin,
		.stage = view_on_stage,
		.log = view_on_log,
		.end = view_on_end,
		.forget = view_on_forget,
		.data = v,
	};
}

void view_summary(struct view *v)
{
	struct view_text text = { 0 };
	char took[32];

	pthread_mutex_lock(&v->lock);
	view_format_duration(clock_now_ms() - v->run_start, took, sizeof(took));
	if (v->o.live)
		view_text_addf(&text, "%s%u passed%s, %s%u failed%s in %s\n",
			       v->passed ? view_sgr(v, SGR_GREEN) : "", v->passed,
			       view_sgr(v, SGR_RESET), v->failed ? view_sgr(v, SGR_RED) : "",
			       v->failed, view_sgr(v, SGR_RESET), took);
	view_text_flush(&text, v->o.fd);
	if (v->log_fd >= 0)
		view_log_printf(v, "[%9.3f] vmtest: %u passed, %u failed\n",
				(double)(clock_now_ms() - v->run_start) / 1000, v->passed, v->failed);
	pthread_mutex_unlock(&v->lock);
}
