// SPDX-License-Identifier: MIT
#include "results/results.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <errno.h>
#include <pcre2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "base/utf8.h"
#include "results/results_internal.h"

struct results_parser {
	const struct results_parser_ops *ops;
	void *state;
	/* The line being read, per stream: cut at RESULTS_LINE_MAX. */
	char *line[2];
	size_t line_len[2];
	bool line_cut[2];
	int64_t line_start_us[2];	/* when its first byte came */
};

static const char *const test_status_names[] = {
	[TEST_PASSED] = "passed",
	[TEST_FAILED] = "failed",
	[TEST_SKIPPED] = "skipped",
	[TEST_TODO] = "todo",
	[TEST_NOT_RUN] = "not run",
	[TEST_EXPECTED_FAILURE] = "expected failure",
	[TEST_FIXED] = "fixed",
	[TEST_FLAKY] = "flaky",
	[TEST_RUNNING] = "running",
};

const char *test_status_name(enum test_status status)
{
	return (size_t)status < ARRAY_SIZE(test_status_names) ? test_status_names[status] : "?";
}

bool test_status_fails(enum test_status status)
{
	return status == TEST_FAILED || status == TEST_NOT_RUN || status == TEST_RUNNING;
}

/*
 * Control characters (C0, DEL, C1) in a name or a reason made '?': they
 * are printed among vmtest's own words (a target's reason, CI logs), where
 * an escape sequence from the guest must never reach a terminal.
 */
static void results_no_controls(char *s)
{
	unsigned char *p = (unsigned char *)s;

	for (; p && *p; p++) {
		if (*p < 0x20 || *p == 0x7f)
			*p = '?';
		else if (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
			p[0] = '?', p[1] = '?';
	}
}

/* --- the model ----------------------------------------------------------- */

int results_new(enum vm_results format, struct results **ret)
{
	struct results *r = calloc(1, sizeof(*r));
	struct results_parser *p = calloc(1, sizeof(*p));

	*ret = NULL;
	if (!r || !p) {
		free(r);
		free(p);
		return -ENOMEM;
	}
	r->format = format;
	r->parser = p;
	p->ops = format == VM_RESULTS_GOTEST_JSON ? &results_gotest_ops : &results_tap_ops;
	p->state = p->ops->new_state();
	p->line[0] = malloc(RESULTS_LINE_MAX + 1);
	p->line[1] = malloc(RESULTS_LINE_MAX + 1);
	if (!p->state || !p->line[0] || !p->line[1]) {
		results_free(r);
		return -ENOMEM;
	}
	*ret = r;
	return 0;
}

static void results_parser_free(struct results_parser *p)
{
	if (!p)
		return;
	if (p->state)
		p->ops->free_state(p->state);
	free(p->line[0]);
	free(p->line[1]);
	free(p);
}

struct results *results_free(struct results *r)
{
	if (!r)
		return NULL;
	for (size_t i = 0; i < r->n_tests; i++) {
		free(r->tests[i].name);
		free(r->tests[i].path);
		free(r->tests[i].detail);
		free(r->tests[i].output);
	}
	free(r->tests);
	free(r->problem);
	results_parser_free(r->parser);
	free(r);
	return NULL;
}

char *results_strndup(const char *s, size_t len)
{
	char *copy = len ? strndup(s, len) : NULL;

	results_no_controls(copy);
	return copy;
}

void results_problem(struct results *r, const char *fmt, ...)
{
	va_list ap;

	if (r->problem)
		return;
	va_start(ap, fmt);
	if (vasprintf(&r->problem, fmt, ap) < 0)
		r->problem = NULL;
	va_end(ap);
	results_no_controls(r->problem);
}

ssize_t results_add(struct results *r, const char *name, size_t name_len, ssize_t parent,
		    unsigned depth)
{
	struct test_result *t;

	if (r->n_tests >= RESULTS_MAX_TESTS) {
		results_problem(r, "more than %d tests: the rest are not reported", RESULTS_MAX_TESTS);
		return -1;
	}
	if (r->n_tests == r->cap_tests) {
		size_t cap = r->cap_tests ? r->cap_tests * 2 : 64;
		struct test_result *grown = realloc(r->tests, cap * sizeof(*grown));

		if (!grown)
			return -1;
		r->tests = grown;
		r->cap_tests = cap;
	}
	t = &r->tests[r->n_tests];
	*t = (struct test_result){ .parent = parent, .depth = depth, .time_us = -1,
				   .status = TEST_RUNNING, .attempts = 1 };
	t->name = strndup(name, name_len);
	if (!t->name)
		return -1;
	results_no_controls(t->name);
	r->saw_results = true;
	r->n_tests++;
	if (parent >= 0)
		results_set_parent(r, (size_t)parent);
	return (ssize_t)r->n_tests - 1;
}

/* The live count's counter of an ended test's status; NULL while it runs. */
static size_t *results_counter(struct results *r, enum test_status status)
{
	switch (status) {
	case TEST_RUNNING: return NULL;
	case TEST_FAILED:
	case TEST_NOT_RUN: return &r->ended_failed;
	case TEST_SKIPPED:
	case TEST_TODO: return &r->ended_skipped;
	case TEST_PASSED:
	case TEST_EXPECTED_FAILURE:
	case TEST_FIXED:
	case TEST_FLAKY:
	default: return &r->ended_ok;
	}
}

void results_set_status(struct results *r, size_t i, enum test_status status)
{
	struct test_result *t = &r->tests[i];
	size_t *was = results_counter(r, t->status), *now = results_counter(r, status);

	if (!t->has_children && was && *was)
		(*was)--;
	if (!t->has_children && now)
		(*now)++;
	t->status = status;
}

void results_set_parent(struct results *r, size_t i)
{
	struct test_result *t = &r->tests[i];
	size_t *was = results_counter(r, t->status);

	if (!t->has_children && was && *was)
		(*was)--;
	t->has_children = true;
}

/* Append to a bounded buffer, keeping its end; whether anything was dropped. */
static bool results_tail_add(char **text, size_t *text_len, const char *add, size_t len,
			     size_t max)
{
	size_t keep, drop = 0;
	char *grown;

	if (len >= max) {
		add += len - max;
		len = max;
		drop = *text_len;
	} else if (*text_len + len > max) {
		drop = *text_len + len - max;
	}
	keep = *text_len - drop;
	if (drop)
		memmove(*text, *text + drop, keep);
	grown = realloc(*text, keep + len + 1);
	if (!grown)
		return true;
	memcpy(grown + keep, add, len);
	grown[keep + len] = '\0';
	*text = grown;
	*text_len = keep + len;
	return drop > 0;
}

void results_output_add(struct results *r, struct test_result *t, const char *text, size_t len)
{
	size_t before = t->output_len;

	if (!len)
		return;
	if (r->output_total >= RESULTS_OUTPUT_TOTAL) {
		t->output_cut = true;
		return;
	}
	if (results_tail_add(&t->output, &t->output_len, text, len, RESULTS_OUTPUT_MAX))
		t->output_cut = true;
	r->output_total += t->output_len > before ? t->output_len - before : 0;
}

void results_pending_add(struct results_pending *p, const char *text, size_t len)
{
	if (results_tail_add(&p->text, &p->len, text, len, RESULTS_OUTPUT_MAX))
		p->cut = true;
}

void results_pending_give(struct results *r, struct results_pending *p, struct test_result *t)
{
	if (p->len)
		results_output_add(r, t, p->text, p->len);
	t->output_cut |= p->cut;
	results_pending_clear(p);
}

void results_pending_clear(struct results_pending *p)
{
	free(p->text);
	*p = (struct results_pending){ 0 };
}

/* --- feeding ------------------------------------------------------------- */

/* The line made valid UTF-8 in place (a bad byte is '?', NUL too), '\r' at its end dropped. */
static size_t results_clean_line(char *line, size_t len)
{
	unsigned char *s = (unsigned char *)line;

	if (len && line[len - 1] == '\r')
		len--;
	for (size_t i = 0; i < len;) {
		uint32_t c;
		int k = s[i] ? utf8_decode(s + i, len - i, &c) : 0;

		if (k <= 0) {
			s[i++] = '?';
			continue;
		}
		i += (size_t)k;
	}
	line[len] = '\0';
	return len;
}

static void results_line_done(struct results *r, int stream, int64_t now_us)
{
	struct results_parser *p = r->parser;
	int i = stream == 2;
	size_t len = results_clean_line(p->line[i], p->line_len[i]);

	/* A line cut short is no test line: only output. */
	if (p->line_cut[i] && stream == 1)
		stream = 2;
	p->ops->line(r, p->state, stream, p->line[i], len, now_us);
	p->line_len[i] = 0;
	p->line_cut[i] = false;
}

void results_feed(struct results *r, int stream, const char *buf, size_t len, int64_t now_us)
{
	struct results_parser *p;
	int i = stream == 2;

	if (!r || r->finished)
		return;
	p = r->parser;
	while (len) {
		const char *nl = memchr(buf, '\n', len);
		size_t n = nl ? (size_t)(nl - buf) : len;
		size_t room = RESULTS_LINE_MAX - p->line_len[i];
		size_t take = n < room ? n : room;

		memcpy(p->line[i] + p->line_len[i], buf, take);
		p->line_len[i] += take;
		if (take < n)
			p->line_cut[i] = true;
		if (!nl)
			break;
		results_line_done(r, stream == 2 ? 2 : 1, now_us);
		buf = nl + 1;
		len -= n + 1;
	}
}

void results_feed_kmsg(struct results *r, const char *log, size_t len)
{
	const char *end = log + len;

	while (log < end) {
		const char *nl = memchr(log, '\n', (size_t)(end - log));
		const char *line_end = nl ? nl : end;
		const char *semi = memchr(log, ';', (size_t)(line_end - log));
		unsigned long long usec = 0;
		int fields = 0;

		/* "PRIO,SEQ,USEC,FLAGS;TEXT"; dictionary lines start with a space. */
		if (semi && log[0] != ' ') {
			const char *p = log;

			for (; p < semi && fields < 3; p++) {
				if (*p == ',') {
					fields++;
					continue;
				}
				if (fields == 2 && *p >= '0' && *p <= '9')
					usec = usec * 10 + (unsigned)(*p - '0');
			}
			if (fields >= 2) {
				results_feed(r, 1, semi + 1, (size_t)(line_end - semi - 1),
					     (int64_t)usec);
				results_feed(r, 1, "\n", 1, (int64_t)usec);
			}
		}
		log = nl ? nl + 1 : end;
	}
}

/* --- the end ------------------------------------------------------------- */

static void results_mark(struct results *r);

static char *results_join_path(const struct results *r, size_t i)
{
	const struct test_result *t = &r->tests[i];
	const char *parent = t->parent >= 0 ? r->tests[t->parent].path : NULL;
	char *path = NULL;

	if (!parent || !*parent)
		return strdup(t->name);
	if (asprintf(&path, "%s/%s", parent, t->name) < 0)
		return NULL;
	return path;
}

void results_finish(struct results *r)
{
	struct results_parser *p;

	if (!r || r->finished)
		return;
	p = r->parser;
	if (p->line_len[1])
		results_line_done(r, 2, -1);
	if (p->line_len[0])
		results_line_done(r, 1, -1);
	p->ops->finish(r, p->state);
	/* Parents come before or after their children: paths in two passes. */
	for (bool more = true; more;) {
		more = false;
		for (size_t i = 0; i < r->n_tests; i++) {
			struct test_result *t = &r->tests[i];

			if (t->path || (t->parent >= 0 && !r->tests[t->parent].path)) {
				more |= !t->path;
				continue;
			}
			t->path = results_join_path(r, i);
			if (!t->path)
				t->path = strdup("?");
		}
	}
	for (size_t i = 0; i < r->n_tests; i++)
		if (r->tests[i].status == TEST_RUNNING)
			r->tests[i].status = TEST_FAILED;
	if (!r->saw_results && r->format != VM_RESULTS_NONE)
		results_problem(r, "no test results in %s (vm.results = \"%s\")",
				r->format == VM_RESULTS_KUNIT ? "the kernel's log" : "the command's output",
				vm_results_name(r->format));
	results_mark(r);
	r->finished = true;
}

/* --- reading them -------------------------------------------------------- */

/*
 * Each test's child_fails: whether a test below it, at any depth, fails
 * its target.  Again after anything changes a status.
 */
static void results_mark(struct results *r)
{
	for (size_t i = 0; i < r->n_tests; i++)
		r->tests[i].child_fails = false;
	for (size_t i = 0; i < r->n_tests; i++) {
		if (!test_status_fails(r->tests[i].status))
			continue;
		for (ssize_t up = r->tests[i].parent; up >= 0 && !r->tests[up].child_fails;
		     up = r->tests[up].parent)
			r->tests[up].child_fails = true;
	}
}

bool results_reported(const struct results *r, size_t i)
{
	const struct test_result *t = &r->tests[i];

	if (!t->has_children)
		return true;
	return test_status_fails(t->status) && !t->child_fails;
}

void results_count(const struct results *r, struct results_counts *c)
{
	*c = (struct results_counts){ 0 };
	for (size_t i = 0; r && i < r->n_tests; i++) {
		if (!results_reported(r, i))
			continue;
		c->total++;
		switch (r->tests[i].status) {
		case TEST_PASSED: c->passed++; break;
		case TEST_RUNNING:
		case TEST_FAILED: c->failed++; break;
		case TEST_SKIPPED: c->skipped++; break;
		case TEST_TODO: c->todo++; break;
		case TEST_NOT_RUN: c->not_run++; break;
		case TEST_EXPECTED_FAILURE: c->expected++; break;
		case TEST_FIXED: c->fixed++; break;
		case TEST_FLAKY: c->flaky++; break;
		default: break;
		}
	}
}

bool results_failed(const struct results *r)
{
	struct results_counts c;

	if (!r)
		return false;
	results_count(r, &c);
	return c.failed || c.not_run || !r->saw_results;
}

void results_summary(const struct results *r, char *buf, size_t len)
{
	struct results_counts c;
	const struct {
		size_t n;
		const char *what;
	} parts[] = {
		{ 0, "failed" }, { 0, "not run" }, { 0, "flaky" }, { 0, "skipped" }, { 0, "todo" },
		{ 0, "expected failures" }, { 0, "fixed" },
	};
	size_t counts[ARRAY_SIZE(parts)], at;

	results_count(r, &c);
	counts[0] = c.failed, counts[1] = c.not_run, counts[2] = c.flaky, counts[3] = c.skipped;
	counts[4] = c.todo, counts[5] = c.expected, counts[6] = c.fixed;
	at = (size_t)snprintf(buf, len, "%zu/%zu ok", c.passed + c.flaky + c.fixed, c.total);
	for (size_t i = 0; i < ARRAY_SIZE(parts) && at < len; i++)
		if (counts[i])
			at += (size_t)snprintf(buf + at, len - at, ", %zu %s", counts[i],
					       counts[i] == 1 && i == 5 ? "expected failure"
									: parts[i].what);
}

void results_progress(const struct results *r, char *buf, size_t len, size_t *ret_ended)
{
	size_t at;

	*ret_ended = r->ended_ok + r->ended_failed + r->ended_skipped;
	at = (size_t)snprintf(buf, len, "%zu ok", r->ended_ok);
	if (r->ended_failed && at < len)
		at += (size_t)snprintf(buf + at, len - at, ", %zu failed", r->ended_failed);
	if (r->ended_skipped && at < len)
		snprintf(buf + at, len - at, ", %zu skipped", r->ended_skipped);
}

char *results_failed_paths(const struct results *r, size_t max)
{
	struct {
		char *p;
		size_t len, cap;
	} out = { 0 };
	size_t shown = 0, more = 0;
	char tail[64];

	for (size_t i = 0; r && i < r->n_tests; i++) {
		const char *path = r->tests[i].path ? r->tests[i].path : "?";
		size_t n = strlen(path);

		if (!results_reported(r, i) || !test_status_fails(r->tests[i].status))
			continue;
		if (shown == max) {
			more++;
			continue;
		}
		if (out.len + n + 2 > out.cap) {
			size_t cap = (out.len + n + 2) * 2;
			char *grown = realloc(out.p, cap);

			if (!grown)
				break;
			out.p = grown;
			out.cap = cap;
		}
		memcpy(out.p + out.len, path, n);
		out.p[out.len + n] = '\n';
		out.len += n + 1;
		out.p[out.len] = '\0';
		shown++;
	}
	if (!out.p)
		return strdup(more ? "" : "");
	if (more) {
		char *grown = NULL;

		snprintf(tail, sizeof(tail), "... and %zu more\n", more);
		if (asprintf(&grown, "%s%s", out.p, tail) < 0)
			grown = NULL;
		free(out.p);
		return grown;
	}
	return out.p;
}

/* FNV-1a, for the index of paths. */
static size_t results_hash(const char *s)
{
	size_t h = 14695981039346656037ULL;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return h;
}

/* An index of the tests by path (open addressing; -1 empty), for lookups in bulk. */
struct results_index {
	ssize_t *slots;
	size_t n_slots;
};

static int results_index_build(const struct results *r, struct results_index *ix)
{
	ix->n_slots = 16;
	while (ix->n_slots < r->n_tests * 2)
		ix->n_slots *= 2;
	ix->slots = malloc(ix->n_slots * sizeof(*ix->slots));
	if (!ix->slots)
		return -ENOMEM;
	memset(ix->slots, 0xff, ix->n_slots * sizeof(*ix->slots));
	for (size_t i = 0; i < r->n_tests; i++) {
		size_t at;

		if (!r->tests[i].path)
			continue;
		at = results_hash(r->tests[i].path) & (ix->n_slots - 1);
		while (ix->slots[at] >= 0)
			at = (at + 1) & (ix->n_slots - 1);
		ix->slots[at] = (ssize_t)i;
	}
	return 0;
}

static ssize_t results_index_find(const struct results *r, const struct results_index *ix,
				  const char *path)
{
	size_t at = results_hash(path) & (ix->n_slots - 1);

	for (; ix->slots[at] >= 0; at = (at + 1) & (ix->n_slots - 1))
		if (strcmp(r->tests[ix->slots[at]].path, path) == 0)
			return ix->slots[at];
	return -1;
}

ssize_t results_find(const struct results *r, const char *path)
{
	for (size_t i = 0; r && i < r->n_tests; i++)
		if (r->tests[i].path && strcmp(r->tests[i].path, path) == 0)
			return (ssize_t)i;
	return -1;
}

/* --- expected failures and retries ---------------------------------------- */

int results_expect_failures(struct results *r, char *const *patterns)
{
	for (size_t k = 0; patterns && patterns[k]; k++) {
		int code;
		PCRE2_SIZE off;
		pcre2_code *re = pcre2_compile((PCRE2_SPTR)patterns[k], PCRE2_ZERO_TERMINATED,
					       PCRE2_UTF, &code, &off, NULL);
		pcre2_match_data *md = re ? pcre2_match_data_create_from_pattern(re, NULL) : NULL;

		if (!re || !md) {
			pcre2_match_data_free(md);
			pcre2_code_free(re);
			return re ? -ENOMEM : -EINVAL;
		}
		for (size_t i = 0; i < r->n_tests; i++) {
			struct test_result *t = &r->tests[i];

			if (!t->path || !results_reported(r, i) ||
			    (t->status != TEST_FAILED && t->status != TEST_PASSED))
				continue;
			if (pcre2_match(re, (PCRE2_SPTR)t->path, strlen(t->path), 0, 0, md, NULL) < 0)
				continue;
			t->status = t->status == TEST_FAILED ? TEST_EXPECTED_FAILURE : TEST_FIXED;
		}
		pcre2_match_data_free(md);
		pcre2_code_free(re);
	}
	results_mark(r);
	return 0;
}

/* A retry's test taken over whole, under the first run's parent. */
static int results_adopt(struct results *r, const struct test_result *from)
{
	ssize_t i = results_add(r, from->name, strlen(from->name), -1, from->depth);
	struct test_result *t;

	if (i < 0)
		return -ENOMEM;
	t = &r->tests[i];
	t->path = strdup(from->path ? from->path : from->name);
	t->status = from->status;
	t->time_us = from->time_us;
	t->detail = from->detail ? strdup(from->detail) : NULL;
	t->has_children = from->has_children;
	t->attempts = from->attempts + 1;
	if (from->output_len)
		results_output_add(r, t, from->output, from->output_len);
	return t->path ? 0 : -ENOMEM;
}

int results_merge_retry(struct results *r, const struct results *retry)
{
	size_t n = r->n_tests;
	struct results_index ix;

	if (results_index_build(r, &ix) < 0)
		return -ENOMEM;
	for (size_t j = 0; j < retry->n_tests; j++) {
		const struct test_result *again = &retry->tests[j];
		ssize_t i = again->path ? results_index_find(r, &ix, again->path) : -1;
		struct test_result *t;

		if (i < 0 || (size_t)i >= n) {
			/* Not in the first run: a test that never came then, say. */
			if (results_adopt(r, again) < 0) {
				free(ix.slots);
				return -ENOMEM;
			}
			continue;
		}
		t = &r->tests[i];
		if (!test_status_fails(t->status))
			continue;
		t->attempts++;
		if (again->status == TEST_PASSED) {
			t->status = TEST_FLAKY;
			continue;
		}
		if (!test_status_fails(again->status))
			continue;
		/* Failed again: the latest failure is the one to read. */
		t->status = again->status;
		t->time_us = again->time_us;
		free(t->detail);
		t->detail = again->detail ? strdup(again->detail) : NULL;
		free(t->output);
		t->output = NULL;
		t->output_len = 0;
		if (again->output_len)
			results_output_add(r, t, again->output, again->output_len);
	}
	free(ix.slots);
	results_mark(r);
	return 0;
}
