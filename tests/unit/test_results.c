// SPDX-License-Identifier: MIT
/* results: tests read from TAP, KTAP, kselftest, KUnit's log and go test -json. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "results/results.h"

/* Parse text fed in pieces of `piece` bytes (0: whole). */
static struct results *parse(enum vm_results format, const char *text, size_t piece)
{
	struct results *r;
	size_t len = strlen(text);

	assert_int_equal(results_new(format, &r), 0);
	for (size_t at = 0; at < len;) {
		size_t n = piece && len - at > piece ? piece : len - at;

		results_feed(r, 1, text + at, n, (int64_t)at * 1000);
		at += n;
	}
	results_finish(r);
	return r;
}

static const struct test_result *find(const struct results *r, const char *path)
{
	ssize_t i = results_find(r, path);

	if (i < 0)
		fail_msg("no test %s", path);
	return &r->tests[i];
}

static void assert_status(const struct results *r, const char *path, enum test_status status)
{
	const struct test_result *t = find(r, path);

	if (t->status != status)
		fail_msg("%s is %s, not %s", path, test_status_name(t->status),
			 test_status_name(status));
}

/* TAP 14 with an indented subtest, directives and a test that never came. */
static const char tap14[] =
	"TAP version 14\n"
	"1..4\n"
	"# a comment before the first test\n"
	"ok 1 - first\n"
	"not ok 2 - second # TODO not yet\n"
	"# Subtest: group\n"
	"    1..3\n"
	"    ok 1 - inner a\n"
	"    hello from inner b\n"
	"    not ok 2 - inner b\n"
	"      ---\n"
	"      message: boom\n"
	"      duration_ms: 12.5\n"
	"      ...\n"
	"    ok 3 - inner c # SKIP no network\n"
	"not ok 3 - group\n";

static void test_tap14(void **state)
{
	for (size_t piece = 0; piece < 8; piece++) {
		struct results *r = parse(VM_RESULTS_TAP, tap14, piece);
		struct results_counts c;
		char summary[128];
		char *failed;
		const struct test_result *b;

		assert_status(r, "first", TEST_PASSED);
		assert_status(r, "second", TEST_TODO);
		assert_string_equal(find(r, "second")->detail, "not yet");
		assert_status(r, "group/inner a", TEST_PASSED);
		assert_status(r, "group/inner b", TEST_FAILED);
		assert_status(r, "group/inner c", TEST_SKIPPED);
		assert_status(r, "#4", TEST_NOT_RUN);
		b = find(r, "group/inner b");
		assert_non_null(strstr(b->output, "hello from inner b"));
		assert_non_null(strstr(b->output, "message: boom"));
		assert_int_equal(b->time_us, 12500);
		assert_non_null(strstr(find(r, "first")->output, "a comment before"));
		/* The group failed because inner b did: not reported itself. */
		assert_false(results_reported(r, (size_t)results_find(r, "group")));
		results_count(r, &c);
		assert_int_equal(c.total, 6);
		assert_int_equal(c.passed, 2);
		assert_int_equal(c.failed, 1);
		assert_int_equal(c.not_run, 1);
		assert_true(results_failed(r));
		results_summary(r, summary, sizeof(summary));
		assert_string_equal(summary, "2/6 ok, 1 failed, 1 not run, 1 skipped, 1 todo");
		failed = results_failed_paths(r, 10);
		assert_string_equal(failed, "group/inner b\n#4\n");
		free(failed);
		results_free(r);
	}
}

/* kselftest's runner: each test's own TAP behind "# ". */
static const char kselftest[] =
	"TAP version 13\n"
	"1..2\n"
	"# selftests: net: reuseport.sh\n"
	"# TAP version 13\n"
	"# 1..2\n"
	"# # starting\n"
	"# ok 1 ipv4\n"
	"# not ok 2 ipv6\n"
	"not ok 1 selftests: net: reuseport.sh # exit=1\n"
	"# selftests: net: gro.sh\n"
	"ok 2 selftests: net: gro.sh # SKIP no veth\n";

static void test_kselftest(void **state)
{
	struct results *r = parse(VM_RESULTS_TAP, kselftest, 0);

	assert_status(r, "selftests: net: reuseport.sh/ipv4", TEST_PASSED);
	assert_status(r, "selftests: net: reuseport.sh/ipv6", TEST_FAILED);
	assert_status(r, "selftests: net: gro.sh", TEST_SKIPPED);
	assert_non_null(strstr(find(r, "selftests: net: reuseport.sh/ipv4")->output, "# starting"));
	results_free(r);
}

/* KUnit in 6.1, as /dev/kmsg gives it, with other kernel records between. */
static const char kunit_log[] =
	"6,1,100,-;Linux version 6.1.192\n"
	"6,2,2000,-;KTAP version 1\n"
	"6,3,2001,-;1..2\n"
	"6,4,2002,-;    KTAP version 1\n"
	"6,5,2003,-;    # Subtest: example\n"
	"6,6,2004,-;    1..3\n"
	"6,7,2100,-;    # example_simple_test: initializing\n"
	"6,8,3000,-;    ok 1 example_simple_test\n"
	"6,9,3500,-;    ok 2 example_skip_test # SKIP this test should be skipped\n"
	"3,10,3600,-;virtio_blk virtio1: a driver said something\n"
	"6,11,5000,-;    not ok 3 example_fail_test\n"
	"6,12,5001,-;# example: pass:1 fail:1 skip:1 total:3\n"
	"6,13,5002,-;not ok 1 example\n"
	"6,14,5003,-;    KTAP version 1\n"
	"6,15,5004,-;    # Subtest: list-kernel-test\n"
	"6,16,5005,-;    1..40\n"
	"6,17,6000,-;    ok 1 list_test_list_init\n";

static void test_kunit_log_cut_short(void **state)
{
	struct results *r;
	struct results_counts c;

	assert_int_equal(results_new(VM_RESULTS_KUNIT, &r), 0);
	results_feed_kmsg(r, kunit_log, strlen(kunit_log));
	results_finish(r);
	assert_status(r, "example/example_simple_test", TEST_PASSED);
	assert_int_equal(find(r, "example/example_simple_test")->time_us, 998);
	assert_status(r, "example/example_skip_test", TEST_SKIPPED);
	assert_status(r, "example/example_fail_test", TEST_FAILED);
	assert_non_null(strstr(find(r, "example/example_fail_test")->output, "virtio_blk"));
	assert_status(r, "list-kernel-test/list_test_list_init", TEST_PASSED);
	/* The suite that was running when the log ended: 39 never came, and
	 * its own result never did. */
	assert_status(r, "list-kernel-test/#2", TEST_NOT_RUN);
	assert_status(r, "list-kernel-test/#40", TEST_NOT_RUN);
	assert_status(r, "list-kernel-test", TEST_FAILED);
	results_count(r, &c);
	assert_int_equal(c.not_run, 39);
	assert_int_equal(c.failed, 1);
	assert_true(results_failed(r));
	results_free(r);
}

static const char gotest[] =
	"{\"Time\":\"2026-12-07T12:00:00Z\",\"Action\":\"start\",\"Package\":\"example.com/m\"}\n"
	"{\"Action\":\"run\",\"Package\":\"example.com/m\",\"Test\":\"TestA\"}\n"
	"{\"Action\":\"output\",\"Package\":\"example.com/m\",\"Test\":\"TestA\",\"Output\":\"=== RUN   TestA\\n\"}\n"
	"{\"Action\":\"run\",\"Package\":\"example.com/m\",\"Test\":\"TestA/sub_one\"}\n"
	"{\"Action\":\"output\",\"Package\":\"example.com/m\",\"Test\":\"TestA/sub_one\",\"Output\":\"    a_test.go:9: wrong\\n\"}\n"
	"{\"Action\":\"fail\",\"Package\":\"example.com/m\",\"Test\":\"TestA/sub_one\",\"Elapsed\":0.25}\n"
	"{\"Action\":\"fail\",\"Package\":\"example.com/m\",\"Test\":\"TestA\",\"Elapsed\":0.3}\n"
	"not json: a line go printed itself\n"
	"{\"Action\":\"run\",\"Package\":\"example.com/m\",\"Test\":\"TestB\"}\n"
	"{\"Action\":\"skip\",\"Package\":\"example.com/m\",\"Test\":\"TestB\",\"Elapsed\":0}\n"
	"{\"Action\":\"run\",\"Package\":\"example.com/m\",\"Test\":\"TestC\"}\n"
	"{\"Action\":\"pass\",\"Package\":\"example.com/m\",\"Test\":\"TestC\",\"Elapsed\":1.5}\n"
	"{\"Action\":\"run\",\"Package\":\"example.com/m\",\"Test\":\"TestHang\"}\n"
	"{\"Action\":\"fail\",\"Package\":\"example.com/m\",\"Elapsed\":3}\n";

static void test_gotest_json(void **state)
{
	for (size_t piece = 0; piece < 40; piece += 13) {
		struct results *r = parse(VM_RESULTS_GOTEST_JSON, gotest, piece);
		struct results_counts c;

		assert_status(r, "example.com/m/TestA/sub_one", TEST_FAILED);
		assert_int_equal(find(r, "example.com/m/TestA/sub_one")->time_us, 250000);
		assert_string_equal(find(r, "example.com/m/TestA/sub_one")->output,
				    "    a_test.go:9: wrong\n");
		assert_status(r, "example.com/m/TestB", TEST_SKIPPED);
		assert_status(r, "example.com/m/TestC", TEST_PASSED);
		assert_status(r, "example.com/m/TestHang", TEST_FAILED);
		assert_non_null(strstr(find(r, "example.com/m/TestHang")->detail, "never ended"));
		assert_non_null(strstr(find(r, "example.com/m")->output, "not json"));
		results_count(r, &c);
		/* TestA and the package have children that failed: not reported. */
		assert_int_equal(c.total, 4);
		assert_int_equal(c.failed, 2);
		results_free(r);
	}
}

static void test_expected_failures_and_retries(void **state)
{
	struct results *r = parse(VM_RESULTS_TAP, "1..3\nok 1 - a\nnot ok 2 - b\nnot ok 3 - known\n", 0);
	struct results *again = parse(VM_RESULTS_TAP, "1..1\nok 1 - b\n", 0);
	char *patterns[] = { "^kno", "^a$", NULL };
	char summary[128];

	assert_int_equal(results_expect_failures(r, patterns), 0);
	assert_status(r, "known", TEST_EXPECTED_FAILURE);
	assert_status(r, "a", TEST_FIXED);
	assert_true(results_failed(r));
	assert_int_equal(results_merge_retry(r, again), 0);
	assert_status(r, "b", TEST_FLAKY);
	assert_int_equal(find(r, "b")->attempts, 2);
	assert_false(results_failed(r));
	results_summary(r, summary, sizeof(summary));
	assert_string_equal(summary, "2/3 ok, 1 flaky, 1 expected failure, 1 fixed");
	results_free(r);
	results_free(again);
}

static void test_nothing_and_garbage(void **state)
{
	struct results *r = parse(VM_RESULTS_TAP, "hello\nworld\n", 0);
	char *big = malloc(3 << 20);

	assert_true(results_failed(r));
	assert_non_null(strstr(r->problem, "no test results"));
	results_free(r);
	/* Bail out: what was promised is not run, the reason kept. */
	r = parse(VM_RESULTS_TAP, "1..3\nok 1 - a\nBail out! no disk\nok 2 - b\n", 0);
	assert_string_equal(r->problem, "Bail out! no disk");
	assert_status(r, "#2", TEST_NOT_RUN);
	assert_status(r, "#3", TEST_NOT_RUN);
	results_free(r);
	/* A 3 MB line, invalid UTF-8, a NUL and a last line with no newline. */
	memset(big, 'x', (3 << 20) - 1);
	big[(3 << 20) - 1] = '\0';
	assert_int_equal(results_new(VM_RESULTS_TAP, &r), 0);
	results_feed(r, 1, "ok 1 - caf\xc3\xa9 \xff\xfe\n", 16, -1);
	results_feed(r, 1, big, strlen(big), -1);
	results_feed(r, 1, "\nok 2 - with\0nul\n", 17, -1);
	results_feed(r, 1, "ok 3 - last", 11, -1);
	results_finish(r);
	assert_status(r, "café ??", TEST_PASSED);
	assert_status(r, "with?nul", TEST_PASSED);
	assert_status(r, "last", TEST_PASSED);
	assert_true(find(r, "with?nul")->output_len <= RESULTS_OUTPUT_MAX);
	assert_true(find(r, "with?nul")->output_cut);
	results_free(r);
	free(big);
}

/* The live count: tests without subtests that ended, parents not counted. */
static void test_progress(void **state)
{
	struct results *r;
	char line[64];
	size_t ended;

	assert_int_equal(results_new(VM_RESULTS_TAP, &r), 0);
	results_feed(r, 1, "1..3\nok 1 - a\n    ok 1 - sub\n    not ok 2 - sub2\n", 49, 0);
	results_progress(r, line, sizeof(line), &ended);
	assert_string_equal(line, "2 ok, 1 failed");
	results_feed(r, 1, "not ok 2 - group\nok 3 - c # SKIP\n", 33, 0);
	results_progress(r, line, sizeof(line), &ended);
	assert_string_equal(line, "2 ok, 1 failed, 1 skipped");
	assert_int_equal(ended, 4);
	results_free(r);
	assert_int_equal(results_new(VM_RESULTS_GOTEST_JSON, &r), 0);
	results_feed(r, 1, "{\"Action\":\"run\",\"Package\":\"p\",\"Test\":\"T\"}\n"
		     "{\"Action\":\"pass\",\"Package\":\"p\",\"Test\":\"T/a\"}\n"
		     "{\"Action\":\"pass\",\"Package\":\"p\",\"Test\":\"T\"}\n", 130, 0);
	results_progress(r, line, sizeof(line), &ended);
	assert_string_equal(line, "1 ok");
	results_free(r);
}

static void test_formats(void **state)
{
	assert_int_equal(vm_results_parse("tap"), VM_RESULTS_TAP);
	assert_int_equal(vm_results_parse("gotest-json"), VM_RESULTS_GOTEST_JSON);
	assert_int_equal(vm_results_parse("kunit"), VM_RESULTS_KUNIT);
	assert_int_equal(vm_results_parse("TAP"), -1);
	assert_string_equal(vm_results_name(VM_RESULTS_KTAP), "ktap");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tap14),
		cmocka_unit_test(test_kselftest),
		cmocka_unit_test(test_kunit_log_cut_short),
		cmocka_unit_test(test_gotest_json),
		cmocka_unit_test(test_expected_failures_and_retries),
		cmocka_unit_test(test_nothing_and_garbage),
		cmocka_unit_test(test_progress),
		cmocka_unit_test(test_formats),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
