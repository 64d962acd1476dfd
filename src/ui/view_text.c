// SPDX-License-Identifier: MIT
/*
 * view_text: what the view's writers share: text put together for one
 * write, spools read line by line or shown whole, colour when allowed.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "io.h"
#include "ui/sanitize.h"
#include "ui/view_internal.h"
#include "vm/interrupt.h"
#include "vm/output.h"

void view_text_add(struct view_text *t, const char *s, size_t n)
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

void view_text_vaddf(struct view_text *t, const char *fmt, va_list ap)
{
	char *s = NULL;
	int n = vasprintf(&s, fmt, ap);

	if (n >= 0)
		view_text_add(t, s, (size_t)n);
	free(s);
}

void view_text_addf(struct view_text *t, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	view_text_vaddf(t, fmt, ap);
	va_end(ap);
}

/*
 * A stream that refuses the view's text (a full disk, a terminal gone)
 * stops the run, as a failed --log does: a host command whose output
 * cannot be written ends.  A closed pipe is SIGPIPE's, which ends it too.
 */
void view_text_flush(struct view_text *t, int fd)
{
	int r = t->len ? io_write_all(fd, t->p, t->len) : 0;
	char name[32];

	if (r < 0 && !(r == -EPIPE && interrupt_signal() == SIGPIPE))
		interrupt_fail("cannot write %s: %s", output_stream_name(fd, name, sizeof(name)),
			       strerror(-r));
	free(t->p);
	*t = (struct view_text){ 0 };
}

/* An SGR sequence when colour is allowed, else nothing. */
const char *view_text_sgr(const struct view *v, const char *sgr)
{
	return v->o.color ? sgr : "";
}

/* "4.2s", "1m 3s" */
void view_text_duration(int64_t ms, char *buf, size_t size)
{
	if (ms < 60000)
		snprintf(buf, size, "%.1fs", (double)ms / 1000);
	else
		snprintf(buf, size, "%lldm %llds", (long long)(ms / 60000),
			 (long long)(ms / 1000 % 60));
}

/*
 * Read what was added to the tail's spool; call fn for each whole line
 * (cut at VIEW_LINE_MAX bytes).  The last, unfinished line stays in part.
 */
void view_text_tail_read(struct view_tail *tail, view_line_fn fn, struct view_target *t,
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
void view_text_tail_finish(struct view_tail *tail, view_line_fn fn, struct view_target *t,
			   int which)
{
	view_text_tail_read(tail, fn, t, which);
	if (tail->len) {
		fn(t, tail->part, tail->len, which);
		tail->len = 0;
	}
}

/*
 * A spool's content, or its last max bytes from a line start.  Sanitized
 * line by line for a terminal (not cut: the terminal wraps), else as is.
 */
void view_text_spool(struct view *v, struct view_text *text, int fd, size_t max,
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

/* The reason a target failed, as the view shows it; NULL when it passed. */
const char *view_text_reason(const struct view_target *t)
{
	return t->rec.reason && t->rec.reason[0] ? t->rec.reason : NULL;
}

void view_text_tests(const struct view_target *t, struct view_text *text)
{
	const struct view_record *r = &t->rec;

	if (r->tests)
		view_text_addf(text, "Tests: %s\n", r->tests);
	for (const char *line = r->tests_failed; line && *line;) {
		size_t n = strcspn(line, "\n");

		view_text_addf(text, "  %.*s\n", (int)n, line);
		line += n + (line[n] == '\n');
	}
	if (r->flaky)
		view_text_addf(text, "Flaky: it failed, then passed on attempt %u\n", r->attempts);
}
