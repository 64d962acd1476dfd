// SPDX-License-Identifier: MIT
#include "cli/show.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "base/arch.h"
#include "cli/scheduler.h"
#include "targets/record.h"
#include "targets/runner.h"
#include "ui/sanitize.h"
#include "ui/view.h"

/* A name holding a newline or an escape sequence must not forge lines in
 * a script's input or steer a CI log. */
void show_list(const struct config *config)
{
	for (size_t i = 0; i < config->n_targets; i++) {
		const char *name = config->targets[i].name;
		_cleanup_free_ char *clean = sanitize_line(name, strlen(name),
							   &(struct sanitize_options){ 0 }, NULL);

		puts(clean ? clean : "");
	}
}

/*
 * One target's QEMU command line, or why it cannot be planned when its
 * kernel is one this vmtest cannot boot (an old boot protocol): that is
 * shown in the line's place, not an error of the dry run.
 */
static int show_target_plan(const struct config *config, const struct target *t,
			    struct run_options *ro, const struct record_observer *observer,
			    char **ret_line, struct error *err)
{
	struct record *record = NULL;
	int r = runner_check(config, t, ro, err);

	if (r >= 0)
		r = record_new((size_t)(t - config->targets), t->name, observer, false, &record, err);
	if (r >= 0)
		r = runner_plan(config, t, ro, record, ret_line, err);
	record_free(record);
	if (r < 0 && err->code == ENOTSUP) {
		*ret_line = strdup(err->msg);
		return 0;
	}
	return r;
}

/* Once, after the first target it applies to is planned: why not KVM. */
static void show_accel_notice(const struct target *t, const char *why, struct view *view,
			      bool *told)
{
	if (why && !*told && strcmp(t->arch, arch_host()) == 0) {
		view_log(view, 0, "using TCG emulation: %s", why);
		*told = true;
	}
}

int show_plan(const struct config *config, const struct cli_options *o, struct error *err)
{
	struct view_options vo = { .fd = STDERR_FILENO, .verbose = o->verbose };
	struct vm_forward forwards[CLI_MAX_FORWARDS];
	struct run_options ro;
	_cleanup_(view_freep) struct view *view = NULL;
	struct record_observer observer;
	const char *why = NULL;
	bool told = false;
	unsigned jobs;
	int r;

	r = scheduler_run_options(o, &ro, forwards, &why, &jobs, err);
	if (r >= 0)
		r = view_new(&vo, &view, err);
	if (r < 0)
		return r;
	view_observe(view, &observer);
	/* Only vmtest's lines: a dry run has no stages or verdicts to show. */
	observer.begin = NULL;
	observer.stage = NULL;
	observer.end = NULL;
	observer.forget = NULL;
	for (size_t i = 0; i < config->n_targets; i++) {
		const struct target *t = &config->targets[i];
		_cleanup_free_ char *line = NULL;

		r = show_target_plan(config, t, &ro, &observer, &line, err);
		if (r < 0)
			return error_prefix(err, "target '%s'", t->name);
		show_accel_notice(t, why, view, &told);
		if (i)
			putchar('\n');
		config_print_target(stdout, config, t);
		printf("# qemu: %s\n", line ? line : "");
	}
	return 0;
}
