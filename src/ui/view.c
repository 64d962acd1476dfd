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
#include "ui/sanitize.h"
#include "ui/view_internal.h"
#include "vm/interrupt.h"
#include "vm/output.h"

static void view_tick(struct view *v)
{
	for (size_t i = 0; i < v->n_active; i++) {
		struct view_target *t = v->active[i];

		view_text_tail_read(&t->log_tails[0], view_log_spool_line, t, 0);
		view_text_tail_read(&t->log_tails[1], view_log_spool_line, t, 1);
		if (v->o.prefix && !v->o.live)
			view_text_tail_read(&t->prefix_tail, view_plain_prefix_line, t, 1);
		if (v->o.live && !t->direct)
			view_text_tail_read(&t->window_tail, view_live_window_push, t, 0);
	}
	if (v->o.live && v->n_active)
		view_live_redraw(v);
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
		view_live_erase(v, &text);
	/* With targets side by side, say which one. */
	if (t && several)
		view_text_addf(&text, "vmtest: [%s] %s\n", t->name, msg);
	else
		view_text_addf(&text, "vmtest: %s\n", msg);
	/* Above the live area, in the view's stream; else on stderr. */
	view_text_flush(&text, v->o.live ? v->o.fd : STDERR_FILENO);
	view_live_redraw(v);
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
	view_live_redraw(v);
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

		view_live_erase(v, &text);
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
	view_live_redraw(v);
	pthread_mutex_unlock(&v->lock);
}

static void view_on_log(void *data, const struct record *r, int level, const char *line)
{
	struct view *v = data;

	pthread_mutex_lock(&v->lock);
	view_say(v, view_find(v, r), level, line);
	pthread_mutex_unlock(&v->lock);
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
			      : view_text_reason(r) ? view_text_reason(r) : "FAILED";

	pthread_mutex_lock(&v->lock);
	t = view_find(v, r);
	if (!t) {
		pthread_mutex_unlock(&v->lock);
		return;
	}
	view_text_tail_finish(&t->log_tails[0], view_log_spool_line, t, 0);
	view_text_tail_finish(&t->log_tails[1], view_log_spool_line, t, 1);
	view_log_write(v, t, NULL, verdict, strlen(verdict));
	if (r->outcome == RECORD_PASSED)
		v->passed++;
	else
		v->failed++;
	/* Off the live area first, so that what follows is printed once. */
	view_unlist(v, t);
	if (v->o.live) {
		view_live_erase(v, &text);
		view_live_end(t, &text);
		if (v->cursor_hidden && !v->n_active) {
			view_text_add(&text, CURSOR_SHOW, strlen(CURSOR_SHOW));
			v->cursor_hidden = false;
		}
		view_text_flush(&text, v->o.fd);
		view_live_redraw(v);
	} else if (v->o.prefix) {
		view_plain_prefix_end(t);
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
	view_text_duration(clock_now_ms() - v->run_start, took, sizeof(took));
	if (v->o.live)
		view_text_addf(&text, "%s%u passed%s, %s%u failed%s in %s\n",
			       v->passed ? view_text_sgr(v, SGR_GREEN) : "", v->passed,
			       view_text_sgr(v, SGR_RESET), v->failed ? view_text_sgr(v, SGR_RED) : "",
			       v->failed, view_text_sgr(v, SGR_RESET), took);
	view_text_flush(&text, v->o.fd);
	if (v->log_fd >= 0)
		view_log_printf(v, "[%9.3f] vmtest: %u passed, %u failed\n",
				(double)(clock_now_ms() - v->run_start) / 1000, v->passed, v->failed);
	pthread_mutex_unlock(&v->lock);
}
