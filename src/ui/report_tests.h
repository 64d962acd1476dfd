/* SPDX-License-Identifier: MIT */
/*
 * report_tests: a target's tests (results/) in the reports: each reported
 * test a JUnit <testcase> of its own (classname: the target, name: the
 * test's path) and a JSON entry with its status, time and output.
 */
#pragma once

#include <stddef.h>

#include "results/results.h"
#include "ui/xml_writer.h"
#include "vm/json_io.h"

/* What a run of <testcase> elements holds, for the <testsuite>'s counts. */
struct report_tally {
	size_t tests, failures, skipped;
};

/* The tests' <testcase> elements, added to tally. */
void report_tests_junit(struct xml_writer *x, const char *target, const struct results *results,
			struct report_tally *tally);

/* [{"name", "status", "time", "detail", "attempts", "output"}, ...]; NULL: no memory. */
struct json_value *report_tests_json(const struct results *results);

/* {"total", "passed", "failed", ...}: the counts the view's line says. */
struct json_value *report_tests_summary_json(const struct results *results);
