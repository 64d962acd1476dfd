// SPDX-License-Identifier: MIT
#include "ui/report_tests.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"

/* What a test's <failure> or <skipped> says when its result gave no reason. */
static const char *report_tests_message(const struct test_result *t)
{
	if (t->detail)
		return t->detail;
	switch (t->status) {
	case TEST_NOT_RUN: return "it never ran";
	case TEST_EXPECTED_FAILURE: return "expected to fail (vm.expected_failures)";
	case TEST_SKIPPED: return "skipped";
	case TEST_TODO: return "todo";
	case TEST_PASSED:
	case TEST_FAILED:
	case TEST_FIXED:
	case TEST_FLAKY:
	case TEST_RUNNING:
	default: return "failed";
	}
}

/* Its own output, and what vmtest says of a status JUnit has no word for. */
static void report_tests_system_out(struct xml_writer *x, const struct test_result *t)
{
	const char *note = t->status == TEST_FIXED
				   ? "vmtest: expected to fail (vm.expected_failures), but passed\n"
			   : t->status == TEST_FLAKY ? "vmtest: failed, then passed on a retry\n"
						     : NULL;

	if (!t->output_len && !note)
		return;
	xml_raw(x, "      <system-out>");
	if (note)
		xml_cdata_text(x, note);
	if (t->output_cut)
		xml_cdata_text(x, "[... the beginning of the test's output was cut ...]\n");
	if (t->output_len)
		xml_cdata_text(x, t->output);
	xml_raw(x, "</system-out>\n");
}

static void report_tests_case(struct xml_writer *x, const char *target,
			      const struct test_result *t, struct report_tally *tally)
{
	char time_s[32];

	snprintf(time_s, sizeof(time_s), "%.3f", t->time_us > 0 ? (double)t->time_us / 1e6 : 0.0);
	xml_raw(x, "    <testcase");
	xml_attr(x, "name", t->path ? t->path : t->name);
	xml_attr(x, "classname", target);
	xml_attr(x, "time", time_s);
	xml_raw(x, ">\n");
	tally->tests++;
	if (test_status_fails(t->status)) {
		tally->failures++;
		xml_raw(x, "      <failure");
		xml_attr(x, "type", test_status_name(t->status));
		xml_attr(x, "message", report_tests_message(t));
		xml_raw(x, ">");
		if (t->output_len)
			xml_cdata_text(x, t->output);
		xml_raw(x, "</failure>\n");
	} else if (t->status == TEST_SKIPPED || t->status == TEST_TODO ||
		   t->status == TEST_EXPECTED_FAILURE) {
		tally->skipped++;
		xml_raw(x, "      <skipped");
		xml_attr(x, "type", test_status_name(t->status));
		xml_attr(x, "message", report_tests_message(t));
		xml_raw(x, "/>\n");
	} else if (t->status == TEST_FLAKY) {
		/* Maven Surefire's element for a rerun that passed: Jenkins
		 * shows it, other readers skip it and count a pass. */
		xml_raw(x, "      <flakyFailure");
		xml_attr(x, "type", "failed");
		xml_attr(x, "message", "failed, then passed on a retry");
		xml_raw(x, "/>\n");
	}
	report_tests_system_out(x, t);
	xml_raw(x, "    </testcase>\n");
}

void report_tests_junit(struct xml_writer *x, const char *target, const struct results *r,
			struct report_tally *tally)
{
	for (size_t i = 0; r && i < r->n_tests; i++)
		if (results_reported(r, i))
			report_tests_case(x, target, &r->tests[i], tally);
}

static struct json_value *report_tests_entry(const struct test_result *t)
{
	struct json_value *o = json_io_new_object();
	int r = o ? 0 : -ENOMEM;

	if (r >= 0)
		r = json_io_set_string(o, "name", t->path ? t->path : t->name);
	if (r >= 0)
		r = json_io_set_string(o, "status", test_status_name(t->status));
	if (r >= 0)
		r = t->time_us >= 0 ? json_io_set_real(o, "time", (double)t->time_us / 1e6)
				    : json_io_set(o, "time", json_io_new_null());
	if (r >= 0 && t->detail)
		r = json_io_set_string(o, "detail", t->detail);
	if (r >= 0 && t->attempts > 1)
		r = json_io_set_int(o, "attempts", t->attempts);
	if (r >= 0)
		r = json_io_set_string(o, "output", t->output ? t->output : "");
	if (r >= 0 && t->output_cut)
		r = json_io_set_bool(o, "output_cut", true);
	if (r < 0)
		return json_io_unref(o);
	return o;
}

struct json_value *report_tests_json(const struct results *r)
{
	struct json_value *tests = json_io_new_array();

	for (size_t i = 0; tests && r && i < r->n_tests; i++) {
		struct json_value *entry;

		if (!results_reported(r, i))
			continue;
		entry = report_tests_entry(&r->tests[i]);
		if (!entry || json_io_append(tests, entry) < 0)
			return json_io_unref(tests);
	}
	return tests;
}

struct json_value *report_tests_summary_json(const struct results *r)
{
	struct json_value *o = json_io_new_object();
	struct results_counts c;
	const struct {
		const char *key;
		size_t n;
	} *f, fields[] = {
		{ "total", 0 }, { "passed", 0 }, { "failed", 0 }, { "skipped", 0 }, { "todo", 0 },
		{ "not_run", 0 }, { "expected_failures", 0 }, { "fixed", 0 }, { "flaky", 0 },
	};
	size_t values[ARRAY_SIZE(fields)];
	int e = o ? 0 : -ENOMEM;

	results_count(r, &c);
	values[0] = c.total, values[1] = c.passed, values[2] = c.failed, values[3] = c.skipped;
	values[4] = c.todo, values[5] = c.not_run, values[6] = c.expected, values[7] = c.fixed;
	values[8] = c.flaky;
	for (f = fields; e >= 0 && f < fields + ARRAY_SIZE(fields); f++)
		e = json_io_set_int(o, f->key, (int64_t)values[f - fields]);
	if (e >= 0 && r && r->problem)
		e = json_io_set_string(o, "problem", r->problem);
	if (e < 0)
		return json_io_unref(o);
	return o;
}
