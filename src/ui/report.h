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

struct report_options {
	const char *junit_path;
	const char *json_path;
	const char *output_dir;
	const char *dump_dir;		/* --dump: vmcores only, when no output_dir */
	const char *suite_name;		/* the testsuite's name: the config's file name */
};

struct report;

/* Nothing to do (NULL *ret) when no report is asked for.  Creates the
 * output directory, and checks every file can be written, before any VM. */
int report_new(const struct report_options *options, const struct config *config,
	       struct report **ret, struct error *err);

/* Add a target that ended, from its record; safe to call from several threads. */
int report_add(struct report *report, const struct record *record, struct error *err);

/* Write the JUnit and JSON files (atomically: a temporary file renamed). */
int report_finish(struct report *report, struct error *err);

struct report *report_free(struct report *report);

/* Text for XML character data: what XML 1.0 forbids dropped (control
 * characters, U+FFFE/FFFF, bytes that are not UTF-8); malloc'd. */
char *report_xml_text(const char *s, size_t len, size_t *ret_len);
