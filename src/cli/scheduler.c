// SPDX-License-Identifier: MIT
#include "cli/scheduler.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "base/arch.h"
#include "base/duration.h"
#include "boot/accel.h"
#include "targets/record.h"
#include "targets/runner.h"
#include "ui/report.h"
#include "ui/sanitize.h"
#include "ui/view.h"
#include "vm/interrupt.h"
#include "vm/run_dir.h"
#include "vm/virtiofsd.h"

/* What the targets of a run share, workers included. */
struct scheduler {
	const struct config *config;
	struct run_options ro;
	struct vm_forward forwards[CLI_MAX_FORWARDS];	/* ro's */
	struct view *view;
	struct record_observer observer;	/* the view's */
	struct report *report;
	pthread_mutex_t lock;
	size_t next;			/* the next target to start */
	size_t failed;
	int last;			/* the exit status of the last target */
};

static void scheduler_count(struct scheduler *s, bool failed, int status)
{
	pthread_mutex_lock(&s->lock);
	s->failed += failed;
	s->last = status;
	pthread_mutex_unlock(&s->lock);
}

static void scheduler_run_target(struct scheduler *s, size_t index)
{
	const struct target *t = &s->config->targets[index];
	struct record *record = NULL;
	struct error err = { 0 };

	if (record_new(index, t->name, &s->observer, true, &record, &err) < 0) {
		view_log(s->view, 0, "target '%s': %s", t->name, err.msg);
		scheduler_count(s, true, EXIT_STATUS_UNAVAILABLE);
		return;
	}
	if (runner_run(s->config, t, &s->ro, record) < 0) {
		record_free(record);
		return; /* interrupted: nothing to report */
	}
	/* A report that cannot be written ends the run: the targets still
	 * to come would leave nothing where the user looks for them. */
	if (report_add(s->report, record, &err) < 0)
		interrupt_fail("%s", err.msg);
	scheduler_count(s, record->outcome != RECORD_PASSED, record->exit_status);
	record_free(record);
}

static void *scheduler_worker(void *arg)
{
	struct scheduler *s = arg;

	for (;;) {
		size_t i;

		pthread_mutex_lock(&s->lock);
		i = s->next++;
		pthread_mutex_unlock(&s->lock);
		if (i >= s->config->n_targets || interrupt_requested())
			return NULL;
		scheduler_run_target(s, i);
	}
}

/* Up to jobs workers; with no thread to be had, one at a time. */
static void scheduler_work(struct scheduler *s, unsigned jobs)
{
	pthread_t *threads = jobs > 1 ? calloc(jobs, sizeof(*threads)) : NULL;
	unsigned started = 0;

	for (; threads && started < jobs; started++)
		if (pthread_create(&threads[started], NULL, scheduler_worker, s) != 0)
			break;
	if (!started)
		scheduler_worker(s);
	for (unsigned i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	free(threads);
}

/* An environment variable set to something other than "" (no-color.org). */
static bool scheduler_env_set(const char *name)
{
	const char *v = getenv(name);

	return v && *v;
}

/*
 * The live view on a terminal: stdout for a config, stderr (vmtest's own
 * stream) for a one-liner; never on a terminal that cannot move its cursor.
 */
static void scheduler_view_options(const struct cli_options *o, enum cli_mode mode,
				   unsigned jobs, struct view_options *ret)
{
	const char *term = getenv("TERM");

	*ret = (struct view_options){
		.fd = mode == CLI_MODE_ONELINER ? STDERR_FILENO : STDOUT_FILENO,
		.oneliner = mode == CLI_MODE_ONELINER,
		.verbose = o->verbose,
		.log_path = o->log_path,
	};
	ret->live = isatty(ret->fd) && !o->no_ui && !scheduler_env_set("VMTEST_NO_UI") &&
		    !(term && strcmp(term, "dumb") == 0);
	ret->color = ret->live && !scheduler_env_set("NO_COLOR");
	ret->prefix = !ret->live && o->prefix && mode == CLI_MODE_CONFIG;
	ret->whole_blocks = !ret->live && !ret->prefix && jobs > 1;
}

/* -j's default: one VM at a time under TCG, else as many as the CPUs hold. */
static unsigned scheduler_default_jobs(const struct config *config, enum qemu_accel accel)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned widest = 1;

	if (accel == QEMU_ACCEL_TCG || cpus < 1)
		return 1;
	for (size_t i = 0; i < config->n_targets; i++)
		if (config->targets[i].vm.num_cpus > widest)
			widest = config->targets[i].vm.num_cpus;
	return (unsigned)cpus / widest ? (unsigned)cpus / widest : 1;
}

/* Whether any target runs on the host's architecture (the others are emulated anyway). */
static bool scheduler_any_native(const struct config *config)
{
	for (size_t i = 0; i < config->n_targets; i++)
		if (strcmp(config->targets[i].arch, arch_host()) == 0)
			return true;
	return false;
}

int scheduler_run_options(const struct cli_options *o, struct run_options *ro,
			  struct vm_forward *forwards, const char **ret_why, unsigned *ret_jobs,
			  struct error *err)
{
	*ro = (struct run_options){ .tty = o->tty, .no_snapshot = o->no_snapshot,
				    .filesystem = -1, .kernel_warnings = -1, .results = -1,
				    .forwards = forwards, .n_forwards = o->n_forwards };
	*ret_jobs = 0;
	if (cli_network(o, &ro->network, forwards, err) < 0)
		return -EINVAL;
	ro->dump = o->output_dir || o->dump_dir;
	ro->dump_on_timeout = o->dump_dir != NULL;
	if (o->gdb_wait && !o->gdb)
		return error_usage(err, "--gdb-wait needs --gdb PORT");
	if (o->gdb) {
		char *end;
		unsigned long port = strtoul(o->gdb, &end, 10);

		if (!*o->gdb || *end || port < 1 || port > 65535)
			return error_usage(err, "--gdb '%s': expected a port (1 to 65535)", o->gdb);
		ro->gdb_port = (unsigned)port;
		ro->gdb_wait = o->gdb_wait;
	}
	if (o->kernel_warnings &&
	    (ro->kernel_warnings = vm_kernel_warnings_parse(o->kernel_warnings)) < 0)
		return error_usage(err, "--kernel-warnings '%s': expected fail or ignore",
				   o->kernel_warnings);
	if (o->results && (ro->results = vm_results_parse(o->results)) < 0)
		return error_usage(err, "--results '%s': expected none, tap, ktap, gotest-json or kunit",
				   o->results);
	ro->results_file = o->results_file;
	if (o->retry_failed && cli_parse_retries(o->retry_failed, &ro->retry_failed, err) < 0)
		return -EINVAL;
	if (o->filesystem && (ro->filesystem = vm_filesystem_parse(o->filesystem)) < 0)
		return error_usage(err, "--filesystem '%s': expected auto, virtiofs or 9p",
				   o->filesystem);
	if (o->timeout && !duration_parse(o->timeout, &ro->timeout_s))
		return error_usage(err, "--timeout '%s': expected seconds or a duration such as 90s, 5m or 1h",
				   o->timeout);
	if (o->boot_timeout && !duration_parse(o->boot_timeout, &ro->boot_timeout_s))
		return error_usage(err, "--boot-timeout '%s': expected seconds or a duration such as 90s, 5m or 1h",
				   o->boot_timeout);
	if (o->jobs && cli_parse_jobs(o->jobs, ret_jobs, err) < 0)
		return -EINVAL;
	if (*ret_jobs > 1 && o->tty)
		return error_usage(err, "--tty needs the terminal for one target at a time: not with -j %u",
				   *ret_jobs);
	if (accel_request_parse(o->accel, &ro->accel_request, err) < 0)
		return -EINVAL;
	accel_choose(ro->accel_request, &ro->accel, ret_why);
	return 0;
}

/* Refuse what can be refused before the first VM starts. */
static int scheduler_check(const struct config *config, const struct run_options *ro,
			   struct error *err)
{
	for (size_t i = 0; i < config->n_targets; i++) {
		int r = runner_check(config, &config->targets[i], ro, err);

		if (r < 0)
			return r;
	}
	return 0;
}

/* Once a run: a read-write share of / is allowed, and said. */
static void scheduler_warn_writable_root(const struct config *config)
{
	for (size_t i = 0; i < config->n_targets; i++) {
		const struct target *t = &config->targets[i];
		const struct mount *m = config_writable_root_mount(t);
		_cleanup_free_ char *name = NULL;

		if (!m)
			continue;
		name = sanitize_line(t->name, strlen(t->name), &(struct sanitize_options){ 0 }, NULL);
		fprintf(stderr, "vmtest: warning: target '%s' shares the host's / read-write at %s: "
			"the guest can change every file you can\n", name ? name : "", m->guest_path);
		return;
	}
}

/*
 * Where the command's output goes.  A one-liner is a transparent wrapper:
 * the command's stdout and stderr are vmtest's.  A config's targets report
 * on stdout as they run, or only through the spools when the view shows
 * them later (the live view, several at once, --prefix).
 */
static void scheduler_streams(const struct view_options *vo, struct run_options *ro)
{
	if (vo->oneliner) {
		ro->out_fd = STDOUT_FILENO;
		ro->err_fd = STDERR_FILENO;
	} else if (vo->live || vo->whole_blocks || vo->prefix) {
		ro->out_fd = ro->err_fd = -1;
	} else {
		ro->out_fd = ro->err_fd = STDOUT_FILENO;
	}
}

static int scheduler_status(const struct scheduler *s, bool report_failed)
{
	if (report_failed)
		return EXIT_STATUS_UNAVAILABLE;
	if (s->config->n_targets == 1)
		return s->last;
	return s->failed ? EXIT_STATUS_FAILED : EXIT_STATUS_OK;
}

int scheduler_run(const struct config *config, const struct cli_options *o, enum cli_mode mode,
		  int *ret_status, struct error *err)
{
	_cleanup_(view_freep) struct view *view = NULL;
	struct scheduler s = { .config = config, .lock = PTHREAD_MUTEX_INITIALIZER };
	struct report_options rep = {
		.junit_path = o->junit_path,
		.json_path = o->json_path,
		.output_dir = o->output_dir,
		.dump_dir = o->dump_dir,
		.suite_name = config->path ? config->path : "vmtest",
		.shard = o->shard,
		.filter = o->filter,
	};
	struct view_options vo;
	const char *why = NULL;
	unsigned jobs;
	bool report_failed = false;
	int r;

	r = scheduler_run_options(o, &s.ro, s.forwards, &why, &jobs, err);
	if (r >= 0)
		r = scheduler_check(config, &s.ro, err);
	if (r < 0)
		return r;
	if (!jobs)
		jobs = scheduler_default_jobs(config, s.ro.accel);
	if (jobs > config->n_targets)
		jobs = config->n_targets ? (unsigned)config->n_targets : 1;
	scheduler_warn_writable_root(config);
	r = report_new(&rep, config, &s.report, err);
	if (r < 0)
		return r;
	scheduler_view_options(o, mode, jobs, &vo);
	r = view_new(&vo, &view, err);
	if (r < 0) {
		report_free(s.report);
		return r;
	}
	s.view = view;
	view_observe(view, &s.observer);
	scheduler_streams(&vo, &s.ro);
	if (why && scheduler_any_native(config))
		view_log(view, 0, "using TCG emulation: %s", why);
	if (!config->n_targets)
		view_log(view, 0, "shard %s of %s has no targets", o->shard, config->path);
	interrupt_install();
	run_dir_sweep();
	virtiofsd_sweep();
	scheduler_work(&s, jobs);
	if (config->n_targets > 1 && !interrupt_requested())
		view_summary(view);
	if (report_finish(s.report, err) < 0) {
		view_log(view, 0, "%s", err->msg);
		report_failed = true;
	}
	report_free(s.report);
	*ret_status = scheduler_status(&s, report_failed);
	return 0;
}
