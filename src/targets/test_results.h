/* SPDX-License-Identifier: MIT */
/*
 * test_results: a target's tests (vm.results, --results) through one
 * attempt at it: the parser fed the command's output as it arrives, or
 * the file the command writes (vm.results_file), or the kernel's log
 * (KUnit) read once QEMU has stopped; then the expected failures.
 *
 * The parser (results/) never fails and never touches the output: what
 * the command prints reaches the user and the spool whole, as without it.
 */
#pragma once

#include "config/config.h"
#include "results/results.h"
#include "targets/run_options.h"

struct target_run;

/* The format a target's tests come in for this run: --results, else its own. */
enum vm_results test_results_format(const struct target *t, const struct run_options *o);

/* The file they come from (absolute), or NULL for the output or the log. */
const char *test_results_file(const struct target *t, const struct run_options *o);

/* What cannot work, before anything starts (status 2). */
int test_results_check(const struct config *config, const struct target *t,
		       const struct run_options *o, struct error *err);

/* Before the command: the attempt's parser, and run->listener to feed it. */
int test_results_begin(struct target_run *run, struct error *err);

/*
 * QEMU has stopped, its run directory still there: the file or the log
 * read, the parser finished, the expected failures applied.  Then
 * run->results holds the attempt's tests (NULL when none were asked for).
 */
void test_results_end(struct target_run *run);

/*
 * "3 tests failed: a, b, c" or "2 of 40 tests never ran", what a target's
 * reason says of its tests; "" when they do not fail it.
 */
void test_results_reason(const struct results *results, char *buf, size_t len);
