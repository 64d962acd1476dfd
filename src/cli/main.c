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
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "boot/guest_init.h"
#include "cli/cli.h"
#include "cli/load.h"
#include "cli/scheduler.h"
#include "cli/show.h"
#include "ui/report_merge.h"
#include "config/config.h"
#include "vm/interrupt.h"
#include "version.h"

/* The one place an error becomes a line on stderr and an exit status. */
static int main_fail(const struct error *err)
{
	fprintf(stderr, "vmtest: %s\n", err->msg);
	if (err->status == EXIT_STATUS_USAGE && strncmp(err->msg, "option", 6) == 0)
		fputs("Try 'vmtest --help' for more information.\n", stderr);
	return err->status ? (int)err->status : EXIT_STATUS_UNAVAILABLE;
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

/*
 * What main printed itself (--help, --version, --list, --dry-run) reached
 * stdout, as a host command checks: a full disk or a closed terminal is
 * said, and 69, rather than a silent 0.
 */
static int main_close_stdout(int status)
{
	int e = 0;

	if (fflush(stdout) != 0 || ferror(stdout))
		e = errno ? errno : EIO;
	if (!e)
		return status;
	/* A closed pipe is SIGPIPE's, as for any host command. */
	if (e == EPIPE)
		interrupt_exit();
	fprintf(stderr, "vmtest: cannot write stdout: %s\n", strerror(e));
	return EXIT_STATUS_UNAVAILABLE;
}

/* List, print or run what was selected; the exit status, or < 0 and err. */
static int main_act(const struct cli_options *o, enum cli_mode mode,
		    const struct config *config, int *ret_status, struct error *err)
{
	int r;

	*ret_status = EXIT_STATUS_OK;
	if (o->list && o->list_format)
		return show_matrix(config, o, err);
	if (o->list) {
		show_list(config);
		return 0;
	}
	r = load_check_files(config, err);
	if (r >= 0 && o->dry_run)
		return show_plan(config, o, err);
	if (r >= 0)
		r = scheduler_run(config, o, mode, ret_status, err);
	return r;
}

/* --merge: the shards' reports made one; nothing runs. */
static int main_merge(const struct cli_options *o)
{
	struct report_merge_options mo = {
		.inputs = (const char *const *)o->command,
		.n_inputs = (size_t)o->command_len,
		.junit_path = o->junit_path,
		.json_path = o->json_path,
	};
	struct error err = { 0 };
	int status;

	if (report_merge(&mo, &status, &err) < 0)
		return main_fail(&err);
	return status;
}

int main(int argc, char **argv)
{
	struct cli_options options;
	struct config *config = NULL;
	struct error err = { 0 };
	enum cli_mode mode;
	int status, r;

	main_open_standard_fds();
	if (cli_parse(argc, argv, &options, &err) < 0)
		return main_fail(&err);
	if (options.help) {
		cli_print_help(stdout);
		return main_close_stdout(EXIT_STATUS_OK);
	}
	if (options.version) {
		char inits[128];

		guest_init_list(inits, sizeof(inits));
		printf("vmtest %s\nguest inits: %s\n", VMTEST_VERSION, inits);
		return main_close_stdout(EXIT_STATUS_OK);
	}
	if (cli_mode(&options, &mode, &err) < 0)
		return main_fail(&err);
	if (mode == CLI_MODE_MERGE)
		return main_merge(&options);
	if (load_targets(&options, mode, &config, &err) < 0)
		return main_fail(&err);
	r = main_act(&options, mode, config, &status, &err);
	config_free(config);
	/* Interrupted: end as a host command would, by the signal itself. */
	interrupt_exit();
	return main_close_stdout(r < 0 ? main_fail(&err) : status);
}
