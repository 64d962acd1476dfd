// SPDX-License-Identifier: MIT
/*
 * view: the core that follows the records.  The targets' threads tell the
 * view what happened through the record's observer; each call copies what
 * the view will need and queues it, and returns at once.  The view's own
 * thread takes the queue in order and is the only one to write to the
 * terminal, the view's stream and the log: a terminal held by Ctrl-S, or a
 * pipe nobody reads, stalls that thread alone, never a target, its
 * deadlines or its timings.
 *
 * One exception keeps the order a user sees: when a target's command
 * writes to the view's stream itself (a one-liner, or a config's one
 * target at a time in the plain format), its thread waits for the view to
 * have drawn "Running command" before the output starts, as a host
 * command waits for its terminal.
 */
#include "ui/view.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "io.h"
#include "base/clock.h"
#include "ui/sanitize.h"
#include "ui/view_internal.h"

enum view_event_kind {
	VIEW_EVENT_BEGIN,
	VIEW_EVENT_STAGE,
	VIEW_EVENT_PROGRESS,
	VIEW_EVENT_LOG,
	VIEW_EVENT_END,
	VIEW_EVENT_FORGET,
	VIEW_EVENT_SUMMARY,
};

/* What happened, as the targets' threads saw it, for the view's thread. */
struct view_event {
	struct view_event *next;
	uint64_t seq;
	enum view_event_kind kind;
	struct view_target *t;		/* NULL: the run's own (a log line, the summary) */
	enum record_stage stage;	/* STAGE, END: the stage entered, or ended in */
	int64_t since;			/* STAGE: when it was entered */
	int level;			/* LOG */
	char *line;			/* LOG */
	enum record_outcome outcome;	/* END */
	int64_t total_ms;		/* END */
	char *reason;			/* END: NULL for none */
	char *tests, *tests_failed;	/* END: its tests (view_record); PROGRESS: tests */
	bool flaky;			/* END */
	unsigned attempts;		/* END */
};

static void view_event_free(struct view_event *e)
{
	free(e->line);
	free(e->reason);
	free(e->tests);
	free(e->tests_failed);
	free(e);
}

/* --- the view's thread: drawing ------------------------------------------ */

/* One of vmtest's own lines, to the log and shown up to -v. */
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

static void view_target_free(struct view_target *t)
{
	if (!t)
		return;
	if (t->rec.console_fd >= 0)
		close(t->rec.console_fd);
	if (t->rec.output_fd >= 0)
		close(t->rec.output_fd);
	free(t->rec.reason);
	free(t->rec.tests);
	free(t->rec.tests_failed);
	free(t->rec.tests_progress);
	free(t->window);
	free(t->window_len);
	free(t->name);
	free(t);
}

/* Take t off the running targets; nothing if it is not there. */
static void view_unlist(struct view_target **list, size_t *n, struct view_target *t)
{
	for (size_t i = 0; i < *n; i++)
		if (list[i] == t) {
			memmove(list + i, list + i + 1, (*n - i - 1) * sizeof(*list));
			(*n)--;
			return;
		}
}

/* t onto a list that grows; false when out of memory. */
static bool view_list_add(struct view_target ***list, size_t *n, size_t *cap,
			  struct view_target *t)
{
	if (*n == *cap) {
		size_t more = *cap ? 2 * *cap : 8;
		struct view_target **grown = realloc(*list, more * sizeof(**list));

		if (!grown)
			return false;
		*list = grown;
		*cap = more;
	}
	(*list)[(*n)++] = t;
	return true;
}

static void view_draw_begin(struct view *v, struct view_target *t)
{
	char line[1024];

	if (!view_list_add(&v->targets, &v->n_targets, &v->cap_targets, t))
		return; /* out of memory: the view shows less, nothing else is at stake */
	if (!view_list_add(&v->active, &v->n_active, &v->cap_active, t))
		return;
	snprintf(line, sizeof(line), "=> %s", t->name);
	view_plain_line(t, line);
	view_log_write(v, t, NULL, "started", 7);
	view_live_redraw(v);
}

static void view_draw_stage(struct view *v, struct view_target *t, const struct view_event *e)
{
	char line[64];

	t->rec.stage = e->stage;
	t->rec.stage_start_ms = e->since;
	snprintf(line, sizeof(line), "===> %s", record_stage_name(e->stage));
	view_plain_line(t, line);
	if (v->o.live && e->stage == RECORD_STAGE_COMMAND && v->o.oneliner) {
		/* The command's output goes to the terminal itself, whole. */
		struct view_text text = { 0 };

		view_live_erase(v, &text);
		view_text_addf(&text, "=> %s\n%s\n", t->name, line);
		view_text_add(&text, CURSOR_SHOW, strlen(CURSOR_SHOW));
		v->cursor_hidden = false;
		view_text_flush(&text, v->o.fd);
		t->direct = true;
	} else if (e->stage == RECORD_STAGE_COMMAND) {
		/* From now on the window shows the command's output. */
		t->window_tail = (struct view_tail){ .fd = t->rec.output_fd };
		t->window_head = t->window_count = 0;
	}
	view_live_redraw(v);
}

static void view_draw_end(struct view *v, struct view_target *t, struct view_event *e)
{
	struct view_text text = { 0 };
	const char *verdict;

	t->rec.stage = e->stage;
	t->rec.outcome = e->outcome;
	t->rec.total_ms = e->total_ms;
	t->rec.reason = TAKE_PTR(e->reason);
	t->rec.tests = TAKE_PTR(e->tests);
	t->rec.tests_failed = TAKE_PTR(e->tests_failed);
	t->rec.flaky = e->flaky;
	t->rec.attempts = e->attempts;
	verdict = e->outcome == RECORD_PASSED ? "PASS"
		  : view_text_reason(t) ? view_text_reason(t) : "FAILED";
	view_text_tail_finish(&t->log_tails[0], view_log_spool_line, t, 0);
	view_text_tail_finish(&t->log_tails[1], view_log_spool_line, t, 1);
	view_log_write(v, t, NULL, verdict, strlen(verdict));
	if (e->outcome == RECORD_PASSED)
		v->passed++;
	else
		v->failed++;
	v->flaky += e->flaky;
	/* Off the live area first, so that what follows is printed once. */
	view_unlist(v->active, &v->n_active, t);
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
}

/* An interrupted target leaves the live area all the same. */
static void view_draw_forget(struct view *v, struct view_target *t)
{
	view_unlist(v->active, &v->n_active, t);
	view_unlist(v->targets, &v->n_targets, t);
	view_target_free(t);
	view_live_redraw(v);
}

static void view_draw_summary(struct view *v)
{
	struct view_text text = { 0 };
	char took[32], flaky[32] = "";

	view_text_duration(clock_now_ms() - v->run_start, took, sizeof(took));
	if (v->flaky)
		snprintf(flaky, sizeof(flaky), " (%u flaky)", v->flaky);
	if (v->o.live)
		view_text_addf(&text, "%s%u passed%s%s, %s%u failed%s in %s\n",
			       v->passed ? view_text_sgr(v, SGR_GREEN) : "", v->passed,
			       view_text_sgr(v, SGR_RESET), flaky,
			       v->failed ? view_text_sgr(v, SGR_RED) : "", v->failed,
			       view_text_sgr(v, SGR_RESET), took);
	view_text_flush(&text, v->o.fd);
	if (v->log_fd >= 0)
		view_log_printf(v, "[%9.3f] vmtest: %u passed%s, %u failed\n",
				(double)(clock_now_ms() - v->run_start) / 1000, v->passed, flaky,
				v->failed);
}

static void view_draw(struct view *v, struct view_event *e)
{
	switch (e->kind) {
	case VIEW_EVENT_BEGIN:
		view_draw_begin(v, e->t);
		break;
	case VIEW_EVENT_STAGE:
		view_draw_stage(v, e->t, e);
		break;
	case VIEW_EVENT_LOG:
		view_say(v, e->t, e->level, e->line);
		break;
	case VIEW_EVENT_PROGRESS:
		free(e->t->rec.tests_progress);
		e->t->rec.tests_progress = TAKE_PTR(e->line);
		break;
	case VIEW_EVENT_END:
		view_draw_end(v, e->t, e);
		break;
	case VIEW_EVENT_FORGET:
		view_draw_forget(v, e->t);
		break;
	case VIEW_EVENT_SUMMARY:
	default:
		view_draw_summary(v);
		break;
	}
}

/* Wait for events, or a tick; draw each, in order; at the end, the rest. */
static void *view_thread(void *arg)
{
	struct view *v = arg;
	int64_t next_tick = clock_now_ms() + VIEW_TICK_MS;

	pthread_mutex_lock(&v->lock);
	for (;;) {
		struct view_event *batch;

		while (!v->head && !v->stopping && clock_now_ms() < next_tick) {
			struct timespec ts;

			clock_gettime(CLOCK_MONOTONIC, &ts);
			ts.tv_nsec += VIEW_TICK_MS * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&v->wake, &v->lock, &ts);
		}
		if (!v->head && v->stopping)
			break;
		batch = v->head;
		v->head = v->tail = NULL;
		pthread_mutex_unlock(&v->lock);
		while (batch) {
			struct view_event *e = batch;

			batch = e->next;
			view_draw(v, e);
			pthread_mutex_lock(&v->lock);
			v->done_seq = e->seq;
			pthread_cond_broadcast(&v->done);
			pthread_mutex_unlock(&v->lock);
			view_event_free(e);
		}
		if (clock_now_ms() >= next_tick) {
			view_tick(v);
			next_tick = clock_now_ms() + VIEW_TICK_MS;
		}
		pthread_mutex_lock(&v->lock);
	}
	pthread_mutex_unlock(&v->lock);
	return NULL;
}

/* --- the targets' threads: queueing -------------------------------------- */

/* Queue e (taken); its number, for view_sync.  Out of memory: nothing. */
static uint64_t view_queue(struct view *v, struct view_event *e)
{
	uint64_t seq;

	if (!e)
		return 0;
	pthread_mutex_lock(&v->lock);
	seq = e->seq = ++v->queued;
	if (v->tail)
		v->tail->next = e;
	else
		v->head = e;
	v->tail = e;
	pthread_cond_signal(&v->wake);
	pthread_mutex_unlock(&v->lock);
	return seq;
}

/* Until the view has drawn event seq (or has stopped drawing). */
static void view_sync(struct view *v, uint64_t seq)
{
	pthread_mutex_lock(&v->lock);
	while (seq && v->done_seq < seq && v->thread_started)
		pthread_cond_wait(&v->done, &v->lock);
	pthread_mutex_unlock(&v->lock);
}

static struct view_event *view_event_new(enum view_event_kind kind, struct view_target *t)
{
	struct view_event *e = calloc(1, sizeof(*e));

	if (e) {
		e->kind = kind;
		e->t = t;
	}
	return e;
}

/* The view's part of the target whose record is r; NULL if none. */
static struct view_target *view_find(struct view *v, const struct record *r)
{
	struct view_target *t = NULL;

	pthread_mutex_lock(&v->lock);
	for (size_t i = 0; i < v->n_known && !t; i++)
		if (v->known[i]->key == r)
			t = v->known[i];
	pthread_mutex_unlock(&v->lock);
	return t;
}

/* The view's own descriptor of a spool: the record closes its own. */
static int view_dup(int fd)
{
	return fd >= 0 ? fcntl(fd, F_DUPFD_CLOEXEC, 3) : -1;
}

/* A target starts (several may run at once). */
static void view_on_begin(void *data, const struct record *r)
{
	struct view *v = data;
	struct view_target *t = calloc(1, sizeof(*t));
	bool listed;

	if (!t)
		return; /* out of memory: the view shows less, nothing else is at stake */
	t->view = v;
	t->key = r;
	t->rec = (struct view_record){ .console_fd = view_dup(r->console_fd),
				       .output_fd = view_dup(r->output_fd),
				       .stage = r->stage, .stage_start_ms = r->stage_start_ms };
	/* A name is the user's text, shown in CI logs that render escapes:
	 * plain mode, the log and --prefix show it sanitized, as the live view does. */
	t->name = sanitize_line(r->name, strlen(r->name), &(struct sanitize_options){ 0 }, NULL);
	t->window = calloc(v->o.window, sizeof(*t->window));
	t->window_len = calloc(v->o.window, sizeof(*t->window_len));
	if (!t->name || !t->window || !t->window_len) {
		view_target_free(t);
		return;
	}
	t->window_tail = (struct view_tail){ .fd = t->rec.console_fd };
	t->log_tails[0] = (struct view_tail){ .fd = t->rec.console_fd };
	t->log_tails[1] = (struct view_tail){ .fd = t->rec.output_fd };
	t->prefix_tail = (struct view_tail){ .fd = t->rec.output_fd };
	pthread_mutex_lock(&v->lock);
	listed = view_list_add(&v->known, &v->n_known, &v->cap_known, t);
	pthread_mutex_unlock(&v->lock);
	if (!listed) {
		view_target_free(t);
		return;
	}
	view_queue(v, view_event_new(VIEW_EVENT_BEGIN, t));
}

/*
 * Whether a target's command writes to the view's stream itself: a
 * one-liner's, or a config's one target at a time in the plain format
 * (scheduler.c gives those the terminal).
 */
static bool view_output_is_direct(const struct view *v)
{
	return v->o.oneliner || (!v->o.live && !v->o.whole_blocks && !v->o.prefix);
}

/* Drawn with the next tick: the count is a number, not a line to print. */
static void view_on_progress(void *data, const struct record *r, const char *tests)
{
	struct view *v = data;
	struct view_target *t = view_find(v, r);
	struct view_event *e;

	if (!t || !v->o.live)
		return;
	e = view_event_new(VIEW_EVENT_PROGRESS, t);
	if (!e)
		return;
	e->line = strdup(tests);
	view_queue(v, e);
}

static void view_on_stage(void *data, const struct record *r)
{
	struct view *v = data;
	struct view_target *t = view_find(v, r);
	struct view_event *e;
	uint64_t seq;

	if (!t)
		return;
	e = view_event_new(VIEW_EVENT_STAGE, t);
	if (!e)
		return;
	e->stage = r->stage;
	e->since = r->stage_start_ms;
	seq = view_queue(v, e);
	/* "Running command" before the command's first byte. */
	if (r->stage == RECORD_STAGE_COMMAND && view_output_is_direct(v))
		view_sync(v, seq);
}

static void view_on_log(void *data, const struct record *r, int level, const char *line)
{
	struct view *v = data;
	struct view_event *e = view_event_new(VIEW_EVENT_LOG, view_find(v, r));

	if (!e)
		return;
	e->level = level;
	e->line = strdup(line);
	if (!e->line) {
		view_event_free(e);
		return;
	}
	view_queue(v, e);
}

/* Lines of guest text, each made safe for the terminal (sanitize.h). */
static char *view_sanitize_lines(const char *text)
{
	struct view_text out = { 0 };

	for (const char *line = text; *line;) {
		size_t n = strcspn(line, "\n");
		_cleanup_free_ char *clean = sanitize_line(line, n, &(struct sanitize_options){ 0 },
							   NULL);

		if (clean) {
			view_text_add(&out, clean, strlen(clean));
			view_text_add(&out, "\n", 1);
		}
		line += n + (line[n] == '\n');
	}
	if (!out.p)
		return strdup("");
	return out.p;
}

/* "failed: PATH" or "not run: PATH", a line each, the first few. */
static char *view_failed_tests(const struct results *r)
{
	struct view_text out = { 0 };
	size_t shown = 0, more = 0;

	for (size_t i = 0; i < r->n_tests; i++) {
		const struct test_result *t = &r->tests[i];

		if (!results_reported(r, i) || !test_status_fails(t->status))
			continue;
		if (shown++ == VIEW_FAILED_TESTS_MAX) {
			more++;
			shown--;
			continue;
		}
		view_text_addf(&out, "%s: %s\n", t->status == TEST_NOT_RUN ? "not run" : "failed",
			       t->path ? t->path : t->name);
	}
	if (more)
		view_text_addf(&out, "... and %zu more\n", more);
	return out.p;
}

static void view_on_end(void *data, const struct record *r)
{
	struct view *v = data;
	struct view_target *t = view_find(v, r);
	struct view_event *e;

	if (!t)
		return;
	e = view_event_new(VIEW_EVENT_END, t);
	if (!e)
		return;
	e->stage = r->stage;
	e->outcome = r->outcome;
	e->total_ms = r->total_ms;
	e->reason = r->reason[0] ? strdup(r->reason) : NULL;
	e->flaky = r->flaky;
	e->attempts = r->attempts;
	if (r->results) {
		char summary[256];
		_cleanup_free_ char *failed = view_failed_tests(r->results);

		results_summary(r->results, summary, sizeof(summary));
		e->tests = strdup(summary);
		e->tests_failed = failed ? view_sanitize_lines(failed) : NULL;
	}
	view_queue(v, e);
}

/* The record goes: the view's thread frees its part once it is drawn. */
static void view_on_forget(void *data, const struct record *r)
{
	struct view *v = data;
	struct view_target *t = view_find(v, r);

	if (!t)
		return;
	pthread_mutex_lock(&v->lock);
	view_unlist(v->known, &v->n_known, t);
	pthread_mutex_unlock(&v->lock);
	view_queue(v, view_event_new(VIEW_EVENT_FORGET, t));
}

void view_observe(struct view *v, struct record_observer *ret)
{
	*ret = (struct record_observer){
		.begin = view_on_begin,
		.stage = view_on_stage,
		.progress = view_on_progress,
		.log = view_on_log,
		.end = view_on_end,
		.forget = view_on_forget,
		.data = v,
	};
}

void view_log(struct view *v, int level, const char *fmt, ...)
{
	struct view_event *e = view_event_new(VIEW_EVENT_LOG, NULL);
	va_list ap;
	int n;

	if (!e)
		return;
	va_start(ap, fmt);
	n = vasprintf(&e->line, fmt, ap);
	va_end(ap);
	if (n < 0) {
		e->line = NULL;
		view_event_free(e);
		return;
	}
	e->level = level;
	view_queue(v, e);
}

void view_summary(struct view *v)
{
	view_queue(v, view_event_new(VIEW_EVENT_SUMMARY, NULL));
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
	pthread_cond_init(&v->done, NULL);
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
	r = -pthread_create(&v->thread, NULL, view_thread, v);
	if (r < 0) {
		error_set_errno(err, -r, "start the view's thread");
		view_free(v);
		return r;
	}
	v->thread_started = true;
	*ret = v;
	return 0;
}

/* Everything queued is drawn first, so nothing a target said is lost. */
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
		struct view_text text = { 0 };

		view_text_add(&text, SGR_RESET CURSOR_SHOW, strlen(SGR_RESET CURSOR_SHOW));
		view_text_flush(&text, v->o.fd);
	}
	if (v->log_fd >= 0)
		close(v->log_fd);
	for (struct view_event *e = v->head, *next; e; e = next) {
		next = e->next;
		view_event_free(e);
	}
	pthread_cond_destroy(&v->wake);
	pthread_cond_destroy(&v->done);
	pthread_mutex_destroy(&v->lock);
	/* Those drawn and not forgotten, and those told of but never drawn. */
	for (size_t i = 0; i < v->n_targets; i++) {
		view_unlist(v->known, &v->n_known, v->targets[i]);
		view_target_free(v->targets[i]);
	}
	for (size_t i = 0; i < v->n_known; i++)
		view_target_free(v->known[i]);
	free(v->known);
	free(v->targets);
	free(v->active);
	free(v);
	return NULL;
}
