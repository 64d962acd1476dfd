// SPDX-License-Identifier: MIT
/*
 * `go test -json`: test2json's events, one JSON object a line:
 * {"Action":"run|output|pass|fail|skip|...","Package":"...","Test":"...",
 *  "Elapsed":0.01,"Output":"..."}.  A package is a test whose children are
 * its top-level tests; "TestA/sub" is a subtest of "TestA".  A line that
 * is not such an object (a build error, a panic printed outside a test)
 * is output of the package seen last.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "results/results_internal.h"
#include "vm/json_io.h"

/* Subtests deeper than this keep the rest of their path in their name. */
#define GOTEST_MAX_DEPTH 32

struct gotest_state {
	/* Each test's key (package NUL test), by index, and a hash of them. */
	char **keys;
	size_t *key_lens;
	size_t cap_keys;
	ssize_t *slots;
	size_t n_slots, n_used;
	ssize_t last_package;
};

static void *gotest_new_state(void)
{
	struct gotest_state *st = calloc(1, sizeof(*st));

	if (st)
		st->last_package = -1;
	return st;
}

static void gotest_free_state(void *state)
{
	struct gotest_state *st = state;

	for (size_t i = 0; i < st->cap_keys; i++)
		free(st->keys[i]);
	free(st->keys);
	free(st->key_lens);
	free(st->slots);
	free(st);
}

static size_t gotest_hash(const char *s, size_t len)
{
	size_t h = 14695981039346656037ULL;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
	return h;
}

static ssize_t gotest_lookup(struct gotest_state *st, const char *key, size_t len)
{
	if (!st->n_slots)
		return -1;
	for (size_t at = gotest_hash(key, len) & (st->n_slots - 1); st->slots[at] >= 0;
	     at = (at + 1) & (st->n_slots - 1)) {
		ssize_t i = st->slots[at];

		if (st->key_lens[i] == len && memcmp(st->keys[i], key, len) == 0)
			return i;
	}
	return -1;
}

static void gotest_insert_slot(struct gotest_state *st, ssize_t i)
{
	size_t at = gotest_hash(st->keys[i], st->key_lens[i]) & (st->n_slots - 1);

	while (st->slots[at] >= 0)
		at = (at + 1) & (st->n_slots - 1);
	st->slots[at] = i;
}

/* Remember test i under key; -ENOMEM. */
static int gotest_remember(struct gotest_state *st, ssize_t i, const char *key, size_t len)
{
	if ((size_t)i >= st->cap_keys) {
		size_t cap = st->cap_keys ? st->cap_keys * 2 : 64;
		char **keys;
		size_t *lens;

		while (cap <= (size_t)i)
			cap *= 2;
		keys = realloc(st->keys, cap * sizeof(*keys));
		if (!keys)
			return -ENOMEM;
		st->keys = keys;
		lens = realloc(st->key_lens, cap * sizeof(*lens));
		if (!lens)
			return -ENOMEM;
		st->key_lens = lens;
		memset(st->keys + st->cap_keys, 0, (cap - st->cap_keys) * sizeof(*keys));
		memset(st->key_lens + st->cap_keys, 0, (cap - st->cap_keys) * sizeof(*lens));
		st->cap_keys = cap;
	}
	if ((st->n_used + 1) * 2 > st->n_slots) {
		size_t n = st->n_slots ? st->n_slots * 2 : 64;
		ssize_t *slots = malloc(n * sizeof(*slots));

		if (!slots)
			return -ENOMEM;
		memset(slots, 0xff, n * sizeof(*slots));
		free(st->slots);
		st->slots = slots;
		st->n_slots = n;
		for (size_t k = 0; k < st->cap_keys; k++)
			if (st->keys[k])
				gotest_insert_slot(st, (ssize_t)k);
	}
	st->keys[i] = malloc(len ? len : 1);
	if (!st->keys[i])
		return -ENOMEM;
	memcpy(st->keys[i], key, len);
	st->key_lens[i] = len;
	st->n_used++;
	gotest_insert_slot(st, i);
	return 0;
}

/*
 * The test of package pkg named test ("TestA/sub"; NULL: the package
 * itself), made with its parents when new; -1 when it cannot be.
 */
static ssize_t gotest_test(struct results *r, struct gotest_state *st, const char *pkg,
			   const char *test, size_t test_len, unsigned depth)
{
	size_t pkg_len = strlen(pkg), key_len = pkg_len + 1 + (test ? test_len : 0);
	_cleanup_free_ char *key = malloc(key_len + 1);
	const char *name = test ? test : pkg;
	size_t name_len = test ? test_len : pkg_len;
	ssize_t parent = -1, i;

	if (!key)
		return -1;
	memcpy(key, pkg, pkg_len);
	key[pkg_len] = '\0';
	if (test)
		memcpy(key + pkg_len + 1, test, test_len);
	i = gotest_lookup(st, key, key_len);
	if (i >= 0)
		return i;
	if (test) {
		const char *slash = depth < GOTEST_MAX_DEPTH ? memrchr(test, '/', test_len) : NULL;

		if (slash) {
			parent = gotest_test(r, st, pkg, test, (size_t)(slash - test), depth + 1);
			name = slash + 1;
			name_len = test_len - (size_t)(slash - test) - 1;
		} else if (pkg_len) {
			parent = gotest_test(r, st, pkg, NULL, 0, depth + 1);
		}
	}
	i = results_add(r, name, name_len, parent, parent >= 0 ? r->tests[parent].depth + 1 : 0);
	if (i >= 0 && gotest_remember(st, i, key, key_len) < 0)
		return -1;
	return i;
}

static void gotest_event(struct results *r, struct gotest_state *st, const struct json_value *ev)
{
	const char *action = json_io_get_string(ev, "Action");
	const char *pkg = json_io_get_string(ev, "Package");
	const char *test = json_io_get_string(ev, "Test");
	double elapsed;
	ssize_t i;

	if (!action || (!test && (!pkg || !*pkg)))
		return;
	i = gotest_test(r, st, pkg ? pkg : "", test, test ? strlen(test) : 0, 0);
	if (i < 0)
		return;
	if (!test)
		st->last_package = i;
	if (strcmp(action, "output") == 0) {
		const char *out = json_io_get_string(ev, "Output");

		if (out)
			results_output_add(r, &r->tests[i], out, strlen(out));
		return;
	}
	if (strcmp(action, "pass") == 0)
		results_set_status(r, (size_t)i, TEST_PASSED);
	else if (strcmp(action, "fail") == 0)
		results_set_status(r, (size_t)i, TEST_FAILED);
	else if (strcmp(action, "skip") == 0)
		results_set_status(r, (size_t)i, TEST_SKIPPED);
	else
		return; /* run, start, pause, cont, bench */
	if (json_io_get_real(ev, "Elapsed", &elapsed) && elapsed >= 0 && elapsed < 1e9)
		r->tests[i].time_us = (int64_t)(elapsed * 1e6);
}

static void gotest_line(struct results *r, void *state, int stream, const char *line,
			size_t len, int64_t now_us)
{
	struct gotest_state *st = state;
	struct json_value *ev = NULL;

	(void)now_us;
	if (stream == 1 && len && line[0] == '{')
		ev = json_io_parse_text(line, len);
	if (ev && json_io_is_object(ev)) {
		gotest_event(r, st, ev);
		json_io_unref(ev);
		return;
	}
	json_io_unref(ev);
	/* Not an event: the package's output, as go test shows it. */
	if (st->last_package >= 0) {
		results_output_add(r, &r->tests[st->last_package], line, len);
		results_output_add(r, &r->tests[st->last_package], "\n", 1);
	}
}

static void gotest_finish(struct results *r, void *state)
{
	(void)state;
	for (size_t i = 0; i < r->n_tests; i++) {
		if (r->tests[i].status != TEST_RUNNING)
			continue;
		r->tests[i].status = TEST_FAILED;
		r->tests[i].detail = strdup("it started but never ended (the test binary stopped: "
					    "a panic, a timeout, a crash?)");
	}
}

const struct results_parser_ops results_gotest_ops = {
	.new_state = gotest_new_state,
	.free_state = gotest_free_state,
	.line = gotest_line,
	.finish = gotest_finish,
};
