// SPDX-License-Identifier: MIT
#include "cli/show.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "base/arch.h"
#include "cli/load.h"
#include "cli/scheduler.h"
#include "targets/record.h"
#include "targets/runner.h"
#include "ui/sanitize.h"
#include "ui/view.h"
#include "vm/json_io.h"

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

/* {"include": [{"shard": "K/N", "targets": [...], "time": S}]} */
static struct json_value *show_github(const struct config *config, unsigned n,
				      const unsigned *slices, const double *loads, bool timed)
{
	struct json_value *doc = json_io_new_object(), *include = json_io_new_array();
	int r = doc && include ? 0 : -ENOMEM;

	for (unsigned k = 1; r >= 0 && k <= n; k++) {
		struct json_value *entry = json_io_new_object(), *names = json_io_new_array();
		char shard[32];

		r = entry && names ? 0 : -ENOMEM;
		snprintf(shard, sizeof(shard), "%u/%u", k, n);
		for (size_t i = 0; r >= 0 && i < config->n_targets; i++)
			if (slices[i] == k)
				r = json_io_append_string(names, config->targets[i].name);
		if (r >= 0)
			r = json_io_set_string(entry, "shard", shard);
		if (r >= 0) {
			r = json_io_set(entry, "targets", names);
			names = NULL;
		}
		if (r >= 0 && timed)
			r = json_io_set_real(entry, "time", loads[k - 1]);
		if (r >= 0) {
			r = json_io_append(include, entry);
			entry = NULL;
		}
		json_io_unref(names);
		json_io_unref(entry);
	}
	if (r >= 0) {
		r = json_io_set(doc, "include", include);
		include = NULL;
	}
	json_io_unref(include);
	if (r < 0)
		return json_io_unref(doc);
	return doc;
}

/* [{"VMTEST_SHARD": ["1/N", ..., "N/N"]}] */
static struct json_value *show_gitlab(unsigned n)
{
	struct json_value *doc = json_io_new_array(), *entry = json_io_new_object();
	struct json_value *shards = json_io_new_array();
	int r = doc && entry && shards ? 0 : -ENOMEM;

	for (unsigned k = 1; r >= 0 && k <= n; k++) {
		char shard[32];

		snprintf(shard, sizeof(shard), "%u/%u", k, n);
		r = json_io_append_string(shards, shard);
	}
	if (r >= 0) {
		r = json_io_set(entry, "VMTEST_SHARD", shards);
		shards = NULL;
	}
	if (r >= 0) {
		r = json_io_append(doc, entry);
		entry = NULL;
	}
	json_io_unref(shards);
	json_io_unref(entry);
	if (r < 0)
		return json_io_unref(doc);
	return doc;
}

int show_matrix(const struct config *config, const struct cli_options *o, struct error *err)
{
	unsigned n = config->n_targets ? (unsigned)config->n_targets : 1;
	_cleanup_free_ unsigned *slices = NULL;
	_cleanup_free_ double *loads = NULL;
	_cleanup_json_ struct json_value *doc = NULL;
	_cleanup_free_ char *text = NULL;
	int r;

	if (o->shard)
		return error_usage(err, "--list=%s plans every shard of the matrix: drop --shard %s "
				   "(a machine of the matrix runs it)", o->list_format, o->shard);
	if (o->shards && cli_parse_shards(o->shards, &n, err) < 0)
		return -EINVAL;
	slices = calloc(config->n_targets ? config->n_targets : 1, sizeof(*slices));
	loads = calloc(n, sizeof(*loads));
	if (!slices || !loads)
		return error_set(err, ENOMEM, "out of memory");
	r = load_slices(config, n, o->timings, slices, loads, err);
	if (r < 0)
		return r;
	doc = strcmp(o->list_format, "gitlab") == 0
		      ? show_gitlab(n)
		      : show_github(config, n, slices, loads, o->timings != NULL);
	text = doc ? json_io_dump(doc) : NULL;
	if (!text)
		return error_set(err, ENOMEM, "out of memory");
	puts(text);
	return 0;
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

	if (r < 0)
		return r; /* its messages name the target */
	r = record_new((size_t)(t - config->targets), t->name, observer, false, &record, err);
	if (r >= 0)
		r = runner_plan(config, t, ro, record, ret_line, err);
	record_free(record);
	if (r < 0 && err->code == ENOTSUP) {
		*ret_line = strdup(err->msg);
		return 0;
	}
	return r < 0 ? error_prefix(err, "target '%s'", t->name) : r;
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
			return r;
		show_accel_notice(t, why, view, &told);
		if (i)
			putchar('\n');
		config_print_target(stdout, config, t);
		printf("# qemu: %s\n", line ? line : "");
	}
	return 0;
}
