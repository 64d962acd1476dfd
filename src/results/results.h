/* SPDX-License-Identifier: MIT */
/*
 * results: the tests a target's command reports, read from what it prints
 * (vm.results, --results): TAP 13/14 and KTAP with nested subtests
 * (kselftest, KUnit), `go test -json`'s events, or the KTAP of the
 * kernel's own KUnit tests in its log records.
 *
 * A parser is fed the output as it arrives, in pieces of any size, and
 * never fails: what is not a test line is a test's output, a line too
 * long is cut, bytes that are not UTF-8 become '?', and memory stays
 * bounded (RESULTS_MAX_TESTS tests, RESULTS_OUTPUT_MAX bytes of output
 * each, RESULTS_OUTPUT_TOTAL in all).  The command's output itself is
 * never touched: it goes to the user and the spool whole, as before.
 *
 * Once finished, each test has a path ("suite/case"), a status, a time
 * and its own output.  A test with subtests is reported only when its own
 * result says more than its subtests do (it failed while none of them
 * did): results_reported().
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "config/config.h"

enum test_status {
	TEST_PASSED,
	TEST_FAILED,
	TEST_SKIPPED,		/* "# SKIP" */
	TEST_TODO,		/* "not ok ... # TODO": known, does not fail */
	TEST_NOT_RUN,		/* its plan said it would come; it never did */
	TEST_EXPECTED_FAILURE,	/* failed, as vm.expected_failures (or KTAP's XFAIL) says */
	TEST_FIXED,		/* passed, though vm.expected_failures says it fails */
	TEST_FLAKY,		/* failed, then passed on a retry (--retry-failed) */
	TEST_RUNNING,		/* started, not ended (while parsing only) */
};

/* "passed", "failed", "skipped", "todo", "not run", "expected failure", "fixed", "flaky". */
const char *test_status_name(enum test_status status);

/* Whether the status fails its target. */
bool test_status_fails(enum test_status status);

#define RESULTS_MAX_TESTS 200000
#define RESULTS_LINE_MAX (64 * 1024)		/* bytes of a line read as a test line */
#define RESULTS_OUTPUT_MAX (64 * 1024)		/* bytes of output kept per test: its end */
#define RESULTS_OUTPUT_TOTAL (64 * 1024 * 1024)	/* ... and in all */

struct test_result {
	char *name;		/* its own name, valid UTF-8 */
	char *path;		/* "parent/.../name", once finished */
	ssize_t parent;		/* index in the results; -1: top */
	unsigned depth;
	unsigned number;	/* TAP's test number; 0: none */
	bool has_children;
	bool child_fails;	/* a test below it fails its target */
	enum test_status status;
	char *detail;		/* a directive's reason, why it failed; NULL */
	int64_t time_us;	/* -1: unknown */
	char *output;		/* its own output lines (the end of them), NUL-terminated */
	size_t output_len;
	bool output_cut;	/* the beginning was dropped (RESULTS_OUTPUT_MAX) */
	unsigned attempts;	/* runs it took: 1, more when retried */
};

struct results_parser;

struct results {
	enum vm_results format;
	struct test_result *tests;
	size_t n_tests, cap_tests;
	char *problem;		/* why they are incomplete ("Bail out! ..."); NULL */
	bool finished;
	bool saw_results;	/* a test, a plan or a header was read */
	size_t output_total;	/* bytes of output kept so far */
	/* While parsing: tests without subtests that ended, by kind, for the
	 * live count (results_set_status keeps them). */
	size_t ended_ok, ended_failed, ended_skipped;
	struct results_parser *parser;
};

/* A parser for format (not VM_RESULTS_NONE); -ENOMEM. */
int results_new(enum vm_results format, struct results **ret);
struct results *results_free(struct results *results);

/*
 * What the command printed, as it arrives: stream 1 is its stdout, which
 * is parsed; stream 2 its stderr, kept as the running test's output only.
 * now_us: when it arrived (base/clock.h's clock, in microseconds), or -1
 * when unknown (read from a file afterwards): tests' times are then
 * unknown too, unless the format carries them.
 */
void results_feed(struct results *results, int stream, const char *buf, size_t len,
		  int64_t now_us);

/*
 * The guest kernel's log records ("PRIO,SEQ,USEC,FLAGS;TEXT" lines, as
 * guest/kmsg.c forwards them): the text of each, with the kernel's own
 * time, for VM_RESULTS_KUNIT.
 */
void results_feed_kmsg(struct results *results, const char *log, size_t len);

/*
 * The end of the output: a last line without its newline is read, tests
 * still open are closed (those a plan promised and that never came are
 * TEST_NOT_RUN, those started and never ended TEST_FAILED), and paths are
 * set.  Idempotent.
 */
void results_finish(struct results *results);

/* Say why the results are incomplete or missing (the first reason only). */
void results_problem(struct results *results, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Whether test i is one the reports show (see the top). */
bool results_reported(const struct results *results, size_t i);

struct results_counts {
	size_t total;		/* reported tests */
	size_t passed, failed, skipped, todo, not_run, expected, fixed, flaky;
};

void results_count(const struct results *results, struct results_counts *ret);

/* Whether the results fail their target: a reported test failed or never
 * ran, or none came at all. */
bool results_failed(const struct results *results);

/*
 * Tests whose path a pattern matches (PCRE2, anywhere in the path unless
 * anchored) are expected to fail: failed, they are TEST_EXPECTED_FAILURE;
 * passed, TEST_FIXED.  patterns: NULL-terminated, already checked by the
 * config.  0 or -ENOMEM.
 */
int results_expect_failures(struct results *results, char *const *patterns);

/*
 * A retry's results into the first run's: a test that failed (or never
 * ran) and passes in the retry is TEST_FLAKY; one that fails again stays
 * failed, with the retry's output.  Tests only the retry has are added.
 */
int results_merge_retry(struct results *results, const struct results *retry);

/*
 * While the output still comes: "12 ok, 1 failed" of the tests ended so
 * far (those without subtests); the number of them in *ret_ended.  Cheap:
 * counters the parsers keep.
 */
void results_progress(const struct results *results, char *buf, size_t len, size_t *ret_ended);

/* "39/40 ok, 1 failed, 2 skipped" (only the counts that are not 0). */
void results_summary(const struct results *results, char *buf, size_t len);

/*
 * The paths of the reported tests that fail the target, one per line,
 * at most max of them (and "... and N more"); malloc'd, "" when none.
 */
char *results_failed_paths(const struct results *results, size_t max);

/* The test at path, or -1 (the results are finished). */
ssize_t results_find(const struct results *results, const char *path);
