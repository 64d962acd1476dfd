// SPDX-License-Identifier: MIT
/* The command line: options, the command, and how they may combine. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

#define ARGV(...) ((char *[]){ "vmtest", __VA_ARGS__, NULL })
#define ARGC(...) ((int)(sizeof((char *[]){ "vmtest", __VA_ARGS__ }) / sizeof(char *)))
#define PARSE(o, err, ...) cli_parse(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), (o), (err))

static void parse_fails(int argc, char **argv, const char *message)
{
	struct cli_options o;
	struct error err = { 0 };
	enum cli_mode mode;
	int r = cli_parse(argc, argv, &o, &err);

	if (r >= 0)
		r = cli_mode(&o, &mode, &err);
	assert_true(r < 0);
	assert_int_equal(err.status, EXIT_STATUS_USAGE);
	assert_string_equal(err.msg, message);
}

#define PARSE_FAILS(message, ...) parse_fails(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), message)

static void test_every_option(void **state)
{
	struct cli_options o;
	struct error err = { 0 };

	assert_int_equal(PARSE(&o, &err, "-k", "bz", "--kargs=quiet", "--kvm-cpu-args", "host",
			       "-r", "/r", "-a", "x86_64", "-q", "qemu", "-vv", "--dry-run", "--",
			       "ls"),
			 0);
	assert_string_equal(o.kernel, "bz");
	assert_string_equal(o.kargs, "quiet");
	assert_string_equal(o.kvm_cpu_args, "host");
	assert_string_equal(o.rootfs, "/r");
	assert_string_equal(o.arch, "x86_64");
	assert_string_equal(o.qemu_command, "qemu");
	assert_int_equal(o.verbose, 2);
	assert_true(o.dry_run);
	assert_int_equal(o.command_len, 1);
	assert_string_equal(o.command[0], "ls");

	assert_int_equal(PARSE(&o, &err, "--config", "x.toml", "--filter", "a", "--list"), 0);
	assert_string_equal(o.config_path, "x.toml");
	assert_string_equal(o.filter, "a");
	assert_true(o.list);
	assert_int_equal(o.command_len, 0);
}

/* Options after the first command word are the command's, not vmtest's. */
static void test_command_keeps_its_options(void **state)
{
	struct cli_options o;
	struct error err = { 0 };
	enum cli_mode mode;

	assert_int_equal(PARSE(&o, &err, "-k", "bz", "ls", "-l", "--dry-run"), 0);
	assert_false(o.dry_run);
	assert_int_equal(o.command_len, 3);
	assert_string_equal(o.command[2], "--dry-run");
	assert_int_equal(cli_mode(&o, &mode, &err), 0);
	assert_int_equal(mode, CLI_MODE_ONELINER);
}

static void test_modes(void **state)
{
	struct cli_options o;
	struct error err = { 0 };
	enum cli_mode mode;

	assert_int_equal(PARSE(&o, &err, "-v"), 0);
	assert_int_equal(cli_mode(&o, &mode, &err), 0);
	assert_int_equal(mode, CLI_MODE_CONFIG);
	/* A command without -k is a one-liner on the host's kernel. */
	assert_int_equal(PARSE(&o, &err, "--", "make", "test"), 0);
	assert_int_equal(cli_mode(&o, &mode, &err), 0);
	assert_int_equal(mode, CLI_MODE_ONELINER);
	assert_null(o.kernel);
	/* An image one-liner. */
	assert_int_equal(PARSE(&o, &err, "-i", "disk.qcow2", "--uefi", "--", "true"), 0);
	assert_int_equal(cli_mode(&o, &mode, &err), 0);
	assert_int_equal(mode, CLI_MODE_ONELINER);
	assert_string_equal(o.image, "disk.qcow2");
	assert_true(o.uefi);
}

static void test_usage_errors(void **state)
{
	PARSE_FAILS("unknown option '--filer'; did you mean '--filter'?", "--filer", "x");
	PARSE_FAILS("unknown option '--dryrun'; did you mean '--dry-run'?", "--dryrun");
	PARSE_FAILS("unknown option '--bogus'", "--bogus=1");
	PARSE_FAILS("unknown option '-x'", "-x");
	PARSE_FAILS("option '-k' needs a value", "-k");
	PARSE_FAILS("option '--kargs' needs a value", "--kargs");
	PARSE_FAILS("-k/--kernel cannot be used with -c: it describes a one-liner's target; set it in t.toml instead",
		    "-c", "t.toml", "-k", "bz");
	PARSE_FAILS("--kargs cannot be used with -c: it describes a one-liner's target; set it in t.toml instead",
		    "--kargs", "quiet", "-c", "t.toml");
	PARSE_FAILS("a command cannot be given with -c: each target of t.toml has its own command",
		    "-c", "t.toml", "ls");
	PARSE_FAILS("-k/--kernel needs a command to run (or - for an interactive shell)", "-k", "bz");
	PARSE_FAILS("-a/--arch needs a command to run (or - for an interactive shell)", "-a", "x86_64");
	PARSE_FAILS("-f/--filter selects targets of a config file; a one-liner has just one",
		    "-f", "x", "-k", "bz", "ls");
	PARSE_FAILS("--list and --dry-run cannot be used together", "--list", "--dry-run");
	PARSE_FAILS("-k/--kernel cannot be used with -i/--image: an image brings its own kernel and root filesystem",
		    "-i", "d.qcow2", "-k", "bz", "true");
	PARSE_FAILS("-r/--rootfs cannot be used with -i/--image: an image brings its own kernel and root filesystem",
		    "-r", "/", "--image=d.qcow2", "true");
	PARSE_FAILS("--tty is not supported for image targets: their qemu-ga runs commands without a terminal",
		    "-i", "d.qcow2", "--tty", "true");
	PARSE_FAILS("an interactive shell (-) is not supported for image targets: their qemu-ga runs commands without a terminal",
		    "-i", "d.qcow2", "-");
	PARSE_FAILS("--uefi applies only to an image (-i/--image)", "--uefi", "true");
	PARSE_FAILS("-i/--image cannot be used with -c: it describes a one-liner's target; set it in t.toml instead",
		    "-c", "t.toml", "-i", "d.qcow2");
	PARSE_FAILS("--uefi applies only to an image (-i/--image)", "--uefi");
	PARSE_FAILS("-i/--image needs a command to run", "-i", "d.qcow2");
}

static char *command_line(int argc, char **argv, bool *interactive)
{
	struct cli_options o;
	struct error err = { 0 };
	char *line = NULL;

	assert_int_equal(cli_parse(argc, argv, &o, &err), 0);
	if (cli_command_line(&o, &line, interactive, &err) < 0)
		fail_msg("%s", err.msg);
	return line;
}

#define COMMAND_LINE(interactive, ...) command_line(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), interactive)

static void test_command_line(void **state)
{
	bool interactive;
	char *line;

	/* One word goes to the shell verbatim, pipes and all. */
	line = COMMAND_LINE(&interactive, "-k", "bz", "uname -r | grep 6");
	assert_string_equal(line, "uname -r | grep 6");
	assert_false(interactive);
	free(line);
	/* Several words are an argv and arrive exactly. */
	line = COMMAND_LINE(&interactive, "-k", "bz", "--", "go", "test", "-run", "A B", "it's", "$HOME", "");
	assert_string_equal(line, "go test -run 'A B' 'it'\\''s' '$HOME' ''");
	free(line);
	line = COMMAND_LINE(&interactive, "-k", "bz", "-");
	assert_null(line);
	assert_true(interactive);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_option),
		cmocka_unit_test(test_command_keeps_its_options),
		cmocka_unit_test(test_modes),
		cmocka_unit_test(test_usage_errors),
		cmocka_unit_test(test_command_line),
	};

	return cmocka_run_group_tests_name("cli", tests, NULL, NULL);
}
