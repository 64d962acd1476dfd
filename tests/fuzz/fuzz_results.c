/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the test results' parsers (results/): any bytes a
 * command prints, read as the format the first input byte picks (TAP,
 * go test -json, or KUnit's log records), fed in pieces of 1 to 64 bytes
 * (the second byte) or whole, stdout and stderr interleaved.  Then every
 * query the reports and the view make must hold: each test has a path,
 * a status, valid UTF-8, output within its bound; counts add up; a
 * retry of the same results and expected failures merge without harm.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "results/results.h"
#include "vm/json_io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const struct results *r)
{
	struct results_counts c;
	char summary[256];
	char *failed;
	size_t reported = 0;

	for (size_t i = 0; i < r->n_tests; i++) {
		const struct test_result *t = &r->tests[i];

		if (!t->path || !json_io_utf8_valid(t->path) || !json_io_utf8_valid(t->name))
			abort();
		if (t->output && (strlen(t->output) > t->output_len ||
				  t->output_len > RESULTS_OUTPUT_MAX))
			abort();
		if (t->status == TEST_RUNNING || (t->parent >= 0 && (size_t)t->parent >= r->n_tests))
			abort();
		reported += results_reported(r, i);
	}
	results_count(r, &c);
	if (c.total != reported || c.passed + c.failed + c.skipped + c.todo + c.not_run +
					   c.expected + c.fixed + c.flaky != c.total)
		abort();
	results_summary(r, summary, sizeof(summary));
	failed = results_failed_paths(r, 20);
	if (!failed)
		abort();
	free(failed);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum vm_results formats[] = { VM_RESULTS_TAP, VM_RESULTS_GOTEST_JSON,
						       VM_RESULTS_KUNIT };
	enum vm_results format;
	struct results *r, *again;
	char *patterns[] = { "a", "^b/", NULL };
	size_t piece, at = 2;

	if (size < 2)
		return 0;
	format = formats[data[0] % 3];
	piece = data[1] % 65 ? data[1] % 65 : size;
	if (results_new(format, &r) < 0 || results_new(format, &again) < 0)
		abort();
	if (format == VM_RESULTS_KUNIT) {
		results_feed_kmsg(r, (const char *)data + 2, size - 2);
		results_feed_kmsg(again, (const char *)data + 2, size - 2);
	}
	while (format != VM_RESULTS_KUNIT && at < size) {
		size_t n = size - at < piece ? size - at : piece;

		results_feed(r, data[at] & 1 ? 2 : 1, (const char *)data + at, n, (int64_t)at);
		results_feed(again, 1, (const char *)data + at, n, -1);
		at += n;
	}
	results_finish(r);
	results_finish(again);
	check(r);
	if (results_expect_failures(r, patterns) < 0 || results_merge_retry(r, again) < 0)
		abort();
	check(r);
	results_free(r);
	results_free(again);
	return 0;
}
