// SPDX-License-Identifier: MIT
/*
 * What reading a command's tests costs vmtest's own CPU: each format's
 * parser (results/) fed a generated suite of N tests as the output relay
 * feeds it (pieces of 4 kB, the time of arrival with each), then
 * finished and counted, as the reports do.  Prints, per format, the
 * median of R runs: seconds, MB/s and microseconds a test.
 *
 *   build/bench-results-parse [TESTS] [RUNS]
 *
 * Figures only; see bench/README.md.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "results/results.h"

struct text {
	char *p;
	size_t len, cap;
};

static void text_addf(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void text_addf(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->cap - t->len < 512) {
		t->cap = t->cap ? t->cap * 2 : 1 << 20;
		t->p = realloc(t->p, t->cap);
		if (!t->p)
			exit(1);
	}
	va_start(ap, fmt);
	n = vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap);
	va_end(ap);
	t->len += (size_t)n;
}

/* kselftest-like: suites of 20 subtests behind "# ", a line of output each. */
static void make_tap(struct text *t, size_t n)
{
	size_t suites = (n + 19) / 20;

	text_addf(t, "TAP version 13\n1..%zu\n", suites);
	for (size_t s = 0; s < suites; s++) {
		text_addf(t, "# selftests: bench: suite%zu\n# TAP version 13\n# 1..20\n", s);
		for (size_t i = 0; i < 20; i++)
			text_addf(t, "# # running case %zu of suite %zu\n# %sok %zu case%zu%s\n", i, s,
				  i == 7 ? "not " : "", i + 1, i, i == 9 ? " # SKIP no device" : "");
		text_addf(t, "not ok %zu selftests: bench: suite%zu\n", s + 1, s);
	}
}

/* KUnit in the kernel's log: "PRIO,SEQ,USEC,-;" records, suites of 20. */
static void make_kunit(struct text *t, size_t n)
{
	size_t suites = (n + 19) / 20, seq = 0;

	text_addf(t, "6,%zu,0,-;KTAP version 1\n6,%zu,1,-;1..%zu\n", seq, seq + 1, suites);
	seq += 2;
	for (size_t s = 0; s < suites; s++, seq += 3) {
		text_addf(t, "6,%zu,%zu,-;    KTAP version 1\n6,%zu,%zu,-;    # Subtest: suite%zu\n"
			  "6,%zu,%zu,-;    1..20\n", seq, seq, seq + 1, seq, s, seq + 2, seq);
		for (size_t i = 0; i < 20; i++, seq++)
			text_addf(t, "6,%zu,%zu,-;    ok %zu case%zu\n", seq, seq * 10, i + 1, i);
		text_addf(t, "6,%zu,%zu,-;ok %zu suite%zu\n", seq, seq * 10, s + 1, s);
	}
}

/* go test -json: run, an output line, pass for each; subtests of 10. */
static void make_gotest(struct text *t, size_t n)
{
	const char *pkg = "example.com/bench/pkg";

	for (size_t i = 0; i < n; i++) {
		/* A parent fails with its failing case (every 50th). */
		if (i % 10 == 0 && i)
			text_addf(t, "{\"Action\":\"%s\",\"Package\":\"%s\",\"Test\":"
				  "\"TestParent%zu\",\"Elapsed\":0.1}\n",
				  (i / 10 - 1) % 5 == 0 ? "fail" : "pass", pkg, i / 10 - 1);
		if (i % 10 == 0)
			text_addf(t, "{\"Action\":\"run\",\"Package\":\"%s\",\"Test\":"
				  "\"TestParent%zu\"}\n", pkg, i / 10);

		text_addf(t, "{\"Time\":\"2026-12-07T12:00:00.%06zuZ\",\"Action\":\"run\",\"Package\":"
			  "\"%s\",\"Test\":\"TestParent%zu/case%zu\"}\n", i, pkg, i / 10, i);
		text_addf(t, "{\"Time\":\"2026-12-07T12:00:00.%06zuZ\",\"Action\":\"output\","
			  "\"Package\":\"%s\",\"Test\":\"TestParent%zu/case%zu\",\"Output\":\"    "
			  "bench_test.go:12: case %zu says hello\\n\"}\n", i, pkg, i / 10, i, i);
		text_addf(t, "{\"Time\":\"2026-12-07T12:00:00.%06zuZ\",\"Action\":\"%s\",\"Package\":"
			  "\"%s\",\"Test\":\"TestParent%zu/case%zu\",\"Elapsed\":0.01}\n", i,
			  i % 50 == 7 ? "fail" : "pass", pkg, i / 10, i);
	}
	text_addf(t, "{\"Action\":\"pass\",\"Package\":\"%s\",\"Test\":\"TestParent%zu\","
		  "\"Elapsed\":0.1}\n{\"Action\":\"fail\",\"Package\":\"%s\",\"Elapsed\":9}\n",
		  pkg, (n - 1) / 10, pkg);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double run(enum vm_results format, const struct text *t, size_t *ret_tests)
{
	struct results *r;
	struct results_counts c;
	double start = now();

	if (results_new(format, &r) < 0)
		exit(1);
	if (format == VM_RESULTS_KUNIT)
		results_feed_kmsg(r, t->p, t->len);
	else
		for (size_t at = 0; at < t->len; at += 4096)
			results_feed(r, 1, t->p + at, t->len - at < 4096 ? t->len - at : 4096,
				     (int64_t)at);
	results_finish(r);
	results_count(r, &c);
	*ret_tests = c.total;
	results_free(r);
	return now() - start;
}

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 100000;
	int runs = argc > 2 ? atoi(argv[2]) : 7;
	const struct {
		const char *name;
		enum vm_results format;
		void (*make)(struct text *, size_t);
	} formats[] = {
		{ "tap (kselftest)", VM_RESULTS_TAP, make_tap },
		{ "kunit (kmsg)", VM_RESULTS_KUNIT, make_kunit },
		{ "gotest-json", VM_RESULTS_GOTEST_JSON, make_gotest },
	};

	printf("# results parsers: %zu tests a suite, median of %d runs\n", n, runs);
	printf("%-16s %10s %8s %10s %12s\n", "format", "MB", "s", "MB/s", "us/test");
	for (size_t f = 0; f < sizeof(formats) / sizeof(formats[0]); f++) {
		struct text t = { 0 };
		double *times = calloc((size_t)runs, sizeof(*times)), median;
		size_t tests = 0;

		formats[f].make(&t, n);
		for (int i = 0; i < runs; i++)
			times[i] = run(formats[f].format, &t, &tests);
		qsort(times, (size_t)runs, sizeof(*times), cmp);
		median = times[runs / 2];
		printf("%-16s %10.1f %8.3f %10.1f %12.2f   (%zu tests reported)\n", formats[f].name,
		       (double)t.len / 1e6, median, (double)t.len / 1e6 / median,
		       median * 1e6 / (double)tests, tests);
		free(times);
		free(t.p);
	}
	return 0;
}
