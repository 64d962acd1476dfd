// SPDX-License-Identifier: MIT
#include "view.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "json_io.h"
#include "output.h"
#include "sanitize.h"

#define VIEW_WINDOW_DEFAULT 10
#define VIEW_WINDOW_MAX 64
#define VIEW_LINE_MAX 1024		/* bytes of a line kept for the window */
#define VIEW_TICK_MS 100
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

static const char *const view_stage_names[] = {
	[VIEW_STAGE_NONE] = "",
	[VIEW_STAGE_BOOTING] = "Booting",
	[VIEW_STAGE_SETUP] = "Setting up VM",
	[VIEW_STAGE_COMMAND] = "Running command",
};

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

struct view {
	struct view_options o;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_t thread;
	bool thread_started;
	bool stopping;
	int log_fd;
	int64_t run_start, target_start, stage_start;

	/* The current target. */
	char *name;
	enum view_stage stage;
	int console_fd, output_fd;
	struct view_tail window_tail;	/* the spool the window shows */
	struct view_tail log_tails[2];	/* console and output, for the log */
	char window[VIEW_WINDOW_MAX][VIEW_LINE_MAX];
	size_t window_len[VIEW_WINDOW_MAX];
	unsigned window_head, window_count;
	bool direct;			/* a one-liner's command writes to the terminal */

	/* What the live view has on screen: its lines' widths. */
	unsigned drawn[VIEW_WINDOW_MAX + 2];
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

static void view_text_addf(struct view_text *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void view_text_addf(struct view_text *t, const char *fmt, ...)
{
	char *s = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n >= 0)
		view_text_add(t, s, (size_t)n);
	free(s);
}

static void view_text_flush(struct view_text *t, int fd)
{
	if (t->len)
		output_write_all(fd, t->p, t->len);
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

static unsigned view_columns(const struct view *v)
{
	struct winsize ws;

	if (ioctl(v->o.fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	return 80;
}

static unsigned view_rows(const struct view *v)
{
	struct winsize ws;

	if (ioctl(v->o.fd, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0)
		return ws.ws_row;
	return 24;
}

/* An unlinked file for a spool: in the runtime directory when usable. */
static int view_spool_open(void)
{
	const char *dir = getenv("XDG_RUNTIME_DIR");
	int fd = -1;

	if (dir && *dir)
		fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0)
		fd = open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0) {
		char path[] = "/tmp/vmtest-spool-XXXXXX";

		fd = mkostemp(path, O_CLOEXEC);
		if (fd >= 0)
			unlink(path);
	}
	return fd;
}

/*
 * Read what was added to the tail's spool; call fn for each whole line
 * (cut at VIEW_LINE_MAX bytes).  The last, unfinished line stays in part.
 */
static void view_tail_read(struct view_tail *t, void (*fn)(struct view *, const char *, size_t,
							   int), struct view *v, int which)
{
	char buf[65536];
	ssize_t n;

	if (t->fd < 0)
		return;
	while ((n = pread(t->fd, buf, sizeof(buf), t->off)) > 0) {
		t->off += n;
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] == '\n') {
				fn(v, t->part, t->len, which);
				t->len = 0;
			} else if (t->len < sizeof(t->part)) {
				t->part[t->len++] = buf[i];
			}
		}
	}
}

/* --- the log --------------------------------------------------------------- */

static void view_log_write(struct view *v, const char *what, const char *line, size_t len)
{
	struct view_text t = { 0 };
	_cleanup_free_ char *clean = NULL;
	struct sanitize_options so = { 0 };

	if (v->log_fd < 0)
		return;
	clean = sanitize_line(line, len, &so, NULL);
	view_text_addf(&t, "[%9.3f] %s%s%s: %s\n", (double)(json_io_now() - v->run_start) / 1000,
		       v->name ? v->name : "vmtest", what ? " " : "", what ? what : "",
		       clean ? clean : "");
	view_text_flush(&t, v->log_fd);
}

static void view_log_spool_line(struct view *v, const char *line, size_t len, int which)
{
	view_log_write(v, which == 0 ? "console" : "output", line, len);
}

static void view_log_spools(struct view *v, bool final)
{
	for (int i = 0; i < 2; i++) {
		struct view_tail *t = &v->log_tails[i];

		view_tail_read(t, view_log_spool_line, v, i);
		if (final && t->len) {
			view_log_spool_line(v, t->part, t->len, i);
			t->len = 0;
		}
	}
}

/* --- the live block -------------------------------------------------------- */

static void view_window_push(struct view *v, const char *line, size_t len, int which)
{
	unsigned cap = v->o.window;
	unsigned slot = (v->window_head + v->window_count) % cap;

	(void)which;
	if (v->window_count == cap) {
		slot = v->window_head;
		v->window_head = (v->window_head + 1) % cap;
	} else {
		v->window_count++;
	}
	memcpy(v->window[slot], line, len);
	v->window_len[slot] = len;
}

/* Move back to the block's first line and clear from there down. */
static void view_erase(struct view *v, struct view_text *t)
{
	unsigned cols = view_columns(v), rows = 0;

	/* A terminal that narrowed may have rewrapped the lines drawn. */
	for (unsigned i = 0; i < v->n_drawn; i++)
		rows += v->drawn[i] <= cols ? 1 : (v->drawn[i] + cols - 1) / cols;
	if (rows)
		view_text_addf(t, "\r\033[%uA", rows);
	view_text_add(t, "\r\033[J", 4);
	v->n_drawn = 0;
}

/* One line of the block, cut to the width (prefix_cols of it for prefix). */
static void view_draw_line(struct view *v, struct view_text *t, const char *prefix,
			   unsigned prefix_cols, const char *line, size_t len, const char *after_sgr)
{
	struct sanitize_options so = { .keep_sgr = v->o.color, .after_sgr = after_sgr };
	unsigned cols = view_columns(v), used = 0;
	_cleanup_free_ char *clean = NULL;

	/* One column spare: a line that fills the width makes some terminals wrap. */
	so.width = cols > prefix_cols + 1 ? cols - prefix_cols - 1 : 1;
	clean = sanitize_line(line, len, &so, &used);
	view_text_add(t, prefix, strlen(prefix));
	view_text_add(t, clean ? clean : "", clean ? strlen(clean) : 0);
	view_text_addf(t, "%s\n", view_sgr(v, SGR_RESET));
	if (v->n_drawn < sizeof(v->drawn) / sizeof(v->drawn[0]))
		v->drawn[v->n_drawn++] = used + prefix_cols;
}

static void view_redraw(struct view *v)
{
	struct view_text t = { 0 };
	char head[128], elapsed[32];
	unsigned room, shown, first;

	if (!v->o.live || !v->name || v->direct || v->stage == VIEW_STAGE_NONE)
		return;
	view_erase(v, &t);
	if (!v->cursor_hidden) {
		view_text_add(&t, CURSOR_HIDE, strlen(CURSOR_HIDE));
		v->cursor_hidden = true;
	}
	snprintf(head, sizeof(head), "%s=> ", view_sgr(v, SGR_BOLD));
	view_draw_line(v, &t, head, 3, v->name, strlen(v->name), NULL);
	view_format_duration(json_io_now() - v->stage_start, elapsed, sizeof(elapsed));
	snprintf(head, sizeof(head), "===> %s %c %s", view_stage_names[v->stage],
		 view_spinner[v->spin++ % 4], elapsed);
	view_draw_line(v, &t, "", 0, head, strlen(head), NULL);
	/* The window: its last lines and the line being written, dimmed. */
	room = view_rows(v) > 3 ? view_rows(v) - 3 : 0;
	shown = v->window_count + (v->window_tail.len ? 1 : 0);
	if (shown > v->o.window)
		shown = v->o.window;
	if (shown > room)
		shown = room;
	first = v->window_count + (v->window_tail.len ? 1 : 0) - shown;
	for (unsigned i = first; i < v->window_count; i++) {
		unsigned slot = (v->window_head + i) % v->o.window;

		view_draw_line(v, &t, view_sgr(v, SGR_DIM), 0, v->window[slot],
			       v->window_len[slot], view_sgr(v, SGR_DIM));
	}
	if (shown && v->window_tail.len)
		view_draw_line(v, &t, view_sgr(v, SGR_DIM), 0, v->window_tail.part,
			       v->window_tail.len, view_sgr(v, SGR_DIM));
	view_text_flush(&t, v->o.fd);
}

static void view_tick(struct view *v)
{
	view_log_spools(v, false);
	if (v->o.live && v->name && !v->direct) {
		view_tail_read(&v->window_tail, view_window_push, v, 0);
		view_redraw(v);
	}
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

/* --- the interface ----------------------------------------------------------- */

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
	v->console_fd = v->output_fd = v->log_fd = -1;
	v->window_tail.fd = v->log_tails[0].fd = v->log_tails[1].fd = -1;
	v->run_start = json_io_now();
	pthread_mutex_init(&v->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&v->wake, &attr);
	pthread_condattr_destroy(&attr);
	if (o->log_path) {
		time_t now = time(NULL);
		char stamp[64];
		struct tm tm;

		v->log_fd = open(o->log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (v->log_fd < 0) {
			r = error_set_errno(err, errno, "--log %s", o->log_path);
			err->status = EXIT_STATUS_USAGE;
			view_free(v);
			return r;
		}
		strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
		dprintf(v->log_fd, "# vmtest log, started %s; times in seconds since then\n", stamp);
	}
	if (o->live || v->log_fd >= 0) {
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

static void view_close_spools(struct view *v)
{
	if (v->console_fd >= 0)
		close(v->console_fd);
	if (v->output_fd >= 0)
		close(v->output_fd);
	v->console_fd = v->output_fd = -1;
	v->window_tail.fd = v->log_tails[0].fd = v->log_tails[1].fd = -1;
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
		/* Interrupted mid-target: the block stays as it was, the
		 * terminal gets its cursor and plain attributes back. */
		const char restore[] = SGR_RESET CURSOR_SHOW;

		output_write_all(v->o.fd, restore, strlen(restore));
	}
	view_close_spools(v);
	if (v->log_fd >= 0)
		close(v->log_fd);
	pthread_cond_destroy(&v->wake);
	pthread_mutex_destroy(&v->lock);
	free(v->name);
	free(v);
	return NULL;
}

int view_target_begin(struct view *v, const char *name, struct error *err)
{
	int r = 0;

	pthread_mutex_lock(&v->lock);
	view_close_spools(v);
	free(v->name);
	v->name = strdup(name);
	v->stage = VIEW_STAGE_NONE;
	v->direct = false;
	v->window_head = v->window_count = 0;
	v->target_start = v->stage_start = json_io_now();
	v->console_fd = view_spool_open();
	v->output_fd = view_spool_open();
	if (!v->name || v->console_fd < 0 || v->output_fd < 0) {
		r = error_set_errno(err, v->name ? errno : ENOMEM, "create the spool files");
	} else {
		v->window_tail = (struct view_tail){ .fd = v->console_fd };
		v->log_tails[0] = (struct view_tail){ .fd = v->console_fd };
		v->log_tails[1] = (struct view_tail){ .fd = v->output_fd };
	}
	if (r >= 0 && !v->o.live) {
		char line[512];

		snprintf(line, sizeof(line), "=> %s\n", name);
		output_write_all(v->o.fd, line, strlen(line));
	}
	view_log_write(v, NULL, "started", 7);
	pthread_mutex_unlock(&v->lock);
	return r;
}

static void view_say(struct view *v, int level, const char *msg);

/* "Booting took 2.43 s": to the log, and shown with -v. */
static void view_stage_took(struct view *v)
{
	char took[128];

	if (v->stage == VIEW_STAGE_NONE)
		return;
	snprintf(took, sizeof(took), "%s took %.2f s", view_stage_names[v->stage],
		 (double)(json_io_now() - v->stage_start) / 1000);
	view_say(v, 1, took);
}

void view_stage(struct view *v, enum view_stage stage)
{
	char line[64];

	pthread_mutex_lock(&v->lock);
	view_stage_took(v);
	v->stage = stage;
	v->stage_start = json_io_now();
	snprintf(line, sizeof(line), "===> %s\n", view_stage_names[stage]);
	if (!v->o.live) {
		output_write_all(v->o.fd, line, strlen(line));
	} else if (stage == VIEW_STAGE_COMMAND && v->o.oneliner) {
		/* The command's output goes to the terminal itself, whole. */
		struct view_text t = { 0 };

		view_erase(v, &t);
		view_text_addf(&t, "=> %s\n%s", v->name, line);
		view_text_add(&t, CURSOR_SHOW, strlen(CURSOR_SHOW));
		v->cursor_hidden = false;
		view_text_flush(&t, v->o.fd);
		v->direct = true;
	} else {
		if (stage == VIEW_STAGE_COMMAND) {
			/* From now on the window shows the command's output. */
			v->window_tail = (struct view_tail){ .fd = v->output_fd };
			v->window_head = v->window_count = 0;
		}
		view_redraw(v);
	}
	pthread_mutex_unlock(&v->lock);
}

int view_console_fd(const struct view *v)
{
	return v->console_fd;
}

int view_output_fd(const struct view *v)
{
	return v->output_fd;
}

/* One of vmtest's lines, the lock held: to the log, and shown up to -v. */
static void view_say(struct view *v, int level, const char *msg)
{
	struct view_text t = { 0 };
	bool redraw;

	view_log_write(v, NULL, msg, strlen(msg));
	if (level > v->o.verbose)
		return;
	redraw = v->o.live && v->n_drawn;
	if (redraw)
		view_erase(v, &t);
	view_text_addf(&t, "vmtest: %s\n", msg);
	/* Above the live block, in the view's stream; else on stderr. */
	view_text_flush(&t, v->o.live ? v->o.fd : STDERR_FILENO);
	if (redraw)
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
	view_say(v, level, msg);
	pthread_mutex_unlock(&v->lock);
}

/*
 * The whole of a spool (or its last max bytes, from a line start), each
 * line sanitized but not cut: what a failure leaves on screen.
 */
/*
 * The whole of a spool (or its last max bytes, from a line start), each
 * line sanitized but not cut: what a failure leaves on screen.
 */
static void view_show_spool(struct view *v, struct view_text *t, int fd, size_t max)
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
			if (!skip_first) {
				clean = sanitize_line(line.p ? line.p : "", line.len, &so, NULL);
				view_text_addf(t, "%s%s\n", clean ? clean : "",
					       v->o.color ? SGR_RESET : "");
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

void view_target_end(struct view *v, enum view_result result, const char *reason)
{
	struct view_text t = { 0 };
	char took[32];

	pthread_mutex_lock(&v->lock);
	view_stage_took(v);
	view_log_spools(v, true);
	view_log_write(v, NULL, result == VIEW_PASSED ? "PASS" : reason ? reason : "FAILED",
		       strlen(result == VIEW_PASSED ? "PASS" : reason ? reason : "FAILED"));
	view_format_duration(json_io_now() - v->target_start, took, sizeof(took));
	if (result == VIEW_PASSED)
		v->passed++;
	else
		v->failed++;
	if (!v->o.live) {
		/* The seed's format: the command's output is already out. */
		if (result == VIEW_ERROR && v->console_fd >= 0 && lseek(v->console_fd, 0, SEEK_END) > 0) {
			view_text_add(&t, "--- guest console (last lines) ---\n", 35);
			view_show_spool(v, &t, v->console_fd, VIEW_PLAIN_CONSOLE_MAX);
			view_text_add(&t, "---\n", 4);
		}
		if (reason)
			view_text_addf(&t, "%s\n", reason);
		view_text_add(&t, result == VIEW_PASSED ? "PASS\n" : "FAILED\n",
			      result == VIEW_PASSED ? 5 : 7);
	} else {
		if (!v->direct) {
			view_erase(v, &t);
			view_text_addf(&t, "%s=> %s%s\n", view_sgr(v, SGR_BOLD), v->name,
				       view_sgr(v, SGR_RESET));
		}
		if (result != VIEW_PASSED) {
			/* The failing stage's whole output: the command's, or the
			 * console for a VM that could not run it. */
			bool console = result == VIEW_ERROR || v->stage != VIEW_STAGE_COMMAND;

			if (!v->direct || console) {
				if (!v->direct && v->stage != VIEW_STAGE_NONE)
					view_text_addf(&t, "===> %s\n", view_stage_names[v->stage]);
				if (console && v->direct)
					view_text_add(&t, "--- guest console ---\n", 22);
				view_show_spool(v, &t, console ? v->console_fd : v->output_fd,
						console ? VIEW_FAILED_CONSOLE_MAX : (size_t)-1 / 2);
			}
			if (reason)
				view_text_addf(&t, "%s\n", reason);
			view_text_addf(&t, "%sFAILED%s (%s)\n", view_sgr(v, SGR_BOLD SGR_RED),
				       view_sgr(v, SGR_RESET), took);
		} else {
			view_text_addf(&t, "%sPASS%s (%s)\n", view_sgr(v, SGR_BOLD SGR_GREEN),
				       view_sgr(v, SGR_RESET), took);
		}
		if (v->cursor_hidden)
			view_text_add(&t, CURSOR_SHOW, strlen(CURSOR_SHOW));
		v->cursor_hidden = false;
		v->n_drawn = 0;
	}
	view_text_flush(&t, v->o.fd);
	free(v->name);
	v->name = NULL;
	v->stage = VIEW_STAGE_NONE;
	v->direct = false;
	view_close_spools(v);
	pthread_mutex_unlock(&v->lock);
}

void view_summary(struct view *v)
{
	struct view_text t = { 0 };
	char took[32];

	pthread_mutex_lock(&v->lock);
	view_format_duration(json_io_now() - v->run_start, took, sizeof(took));
	if (v->o.live)
		view_text_addf(&t, "%s%u passed%s, %s%u failed%s in %s\n",
			       v->passed ? view_sgr(v, SGR_GREEN) : "", v->passed,
			       view_sgr(v, SGR_RESET), v->failed ? view_sgr(v, SGR_RED) : "",
			       v->failed, view_sgr(v, SGR_RESET), took);
	view_text_flush(&t, v->o.fd);
	if (v->log_fd >= 0)
		dprintf(v->log_fd, "[%9.3f] vmtest: %u passed, %u failed\n",
			(double)(json_io_now() - v->run_start) / 1000, v->passed, v->failed);
	pthread_mutex_unlock(&v->lock);
}
