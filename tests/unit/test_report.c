// SPDX-License-Identifier: MIT
/* Reports: text made fit for XML, shards, and the parsing of their options. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "config/config.h"
#include "ui/report.h"
#include "ui/xml_writer.h"

static void xml(const char *in, size_t len, const char *want)
{
	size_t got_len = 0;
	char *got = xml_text(in, len, &got_len);

	assert_non_null(got);
	assert_string_equal(got, want);
	assert_int_equal(got_len, strlen(want));
	free(got);
}

static void test_xml_text(void **state)
{
	xml("plain", 5, "plain");
	xml("a<b>&\"c", 7, "a&lt;b&gt;&amp;&quot;c");
	/* Tab, newline and carriage return are XML characters; other controls are not. */
	xml("a\tb\nc\rd", 7, "a\tb\nc\rd");
	xml("\x01\x08\x0b\x0c\x1b[31mx\x7f", 11, "[31mx\x7f");
	/* A NUL inside the data is dropped too. */
	xml("a\0b", 3, "ab");
	/* UTF-8 kept; bytes that are not UTF-8, surrogates, U+FFFE dropped. */
	xml("caf\xc3\xa9 \xf0\x9f\x90\xa7", 10, "caf\xc3\xa9 \xf0\x9f\x90\xa7");
	xml("a\xff" "b\xc3(", 5, "ab(");
	xml("\xed\xa0\x80x\xef\xbf\xbey", 8, "xy");
	/* A sequence cut at the end is dropped. */
	xml("x\xe2\x82", 3, "x");
}

static void test_cli_shard_and_jobs(void **state)
{
	struct error err = { 0 };
	unsigned k = 0, n = 0, jobs = 0;

	assert_int_equal(cli_parse_shard("2/5", &k, &n, &err), 0);
	assert_int_equal(k, 2);
	assert_int_equal(n, 5);
	assert_int_equal(cli_parse_shard("1/1", &k, &n, &err), 0);
	assert_true(cli_parse_shard("0/3", &k, &n, &err) < 0);
	assert_string_equal(err.msg, "--shard '0/3': K must be between 1 and N (3)");
	assert_int_equal(err.status, EXIT_STATUS_USAGE);
	assert_true(cli_parse_shard("4/3", &k, &n, &err) < 0);
	assert_true(cli_parse_shard("1/0", &k, &n, &err) < 0);
	assert_string_equal(err.msg, "--shard '1/0': expected K/N, the K-th of N slices (1/3, 2/3, 3/3)");
	assert_true(cli_parse_shard("-1/3", &k, &n, &err) < 0);
	assert_true(cli_parse_shard("1/3x", &k, &n, &err) < 0);
	assert_true(cli_parse_shard("", &k, &n, &err) < 0);
	assert_int_equal(cli_parse_jobs("4", &jobs, &err), 0);
	assert_int_equal(jobs, 4);
	assert_true(cli_parse_jobs("0", &jobs, &err) < 0);
	assert_true(cli_parse_jobs("2x", &jobs, &err) < 0);
	assert_true(cli_parse_jobs("-2", &jobs, &err) < 0);
}

static struct config *config_of(size_t n)
{
	struct config *c = calloc(1, sizeof(*c));

	c->targets = calloc(n, sizeof(*c->targets));
	c->n_targets = n;
	for (size_t i = 0; i < n; i++)
		assert_true(asprintf(&c->targets[i].name, "t%zu", i) > 0);
	return c;
}

static void test_shards(void **state)
{
	for (unsigned n = 1; n <= 6; n++) {
		size_t total = 0, smallest = 100, largest = 0;
		int seen[11] = { 0 };

		for (unsigned k = 1; k <= n; k++) {
			struct config *c = config_of(11);

			config_keep_shard(c, k, n);
			total += c->n_targets;
			smallest = c->n_targets < smallest ? c->n_targets : smallest;
			largest = c->n_targets > largest ? c->n_targets : largest;
			for (size_t i = 0; i < c->n_targets; i++) {
				unsigned idx = (unsigned)atoi(c->targets[i].name + 1);

				seen[idx]++;
				/* In their order. */
				if (i)
					assert_true(idx > (unsigned)atoi(c->targets[i - 1].name + 1));
			}
			config_free(c);
		}
		assert_int_equal(total, 11);
		assert_true(largest - smallest <= 1);
		for (int i = 0; i < 11; i++)
			assert_int_equal(seen[i], 1);
	}
}

/* Longest first, each to the least loaded; unknown times are the median. */
static void test_shards_by_time(void **state)
{
	struct config *c = config_of(6);
	const double seconds[] = { 30, 20, 10, -1, 40, 5 };
	unsigned slices[6];
	double loads[3];

	/* The median of 30, 20, 10, 40 and 5 is 20, t3's.  In order: t4 (40)
	 * to 1; t0 (30) to 2; t1 (20, before t3 by position) to 3; t3 (20) to
	 * 3, the least (20); t2 (10) to 2 (30 < 40); t5 (5) to 1 (40, the
	 * lowest of the two at 40). */
	assert_int_equal(config_shard_by_time(c, 3, seconds, slices, loads), 0);
	assert_int_equal(slices[4], 1);
	assert_int_equal(slices[0], 2);
	assert_int_equal(slices[1], 3);
	assert_int_equal(slices[3], 3);
	assert_int_equal(slices[2], 2);
	assert_int_equal(slices[5], 1);
	assert_true(loads[0] == 45 && loads[1] == 40 && loads[2] == 40);
	config_keep_slice(c, 3, slices);
	assert_int_equal(c->n_targets, 2);
	assert_string_equal(c->targets[0].name, "t1");
	assert_string_equal(c->targets[1].name, "t3");
	config_free(c);
}

/* The comment before a target's JUnit block, read back; nothing else is one. */
static void test_junit_mark(void **state)
{
	char mark[REPORT_MARK_LEN + 1];
	struct report_junit_mark m;
	int n = snprintf(mark, sizeof(mark), "    <!-- vmtest target 7: 1234 bytes, 5 tests, "
			 "2 failures, 1 skipped");

	memset(mark + n, ' ', REPORT_MARK_LEN - 4 - (size_t)n);
	memcpy(mark + REPORT_MARK_LEN - 4, "-->\n", 4);
	assert_int_equal(report_junit_parse_mark(mark, REPORT_MARK_LEN, &m), 0);
	assert_int_equal(m.position, 7);
	assert_int_equal(m.len, 1234);
	assert_int_equal(m.tests, 5);
	assert_int_equal(m.failures, 2);
	assert_int_equal(m.skipped, 1);
	assert_true(report_junit_parse_mark(mark, REPORT_MARK_LEN - 1, &m) < 0);
	mark[4] = 'x';
	assert_true(report_junit_parse_mark(mark, REPORT_MARK_LEN, &m) < 0);
	assert_true(report_junit_parse_mark("    <testcase name=\"a\">", 24, &m) < 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_xml_text),
		cmocka_unit_test(test_cli_shard_and_jobs),
		cmocka_unit_test(test_shards),
		cmocka_unit_test(test_shards_by_time),
		cmocka_unit_test(test_junit_mark),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
