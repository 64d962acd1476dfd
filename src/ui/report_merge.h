/* SPDX-License-Identifier: MIT */
/*
 * report_merge: the reports of a CI matrix's shards (--json and --junit,
 * each shard's own) made one, as if one machine had run every target:
 * targets in the config's order, counts summed (vmtest --merge).
 *
 * Only vmtest's own reports are read.  A JUnit report is taken apart by
 * the comments vmtest writes before each target's block (its place in
 * the config and the block's length), never by what is inside a block:
 * output a guest printed cannot pass for a block of its own.
 */
#pragma once

#include <stddef.h>

#include "base/error.h"

struct report_merge_options {
	const char *const *inputs;	/* the shards' reports, JSON or JUnit, in any order */
	size_t n_inputs;
	const char *junit_path;		/* the merged JUnit report; NULL: none */
	const char *json_path;		/* the merged JSON report; NULL: none */
};

/*
 * Write the merged reports.  *ret_status: 0 when every target passed and
 * every shard of the matrix has a report, 1 otherwise (a missing shard is
 * said on stderr).  Unreadable or foreign input: an error naming the file
 * (status 2).
 */
int report_merge(const struct report_merge_options *options, int *ret_status, struct error *err);
