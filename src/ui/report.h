/* SPDX-License-Identifier: MIT */
/*
 * report: what a run leaves for CI: a JUnit XML report (--junit), the same
 * facts as JSON (--json), and per target a directory of artifacts
 * (--output-dir): its console, its command's output, its QEMU command line
 * and its result with the stage timings.
 *
 * Targets may end in any order and from several threads; the reports list
 * them in the config's order.  Outputs are copied from the records' spools
 * as each target ends, into an unlinked file, never into memory.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "config/config.h"
#include "targets/record.h"
#include "vm/json_io.h"

struct report_options {
	const char *junit_path;
	const char *json_path;
	const char *output_dir;
	const char *dump_dir;		/* --dump: vmcores only, when no output_dir */
	const char *suite_name;		/* the testsuite's name: the config's file name */
	const char *shard;		/* --shard K/N, said in the JSON for --merge; NULL */
	const char *filter;		/* -f, said with it: a matrix may shard each filter */
};

struct report;

/*
 * In the JUnit report, before each target's block (its <testcase> and
 * its tests'): a comment of REPORT_MARK_LEN bytes with the target's place
 * in the config, the block's length after the comment, and its counts,
 * for --merge (report_merge.h).
 */
#define REPORT_MARK_LEN 128

struct report_junit_mark {
	size_t position, len, tests, failures, skipped;
};

/* The counts at the head of a JSON report: "passed", "failed", "flaky". */
int report_json_counts(struct json_value *doc, size_t passed, size_t failed, size_t flaky);

/* The comment at p (len bytes there at most): 0, or -EINVAL when it is none. */
int report_junit_parse_mark(const char *p, size_t len, struct report_junit_mark *ret);

/* Nothing to do (NULL *ret) when no report is asked for.  Creates the
 * output directory, and checks every file can be written, before any VM. */
int report_new(const struct report_options *options, const struct config *config,
	       struct report **ret, struct error *err);

/* Add a target that ended, from its record; safe to call from several threads. */
int report_add(struct report *report, const struct record *record, struct error *err);

/* Write the JUnit and JSON files (atomically: a temporary file renamed). */
int report_finish(struct report *report, struct error *err);

struct report *report_free(struct report *report);

