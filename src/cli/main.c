// SPDX-License-Identifier: MIT
/*
 * vmtest: run commands and test suites inside QEMU virtual machines.
 *
 * main reads like the table of contents: parse the command line, build the
 * list of targets, select them, then list, print or run them.  It is the only
 * place that prints an error and chooses the exit status.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "boot/accel.h"
#include "cleanup.h"
#include "version.h"
#include "base/duration.h"
#include "boot/kernel_find.h"
#include "cli/cli.h"
#include "config/config.h"
#include "config/filter.h"
#include "targets/runner.h"
#include "ui/report.h"
#include "ui/sanitize.h"
#include "vm/interrupt.h"

#define HOST_BOOT_DIR "/boot"

static int main_fail(const struct error *err)
{
	fprintf(stderr, "vmtest: %s\n", err->msg);
	if (err->status == EXIT_STATUS_USAGE && strncmp(err->msg, "option", 6) == 0)
		fputs("Try 'vmtest --help' for more information.\n", stderr);
	return err->status ? (int)err->status : EXIT_STATUS_UNAVAILABLE;
}

static int main_load_oneliner(const struct cli_options *o, struct config **ret_config,
			      struct error *err)
{
	_cleanup_free_ char *command = NULL, *host_kernel = NULL, *cwd = NULL;
	struct oneliner spec = {
		.kernel = o->kernel,
		.image = o->image,
		.uefi = o->uefi,
		.kernel_args = o->kargs,
		.rootfs = o->rootfs,
		.arch = o->arch,
		.qemu_command = o->qemu_command,
		.kvm_cpu_args = o->kvm_cpu_args,
	};
	int r;

	r = cli_command_line(o, &command, &spec.interactive, err);
	if (r < 0)
		return r;
	spec.command = command;
	if (!spec.kernel && !spec.image) {
		struct utsname u;

		uname(&u);
		r = kernel_find_host(HOST_BOOT_DIR, u.release, &host_kernel, err);
		if (r < 0)
			return r;
		spec.kernel = host_kernel;
	}
	cwd = getcwd(NULL, 0);
	if (!cwd)
		return error_set_errno(err, errno, "cannot read the current directory");
	return config_new_oneliner(&spec, cwd, ret_config, err);
}

static int main_load(const struct cli_options *o, enum cli_mode mode, struct config **ret_config,
		     struct error *err)
{
	struct config *config = NULL;
	int r;

	if (mode == CLI_MODE_ONELINER)
		return main_load_oneliner(o, ret_config, err);
	r = config_load_file(o->config_path ? o->config_path : CONFIG_DEFAULT_FILE, &config, err);
	if (r < 0)
		return r;
	if (o->filter) {
		r = filter_targets(config, o->filter, err);
		if (r >= 0 && config->n_targets == 0)
			r = error_usage(err, "no target of %s matches --filter '%s'", config->path,
					o->filter);
	}
	if (r >= 0 && o->shard) {
		unsigned k, n;

		r = cli_parse_shard(o->shard, &k, &n, err);
		if (r >= 0)
			config_keep_shard(config, k, n);
	}
	if (r < 0) {
		config_free(config);
		return r;
	}
	*ret_config = config;
	return 0;
}

/* --list: one name a line, sanitized: a name holding a newline or an escape
 * sequence must not forge lines in a script's input or steer a CI log. */
static void main_list(const struct config *config)
{
	for (size_t i = 0; i < config->n_targets; i++) {
		const char *name = config->targets[i].name;
		_cleanup_free_ char *clean = sanitize_line(name, strlen(name),
							   &(struct sanitize_options){ 0 }, NULL);

		puts(clean ? clean : "");
	}
}

/*
 * fds 0, 1 and 2 open before anything else opens a file: started with one
 * closed (`vmtest >&-`), the first file vmtest opens would become it, and
 * the command's output would be written into a spool or a report.
 */
static void main_open_standard_fds(void)
{
	for (int fd = 0; fd <= 2; fd++) {
		int null_fd;

		if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
			continue;
		null_fd = open("/dev/null", fd ? O_WRONLY : O_RDONLY);
		if (null_fd >= 0 && null_fd != fd) {
			dup2(null_fd, fd);
			close(null_fd);
		}
	}
}

static int main_check_files(const struct config *config, struct error *err)
{
	for (size_t i = 0; i < config->n_targets; i++) {
		int r = config_check_files(config, &config->targets[i], err);

		if (r < 0)
			return r;
	}
	return 0;
}

/* --dry-run: each target as TOML, with its QEMU command line as a comment. */
static int main_print_targets(const struct config *config, const struct cli_options *o,
			      struct error *err)
{
	struct view_options vo = { .fd = STDERR_FILENO, .verbose = o->verbose };
	struct runner_options ro = { .verbose = o->verbose, .accel = o->accel };
	_cleanup_(view_freep) struct view *view = NULL;

	if (view_new(&vo, &view, err) < 0)
		return -1;
	ro.view = view;
	for (size_t i = 0; i < config->n_targets; i++) {
		_cleanup_free_ char *line = NULL;
		int r = runner_plan(config, &config->targets[i], &ro, &line, err);

		if (r == -ENOTSUP) {
			line = strdup(err->msg);
		} else if (r < 0) {
			return error_prefix(err, "target '%s'", config->targets[i].name);
		}
		if (i)
			putchar('\n');
		config_print_target(stdout, config, &config->targets[i]);
		printf("# qemu: %s\n", line ? line : "");
	}
	return 0;
}

/* What the targets of a run share, workers included. */
struct main_run {
	const struct config *config;
	struct runner_options ro;	/* each target's copy gets its view_target */
	struct view *view;
	struct report *report;
	pthread_mutex_t lock;
	size_t next;			/* the next target to start */
	size_t failed;
	int last;			/* the exit status of the last target */
	bool report_failed;
};

static enum report_status main_report_status(const struct runner_result *result)
{
	switch (result->outcome) {
	case RUNNER_PASSED:
		return REPORT_PASSED;
	case RUNNER_FAILED:
		return result->exit_status == RUNNER_EXIT_TIMEOUT &&
		       strncmp(result->reason, "Timed out", 9) == 0 ? REPORT_TIMED_OUT
								    : REPORT_FAILED;
	case RUNNER_ERROR:
	default:
		return REPORT_ERROR;
	}
}

static void main_run_target(struct main_run *run, size_t index)
{
	const struct target *t = &run->config->targets[index];
	struct runner_options ro = run->ro;
	struct runner_result result = { 0 };
	struct report_entry entry = { .index = index };
	struct view_target *vt;
	struct error err = { 0 };
	enum view_result shown;

	if (view_target_begin(run->view, t->name, &vt, &err) < 0) {
		snprintf(result.reason, sizeof(result.reason), "vmtest: %s", err.msg);
		view_log(run->view, NULL, 0, "target '%s': %s", t->name, err.msg);
		pthread_mutex_lock(&run->lock);
		run->failed++;
		run->last = EXIT_STATUS_UNAVAILABLE;
		pthread_mutex_unlock(&run->lock);
		return;
	}
	ro.target = vt;
	if (runner_run(run->config, t, &ro, &result, &err) < 0) {
		if (runner_interrupted()) {
			view_target_free(vt);
			free(result.qemu_line);
			return;
		}
		snprintf(result.reason, sizeof(result.reason), "vmtest: %s", err.msg);
		result.exit_status = err.status ? (int)err.status : EXIT_STATUS_UNAVAILABLE;
		result.outcome = RUNNER_ERROR;
	}
	shown = result.outcome == RUNNER_PASSED ? VIEW_PASSED
		: result.outcome == RUNNER_FAILED ? VIEW_FAILED : VIEW_ERROR;
	view_target_end(vt, shown, result.reason[0] ? result.reason : NULL);
	entry.status = main_report_status(&result);
	entry.exit_status = result.exit_status;
	entry.reason = result.reason[0] ? result.reason : NULL;
	entry.console_fd = view_console_fd(vt);
	entry.output_fd = view_output_fd(vt);
	entry.qemu_line = result.qemu_line;
	view_target_times(vt, entry.stage_ms, &entry.total_ms);
	/* A report that cannot be written ends the run: the targets still
	 * to come would leave nothing where the user looks for them. */
	if (report_add(run->report, &entry, &err) < 0)
		interrupt_fail("%s", err.msg);
	view_target_free(vt);
	free(result.qemu_line);
	pthread_mutex_lock(&run->lock);
	run->failed += result.outcome != RUNNER_PASSED;
	run->last = result.exit_status;
	pthread_mutex_unlock(&run->lock);
}

static void *main_worker(void *arg)
{
	struct main_run *run = arg;

	for (;;) {
		size_t i;

		pthread_mutex_lock(&run->lock);
		i = run->next++;
		pthread_mutex_unlock(&run->lock);
		if (i >= run->config->n_targets || runner_interrupted())
			return NULL;
		main_run_target(run, i);
	}
}

/* An environment variable set to something other than "" (no-color.org). */
static bool main_env_set(const char *name)
{
	const char *v = getenv(name);

	return v && *v;
}

/*
 * The live view on a terminal: stdout for a config, stderr (vmtest's own
 * stream) for a one-liner; never on a terminal that cannot move its cursor.
 */
static void main_view_options(const struct cli_options *o, enum cli_mode mode, unsigned jobs,
			      struct view_options *ret)
{
	const char *term = getenv("TERM");

	*ret = (struct view_options){
		.fd = mode == CLI_MODE_ONELINER ? STDERR_FILENO : STDOUT_FILENO,
		.oneliner = mode == CLI_MODE_ONELINER,
		.verbose = o->verbose,
		.log_path = o->log_path,
	};
	ret->live = isatty(ret->fd) && !o->no_ui && !main_env_set("VMTEST_NO_UI") &&
		    !(term && strcmp(term, "dumb") == 0);
	ret->color = ret->live && !main_env_set("NO_COLOR");
	ret->prefix = !ret->live && o->prefix && mode == CLI_MODE_CONFIG;
	ret->whole_blocks = !ret->live && !ret->prefix && jobs > 1;
}

/* Once a run: a read-write share of / is allowed, and said. */
static void main_warn_writable_root(const struct config *config)
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

/* -j's default: one VM at a time under TCG, else as many as the CPUs hold. */
static unsigned main_default_jobs(const struct config *config, enum qemu_accel accel)
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

/*
 * Run the selected targets, up to -j at once.  One target: its command's
 * status.  Several: 0 when all passed, 1 otherwise (not vmtest's count of
 * failures, which wraps at 256).
 */
static int main_run(const struct config *config, const struct cli_options *o, enum cli_mode mode,
		    struct error *err)
{
	_cleanup_(view_freep) struct view *view = NULL;
	struct main_run run = {
		.config = config,
		.ro = { .accel = o->accel, .tty = o->tty, .verbose = o->verbose },
		.lock = PTHREAD_MUTEX_INITIALIZER,
	};
	struct report_options rep = {
		.junit_path = o->junit_path,
		.json_path = o->json_path,
		.output_dir = o->output_dir,
	};
	_cleanup_free_ char *suite = NULL;
	enum qemu_accel accel = QEMU_ACCEL_TCG;
	struct view_options vo;
	unsigned jobs = 0;
	int r;

	if (o->timeout && !duration_parse(o->timeout, &run.ro.timeout_s))
		return error_usage(err, "--timeout '%s': expected seconds or a duration such as 90s, 5m or 1h",
				   o->timeout);
	if (o->boot_timeout && !duration_parse(o->boot_timeout, &run.ro.boot_timeout_s))
		return error_usage(err, "--boot-timeout '%s': expected seconds or a duration such as 90s, 5m or 1h",
				   o->boot_timeout);
	if (o->jobs && cli_parse_jobs(o->jobs, &jobs, err) < 0)
		return -EINVAL;
	if (jobs > 1 && o->tty)
		return error_usage(err, "--tty needs the terminal for one target at a time: not with -j %u",
				   jobs);
	if (accel_choose(o->accel, &accel, &(const char *){ NULL }, err) < 0)
		return -EINVAL;
	if (!jobs)
		jobs = main_default_jobs(config, accel);
	if (jobs > config->n_targets)
		jobs = config->n_targets ? (unsigned)config->n_targets : 1;
	/* Refuse what can be refused before the first VM starts. */
	for (size_t i = 0; i < config->n_targets; i++)
		if (runner_check(config, &config->targets[i], err) < 0 &&
		    err->status == EXIT_STATUS_USAGE)
			return -EINVAL;
	main_warn_writable_root(config);
	suite = config->path ? strdup(config->path) : strdup("vmtest");
	if (!suite)
		return error_set(err, ENOMEM, "out of memory");
	rep.suite_name = suite;
	r = report_new(&rep, config, &run.report, err);
	if (r < 0)
		return -EINVAL;
	main_view_options(o, mode, jobs, &vo);
	if (view_new(&vo, &view, err) < 0) {
		report_free(run.report);
		return -EINVAL;
	}
	run.view = run.ro.view = view;
	/* A one-liner is a transparent wrapper: the command's stdout and
	 * stderr are vmtest's.  A config's targets report on stdout as they
	 * run, or only through the view's spools when it shows them later
	 * (the live view, several at once, --prefix). */
	if (vo.oneliner) {
		run.ro.out_fd = STDOUT_FILENO;
		run.ro.err_fd = STDERR_FILENO;
	} else if (vo.live || vo.whole_blocks || vo.prefix) {
		run.ro.out_fd = run.ro.err_fd = -1;
	} else {
		run.ro.out_fd = run.ro.err_fd = STDOUT_FILENO;
	}
	if (!config->n_targets)
		view_log(view, NULL, 0, "shard %s of %s has no targets", o->shard, config->path);
	interrupt_install();
	runner_remove_stale_run_dirs();
	if (jobs <= 1) {
		main_worker(&run);
	} else {
		pthread_t *threads = calloc(jobs, sizeof(*threads));
		unsigned started = 0;

		for (; threads && started < jobs; started++)
			if (pthread_create(&threads[started], NULL, main_worker, &run) != 0)
				break;
		if (!started) /* no threads to be had: one at a time */
			main_worker(&run);
		for (unsigned i = 0; i < started; i++)
			pthread_join(threads[i], NULL);
		free(threads);
	}
	if (config->n_targets > 1 && !runner_interrupted())
		view_summary(view);
	if (report_finish(run.report, err) < 0) {
		view_log(view, NULL, 0, "%s", err->msg);
		run.report_failed = true;
	}
	report_free(run.report);
	if (run.report_failed)
		return EXIT_STATUS_UNAVAILABLE;
	if (config->n_targets == 1)
		return run.last;
	return run.failed ? EXIT_STATUS_FAILED : EXIT_STATUS_OK;
}

int main(int argc, char **argv)
{
	struct cli_options options;
	struct config *config = NULL;
	struct error err = { 0 };
	enum cli_mode mode;
	int status;

	main_open_standard_fds();
	if (cli_parse(argc, argv, &options, &err) < 0)
		return main_fail(&err);
	if (options.help) {
		cli_print_help(stdout);
		return EXIT_STATUS_OK;
	}
	if (options.version) {
		printf("vmtest %s\n", VMTEST_VERSION);
		return EXIT_STATUS_OK;
	}
	if (cli_mode(&options, &mode, &err) < 0 || main_load(&options, mode, &config, &err) < 0)
		return main_fail(&err);
	if (options.list) {
		main_list(config);
		config_free(config);
		return EXIT_STATUS_OK;
	}
	if (main_check_files(config, &err) < 0) {
		config_free(config);
		return main_fail(&err);
	}
	if (options.dry_run)
		status = main_print_targets(config, &options, &err) < 0 ? -1 : 0;
	else
		status = main_run(config, &options, mode, &err);
	config_free(config);
	interrupt_exit();
	if (status == -EINVAL)
		return main_fail(&err);
	return status < 0 ? main_fail(&err) : status;
}
