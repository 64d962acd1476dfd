// SPDX-License-Identifier: MIT
/*
 * vmtest: run commands and test suites inside QEMU virtual machines.
 *
 * main reads like the table of contents: parse the command line, build the
 * list of targets, select them, then list, print or run them.  It is the only
 * place that prints an error and chooses the exit status.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "accel.h"
#include "cleanup.h"
#include "cli.h"
#include "config.h"
#include "duration.h"
#include "filter.h"
#include "kernel_find.h"
#include "runner.h"
#include "version.h"

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
	if (r < 0) {
		config_free(config);
		return r;
	}
	*ret_config = config;
	return 0;
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
static void main_view_options(const struct cli_options *o, enum cli_mode mode,
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
}

/*
 * Run the selected targets one after another.  One target: its command's
 * status.  Several: 0 when all passed, 1 otherwise (not vmtest's count of
 * failures, which wraps at 256).
 */
static int main_run(const struct config *config, const struct cli_options *o, enum cli_mode mode,
		    struct error *err)
{
	struct runner_options ro = {
		.accel = o->accel,
		.tty = o->tty,
		.verbose = o->verbose,
	};
	_cleanup_(view_freep) struct view *view = NULL;
	struct view_options vo;
	size_t failed = 0;
	int last = 0;

	if (o->timeout && !duration_parse(o->timeout, &ro.timeout_s))
		return error_usage(err, "--timeout '%s': expected seconds or a duration such as 90s, 5m or 1h",
				   o->timeout);
	if (o->boot_timeout && !duration_parse(o->boot_timeout, &ro.boot_timeout_s))
		return error_usage(err, "--boot-timeout '%s': expected seconds or a duration such as 90s, 5m or 1h",
				   o->boot_timeout);
	if (accel_choose(o->accel, &(enum qemu_accel){ 0 }, &(const char *){ NULL }, err) < 0)
		return -EINVAL;
	/* Refuse what can be refused before the first VM starts. */
	for (size_t i = 0; i < config->n_targets; i++)
		if (runner_check(config, &config->targets[i], err) < 0 &&
		    err->status == EXIT_STATUS_USAGE)
			return -EINVAL;
	main_view_options(o, mode, &vo);
	if (view_new(&vo, &view, err) < 0)
		return -EINVAL;
	ro.view = view;
	/* A one-liner is a transparent wrapper: the command's stdout and
	 * stderr are vmtest's.  A config's targets report on stdout, in the
	 * live view only through its window and spools. */
	ro.out_fd = vo.live && !vo.oneliner ? -1 : STDOUT_FILENO;
	ro.err_fd = vo.live && !vo.oneliner ? -1 : vo.oneliner ? STDERR_FILENO : STDOUT_FILENO;
	runner_install_signal_handlers();
	for (size_t i = 0; i < config->n_targets && !runner_interrupted(); i++) {
		const struct target *t = &config->targets[i];
		struct runner_result result = { 0 };
		enum view_result shown;

		if (view_target_begin(view, t->name, err) < 0)
			return -EINVAL;
		if (runner_run(config, t, &ro, &result, err) < 0) {
			if (runner_interrupted())
				return -EINTR;
			snprintf(result.reason, sizeof(result.reason), "vmtest: %s", err->msg);
			result.exit_status = EXIT_STATUS_UNAVAILABLE;
			result.outcome = RUNNER_ERROR;
		}
		shown = result.outcome == RUNNER_PASSED ? VIEW_PASSED
			: result.outcome == RUNNER_FAILED ? VIEW_FAILED : VIEW_ERROR;
		view_target_end(view, shown, result.reason[0] ? result.reason : NULL);
		failed += result.outcome != RUNNER_PASSED;
		last = result.exit_status;
	}
	if (config->n_targets > 1 && !runner_interrupted())
		view_summary(view);
	if (config->n_targets == 1)
		return last;
	return failed ? EXIT_STATUS_FAILED : EXIT_STATUS_OK;
}

int main(int argc, char **argv)
{
	struct cli_options options;
	struct config *config = NULL;
	struct error err = { 0 };
	enum cli_mode mode;
	int status;

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
		for (size_t i = 0; i < config->n_targets; i++)
			puts(config->targets[i].name);
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
	if (runner_interrupted()) {
		/* On a terminal, past the "^C" it echoed. */
		const char *name = sigabbrev_np(runner_interrupted());

		fprintf(stderr, "%svmtest: interrupted by SIG%s; the VM was stopped\n",
			isatty(STDERR_FILENO) ? "\n" : "", name ? name : "?");
		return 128 + runner_interrupted();
	}
	if (status == -EINVAL)
		return main_fail(&err);
	return status < 0 ? main_fail(&err) : status;
}
