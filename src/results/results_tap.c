// SPDX-License-Identifier: MIT
/*
 * TAP 13 and 14, KTAP, and kselftest's nesting, in one parser.
 *
 * A subtest is a document nested in its parent's, each of its lines
 * behind a longer prefix: indentation (TAP 14, KTAP: four spaces) or
 * "# " (kselftest's runner, which prints a test's own TAP as comments).
 * A line is structural (a version, a plan, a test line, "Bail out!", a
 * "# Subtest:" header) at the longest prefix that leaves a structural
 * body; any other line is output of the test running at the innermost
 * level.  Levels are a stack: a structural line behind a longer prefix
 * opens one, behind a shorter one closes those deeper, and the test line
 * that closes a level is the parent of the tests in it.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cleanup.h"
#include "results/results_internal.h"

#define TAP_MAX_DEPTH 32
#define TAP_MAX_PREFIX 128
/* A plan's tests that never came, one entry each, up to this many. */
#define TAP_MAX_MISSING 1000

struct tap_level {
	char prefix[TAP_MAX_PREFIX];
	size_t prefix_len;
	char *subtest_name;		/* "# Subtest: NAME"; NULL */
	char *next_subtest_name;	/* TAP 14's, said before the subtest it names */
	long plan;			/* 1..plan; -1: none yet */
	unsigned seen;			/* tests at this level */
	unsigned last_number;
	size_t first_test;		/* tests from here on at this depth are its own */
	int64_t last_us;		/* its last event: a test's time starts there */
	ssize_t last_test;		/* for a YAML block after it */
	struct results_pending pending;	/* output not yet a test's */
};

struct tap_state {
	struct tap_level levels[TAP_MAX_DEPTH];
	unsigned depth;			/* levels[0..depth] are open */
	bool bailed;
	bool yaml;			/* in a test's YAML block ("---" ... "...") */
	size_t yaml_prefix_len;
	ssize_t yaml_test;
	int64_t first_us;
};

enum tap_kind {
	TAP_OTHER,
	TAP_VERSION,
	TAP_PLAN,
	TAP_TEST,
	TAP_BAIL,
	TAP_SUBTEST,
	TAP_PRAGMA,
};

static void *tap_new_state(void)
{
	struct tap_state *st = calloc(1, sizeof(*st));

	if (st) {
		st->levels[0].plan = -1;
		st->levels[0].last_test = -1;
		st->levels[0].last_us = -1;
		st->first_us = -1;
	}
	return st;
}

static void tap_level_clear(struct tap_level *l)
{
	free(l->subtest_name);
	free(l->next_subtest_name);
	results_pending_clear(&l->pending);
	*l = (struct tap_level){ .plan = -1, .last_test = -1, .last_us = -1 };
}

static void tap_free_state(void *state)
{
	struct tap_state *st = state;

	for (unsigned k = 0; k < TAP_MAX_DEPTH; k++)
		tap_level_clear(&st->levels[k]);
	free(st);
}

static bool tap_starts(const char *s, size_t len, const char *word)
{
	size_t n = strlen(word);

	return len >= n && memcmp(s, word, n) == 0;
}

/* What a body is: the kind of line it would be at its prefix. */
static enum tap_kind tap_classify(const char *s, size_t len)
{
	if (tap_starts(s, len, "ok") && (len == 2 || s[2] == ' ' || s[2] == '\t'))
		return TAP_TEST;
	if (tap_starts(s, len, "not ok") && (len == 6 || s[6] == ' ' || s[6] == '\t'))
		return TAP_TEST;
	if (tap_starts(s, len, "TAP version ") || tap_starts(s, len, "KTAP version "))
		return TAP_VERSION;
	if (tap_starts(s, len, "1..") && len > 3 && isdigit((unsigned char)s[3]))
		return TAP_PLAN;
	if (tap_starts(s, len, "Bail out!"))
		return TAP_BAIL;
	if (tap_starts(s, len, "pragma "))
		return TAP_PRAGMA;
	return TAP_OTHER;
}

/*
 * Split a line into its prefix and body: the longest run of spaces and
 * "# " whose rest is structural, or no prefix at all for output.  A
 * "# Subtest: NAME" header's "# " is its own, not the prefix's.
 */
static enum tap_kind tap_split(const char *line, size_t len, size_t *ret_prefix)
{
	size_t cuts[TAP_MAX_PREFIX / 2 + 2], n_cuts = 0, at = 0;

	for (;;) {
		while (at < len && at < TAP_MAX_PREFIX && line[at] == ' ')
			at++;
		if (n_cuts < ARRAY_SIZE(cuts))
			cuts[n_cuts++] = at;
		if (at + 1 < len && at + 2 <= TAP_MAX_PREFIX && line[at] == '#' && line[at + 1] == ' ')
			at += 2;
		else
			break;
	}
	while (n_cuts--) {
		size_t c = cuts[n_cuts];
		enum tap_kind kind = tap_classify(line + c, len - c);

		if (kind != TAP_OTHER) {
			*ret_prefix = c;
			return kind;
		}
		if (c >= 2 && line[c - 2] == '#' && tap_starts(line + c, len - c, "Subtest:")) {
			*ret_prefix = c - 2;
			return TAP_SUBTEST;
		}
	}
	*ret_prefix = 0;
	return TAP_OTHER;
}

/* --- levels -------------------------------------------------------------- */

/* The plan's tests that never came, each a test that did not run. */
static void tap_missing(struct results *r, struct tap_level *l, unsigned depth)
{
	unsigned from = l->last_number > l->seen ? l->last_number : l->seen;

	if (l->plan < 0 || (long)l->seen >= l->plan)
		return;
	for (unsigned n = from + 1, made = 0; (long)n <= l->plan; n++, made++) {
		char name[32];
		ssize_t i;

		if (made == TAP_MAX_MISSING) {
			results_problem(r, "%ld more tests of a plan never came", l->plan - (long)n + 1);
			break;
		}
		snprintf(name, sizeof(name), "#%u", n);
		i = results_add(r, name, strlen(name), -1, depth);
		if (i < 0)
			return;
		r->tests[i].number = n;
		results_set_status(r, (size_t)i, TEST_NOT_RUN);
		if (asprintf(&r->tests[i].detail, "the plan said 1..%ld; test %u never reported",
			     l->plan, n) < 0)
			r->tests[i].detail = NULL;
	}
}

/* A test that stands in for a subtest's parent whose result never came. */
static ssize_t tap_lost_parent(struct results *r, struct tap_state *st, unsigned depth)
{
	struct tap_level *up = &st->levels[depth], *l = &st->levels[depth + 1];
	char number[32];
	const char *name = l->subtest_name;
	ssize_t i;

	snprintf(number, sizeof(number), "#%u", up->seen + 1);
	if (!name)
		name = number;
	i = results_add(r, name, strlen(name), -1, depth);
	if (i < 0)
		return -1;
	up->seen++;
	up->last_number = up->seen;
	r->tests[i].number = up->seen;
	results_set_status(r, (size_t)i, TEST_FAILED);
	r->tests[i].detail = strdup(st->bailed ? "stopped by Bail out!"
					       : "its subtests began, but its own result never came");
	return i;
}

/*
 * Close the level at depth k (> 0), whose tests become parent's
 * children; parent -1: their parent's line never came, one stands in.
 */
static void tap_close(struct results *r, struct tap_state *st, unsigned k, ssize_t parent)
{
	struct tap_level *l = &st->levels[k];

	tap_missing(r, l, k);
	if (parent < 0 && (r->n_tests > l->first_test || l->subtest_name))
		parent = tap_lost_parent(r, st, k - 1);
	for (size_t i = l->first_test; parent >= 0 && i < r->n_tests; i++)
		if (r->tests[i].depth == k && r->tests[i].parent < 0 && (ssize_t)i != parent) {
			r->tests[i].parent = parent;
			results_set_parent(r, (size_t)parent);
		}
	/* What came after its last test belongs to the parent. */
	if (parent >= 0)
		results_pending_give(r, &l->pending, &r->tests[parent]);
	else if (l->pending.len)
		results_pending_add(&st->levels[k - 1].pending, l->pending.text, l->pending.len);
	tap_level_clear(l);
}

static void tap_push(struct results *r, struct tap_state *st, const char *prefix, size_t len,
		     int64_t now_us)
{
	struct tap_level *up = &st->levels[st->depth], *l = &st->levels[++st->depth];

	tap_level_clear(l);
	l->subtest_name = up->next_subtest_name;
	up->next_subtest_name = NULL;
	memcpy(l->prefix, prefix, len);
	l->prefix_len = len;
	l->first_test = r->n_tests;
	l->last_us = now_us;
}

/*
 * The level a structural line behind prefix belongs to: deeper levels
 * closed (without their parent's line), a new one opened when the prefix
 * is longer.  -1 when it cannot be had (too deep): the line is output.
 */
static int tap_level_for(struct results *r, struct tap_state *st, const char *prefix,
			 size_t len, enum tap_kind kind, int64_t now_us)
{
	for (;;) {
		struct tap_level *top = &st->levels[st->depth];

		if (len >= top->prefix_len && memcmp(prefix, top->prefix, top->prefix_len) == 0)
			break;
		/* A test line closes the levels below its own itself. */
		if (kind == TAP_TEST && st->depth >= 1) {
			struct tap_level *up = &st->levels[st->depth - 1];

			if (len == up->prefix_len && memcmp(prefix, up->prefix, len) == 0)
				return (int)st->depth - 1;
		}
		tap_close(r, st, st->depth, -1);
		st->depth--;
	}
	if (len == st->levels[st->depth].prefix_len)
		return (int)st->depth;
	if (st->depth + 1 >= TAP_MAX_DEPTH)
		return -1;
	tap_push(r, st, prefix, len, now_us);
	return (int)st->depth;
}

/* --- lines --------------------------------------------------------------- */

/* The directive after '#': its status (or -1 for none) and reason. */
static int tap_directive(bool ok, const char *s, size_t len, const char **ret_reason,
			 size_t *ret_reason_len)
{
	static const struct {
		const char *word;
		int ok_status, not_ok_status;
	} words[] = {
		{ "skip", TEST_SKIPPED, TEST_SKIPPED },
		{ "todo", TEST_PASSED, TEST_TODO },
		{ "xfail", TEST_EXPECTED_FAILURE, TEST_FAILED },
		{ "timeout", TEST_FAILED, TEST_FAILED },
		{ "error", TEST_FAILED, TEST_FAILED },
	};

	while (len && (*s == ' ' || *s == '\t'))
		s++, len--;
	for (size_t i = 0; i < ARRAY_SIZE(words); i++) {
		size_t n = strlen(words[i].word);

		if (len < n || strncasecmp(s, words[i].word, n) != 0)
			continue;
		/* "SKIP: why", "skipped why": the reason after the word. */
		while (n < len && s[n] != ' ' && s[n] != '\t' && s[n] != ':')
			n++;
		while (n < len && (s[n] == ' ' || s[n] == '\t' || s[n] == ':'))
			n++;
		*ret_reason = s + n;
		*ret_reason_len = len - n;
		return ok ? words[i].ok_status : words[i].not_ok_status;
	}
	return -1;
}

/* "ok 3 - name # SKIP why": a test at level k. */
static void tap_test(struct results *r, struct tap_state *st, unsigned k, const char *s,
		     size_t len, int64_t now_us)
{
	struct tap_level *l = &st->levels[k];
	bool ok = s[0] == 'o';
	size_t at = ok ? 2 : 6, name_start, name_end;
	unsigned long number = 0;
	const char *reason = NULL;
	size_t reason_len = 0;
	int status = -1;
	ssize_t i;
	_cleanup_free_ char *name = NULL;

	while (at < len && (s[at] == ' ' || s[at] == '\t'))
		at++;
	while (at < len && isdigit((unsigned char)s[at]) && number < 100000000)
		number = number * 10 + (unsigned long)(s[at++] - '0');
	while (at < len && (s[at] == ' ' || s[at] == '\t'))
		at++;
	if (at < len && s[at] == '-' && (at + 1 == len || s[at + 1] == ' '))
		at += at + 1 < len ? 2 : 1;
	name_start = at;
	/* The description ends at an unescaped '#'. */
	for (name_end = at; name_end < len; name_end++) {
		if (s[name_end] == '\\' && name_end + 1 < len) {
			name_end++;
			continue;
		}
		if (s[name_end] == '#')
			break;
	}
	if (name_end < len)
		status = tap_directive(ok, s + name_end + 1, len - name_end - 1, &reason, &reason_len);
	while (name_end > name_start && (s[name_end - 1] == ' ' || s[name_end - 1] == '\t'))
		name_end--;
	if (name_end > name_start)
		name = strndup(s + name_start, name_end - name_start);
	else if (k + 1 <= st->depth && st->levels[k + 1].subtest_name)
		name = strdup(st->levels[k + 1].subtest_name);
	else if (asprintf(&name, "#%lu", number ? number : (unsigned long)l->seen + 1) < 0)
		name = NULL;
	if (!name)
		return;
	i = results_add(r, name, strlen(name), -1, k);
	if (i < 0)
		return;
	r->tests[i].number = (unsigned)number;
	results_set_status(r, (size_t)i, status >= 0 ? (enum test_status)status
				   : ok ? TEST_PASSED : TEST_FAILED);
	r->tests[i].detail = results_strndup(reason, reason_len);
	if (now_us >= 0 && l->last_us >= 0 && now_us >= l->last_us)
		r->tests[i].time_us = now_us - l->last_us;
	results_pending_give(r, &l->pending, &r->tests[i]);
	/* Its subtests, and any deeper level left open, are below it. */
	while (st->depth > k) {
		tap_close(r, st, st->depth, st->depth == k + 1 ? i : -1);
		st->depth--;
	}
	l->seen++;
	l->last_number = number ? (unsigned)number : l->seen;
	l->last_us = now_us;
	l->last_test = i;
}

static void tap_plan(struct results *r, struct tap_level *l, const char *s, size_t len)
{
	long n = 0;

	for (size_t at = 3; at < len && isdigit((unsigned char)s[at]) && n < 100000000; at++)
		n = n * 10 + (s[at] - '0');
	l->plan = n;
	r->saw_results = true;
}

/* A line of a test's YAML block: its output; "duration_ms" its time. */
static bool tap_yaml(struct results *r, struct tap_state *st, const char *line, size_t len)
{
	size_t ws = 0;
	struct test_result *t = st->yaml_test >= 0 ? &r->tests[st->yaml_test] : NULL;

	while (ws < len && line[ws] == ' ')
		ws++;
	if (ws < st->yaml_prefix_len) {
		st->yaml = false; /* it ended without its "..." */
		return false;
	}
	if (t) {
		const char *d = strstr(line, "duration_ms:");

		results_output_add(r, t, line, len);
		results_output_add(r, t, "\n", 1);
		if (d)
			t->time_us = (int64_t)(strtod(d + 12, NULL) * 1000);
	}
	if (len - ws == 3 && memcmp(line + ws, "...", 3) == 0)
		st->yaml = false;
	return true;
}

static void tap_output(struct results *r, struct tap_state *st, const char *line, size_t len)
{
	struct results_pending *p = &st->levels[st->depth].pending;

	results_pending_add(p, line, len);
	results_pending_add(p, "\n", 1);
}

static void tap_line(struct results *r, void *state, int stream, const char *line, size_t len,
		     int64_t now_us)
{
	struct tap_state *st = state;
	size_t prefix;
	enum tap_kind kind;
	int k;

	if (st->first_us < 0 && now_us >= 0)
		st->first_us = st->levels[0].last_us = now_us;
	if (stream != 1 || st->bailed) {
		tap_output(r, st, line, len);
		return;
	}
	if (st->yaml && tap_yaml(r, st, line, len))
		return;
	kind = tap_split(line, len, &prefix);
	if (kind == TAP_OTHER) {
		struct tap_level *l = &st->levels[st->depth];
		size_t ws = 0;

		/* "  ---" under the test just read opens its YAML block. */
		while (ws < len && line[ws] == ' ')
			ws++;
		if (l->last_test >= 0 && len - ws == 3 && memcmp(line + ws, "---", 3) == 0 &&
		    ws >= l->prefix_len + 2 && l->last_test == (ssize_t)r->n_tests - 1) {
			st->yaml = true;
			st->yaml_prefix_len = ws;
			st->yaml_test = l->last_test;
			tap_yaml(r, st, line, len);
			return;
		}
		tap_output(r, st, line, len);
		return;
	}
	k = tap_level_for(r, st, line, prefix, kind, now_us);
	if (k < 0) {
		tap_output(r, st, line, len);
		return;
	}
	line += prefix;
	len -= prefix;
	switch (kind) {
	case TAP_TEST:
		tap_test(r, st, (unsigned)k, line, len, now_us);
		break;
	case TAP_PLAN:
		tap_plan(r, &st->levels[k], line, len);
		break;
	case TAP_SUBTEST: {
		/* KTAP names the level it opens, after its version line; TAP 14
		 * names the subtest to come, from its parent's level. */
		struct tap_level *l = &st->levels[k];
		bool opened = k > 0 && l->plan < 0 && r->n_tests == l->first_test && !l->subtest_name;
		char **name = opened ? &l->subtest_name : &l->next_subtest_name;
		size_t at = strlen("# Subtest:");

		while (at < len && line[at] == ' ')
			at++;
		free(*name);
		*name = results_strndup(line + at, len - at);
		break;
	}
	case TAP_BAIL:
		st->bailed = true;
		results_problem(r, "%.*s", (int)(len > 512 ? 512 : len), line);
		break;
	case TAP_VERSION:
	case TAP_PRAGMA:
	case TAP_OTHER:
	default:
		break;
	}
}

static void tap_finish(struct results *r, void *state)
{
	struct tap_state *st = state;

	st->yaml = false;
	while (st->depth > 0) {
		tap_close(r, st, st->depth, -1);
		st->depth--;
	}
	tap_missing(r, &st->levels[0], 0);
}

const struct results_parser_ops results_tap_ops = {
	.new_state = tap_new_state,
	.free_state = tap_free_state,
	.line = tap_line,
	.finish = tap_finish,
};
