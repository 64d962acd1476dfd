/* SPDX-License-Identifier: MIT */
/*
 * results_internal: what the results' model (results.c) gives its parsers
 * (results_tap.c, results_gotest.c): lines, cut and made UTF-8, and the
 * tests to fill.
 */
#pragma once

#include "results/results.h"

/* A parser's operations.  A line has no newline and is valid UTF-8. */
struct results_parser_ops {
	void *(*new_state)(void);
	void (*free_state)(void *state);
	/* A line of stdout (parsed), or of stderr (output of the running test). */
	void (*line)(struct results *r, void *state, int stream, const char *line, size_t len,
		     int64_t now_us);
	void (*finish)(struct results *r, void *state);
};

extern const struct results_parser_ops results_tap_ops;
extern const struct results_parser_ops results_gotest_ops;

/*
 * A new test, last in the list: its name copied (valid UTF-8 already);
 * -1 when RESULTS_MAX_TESTS are there (said once in results->problem).
 */
ssize_t results_add(struct results *r, const char *name, size_t name_len, ssize_t parent,
		    unsigned depth);

/* A test's status while parsing, the live count kept (results.h). */
void results_set_status(struct results *r, size_t i, enum test_status status);

/* Test i has subtests (it no longer counts as one that ended). */
void results_set_parent(struct results *r, size_t i);

/* Text for a test's output: its end is kept, within the bounds. */
void results_output_add(struct results *r, struct test_result *t, const char *text, size_t len);

/* A pending output buffer (text not yet a test's), bounded like one. */
struct results_pending {
	char *text;
	size_t len;
	bool cut;
};

void results_pending_add(struct results_pending *p, const char *text, size_t len);
/* The pending text becomes the test's output (appended), and is emptied. */
void results_pending_give(struct results *r, struct results_pending *p, struct test_result *t);
void results_pending_clear(struct results_pending *p);


/* A malloc'd copy of a detail (NULL for empty). */
char *results_strndup(const char *s, size_t len);
