// SPDX-License-Identifier: MIT
#include "cli/cli.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "base/shell_quote.h"
#include "base/suggest.h"

enum {
	OPT_KARGS = 0x100,
	OPT_KVM_CPU_ARGS,
	OPT_DRY_RUN,
	OPT_LIST,
	OPT_TIMEOUT,
	OPT_BOOT_TIMEOUT,
	OPT_ACCEL,
	OPT_TTY,
	OPT_NO_SNAPSHOT,
	OPT_FILESYSTEM,
	OPT_NETWORK,
	OPT_KERNEL_WARNINGS,
	OPT_GDB,
	OPT_DUMP,
	OPT_GDB_WAIT,
	OPT_FORWARD,
	OPT_UEFI,
	OPT_NO_UI,
	OPT_LOG,
	OPT_PREFIX,
	OPT_JUNIT,
	OPT_JSON,
	OPT_SHARD,
	OPT_OUTPUT_DIR,
	OPT_RESULTS,
	OPT_RESULTS_FILE,
	OPT_RETRY_FAILED,
	OPT_TIMINGS,
	OPT_SHARDS,
	OPT_MERGE,
};

static const struct option cli_long_options[] = {
	{ "config", required_argument, NULL, 'c' },
	{ "filter", required_argument, NULL, 'f' },
	{ "kernel", required_argument, NULL, 'k' },
	{ "image", required_argument, NULL, 'i' },
	{ "uefi", no_argument, NULL, OPT_UEFI },
	{ "kargs", required_argument, NULL, OPT_KARGS },
	{ "kvm-cpu-args", required_argument, NULL, OPT_KVM_CPU_ARGS },
	{ "rootfs", required_argument, NULL, 'r' },
	{ "arch", required_argument, NULL, 'a' },
	{ "qemu-command", required_argument, NULL, 'q' },
	{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
	{ "list", optional_argument, NULL, OPT_LIST },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "boot-timeout", required_argument, NULL, OPT_BOOT_TIMEOUT },
	{ "accel", required_argument, NULL, OPT_ACCEL },
	{ "tty", no_argument, NULL, OPT_TTY },
	{ "no-snapshot", no_argument, NULL, OPT_NO_SNAPSHOT },
	{ "filesystem", required_argument, NULL, OPT_FILESYSTEM },
	{ "network", required_argument, NULL, OPT_NETWORK },
	{ "kernel-warnings", required_argument, NULL, OPT_KERNEL_WARNINGS },
	{ "gdb", required_argument, NULL, OPT_GDB },
	{ "dump", required_argument, NULL, OPT_DUMP },
	{ "gdb-wait", no_argument, NULL, OPT_GDB_WAIT },
	{ "forward", required_argument, NULL, OPT_FORWARD },
	{ "no-ui", no_argument, NULL, OPT_NO_UI },
	{ "jobs", required_argument, NULL, 'j' },
	{ "prefix", no_argument, NULL, OPT_PREFIX },
	{ "junit", required_argument, NULL, OPT_JUNIT },
	{ "json", required_argument, NULL, OPT_JSON },
	{ "shard", required_argument, NULL, OPT_SHARD },
	{ "output-dir", required_argument, NULL, OPT_OUTPUT_DIR },
	{ "results", required_argument, NULL, OPT_RESULTS },
	{ "results-file", required_argument, NULL, OPT_RESULTS_FILE },
	{ "retry-failed", required_argument, NULL, OPT_RETRY_FAILED },
	{ "timings", required_argument, NULL, OPT_TIMINGS },
	{ "shards", required_argument, NULL, OPT_SHARDS },
	{ "merge", no_argument, NULL, OPT_MERGE },
	{ "log", required_argument, NULL, OPT_LOG },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ 0 },
};

/* '+': stop at the first non-option, it starts the command. */
static const char cli_short_options[] = "+:c:f:k:i:r:a:q:j:vhV";

void cli_print_help(FILE *out)
{
	fputs("Usage: vmtest [OPTIONS] [--] [COMMAND [ARG...]]\n"
	      "\n"
	      "Run a command, or the targets of vmtest.toml, inside QEMU virtual machines.\n"
	      "\n"
	      "  vmtest                          run every target of ./vmtest.toml\n"
	      "  vmtest -c FILE -f REGEX         run the targets of FILE whose name matches\n"
	      "  vmtest -k bzImage -- make test  run a command on the host's userspace\n"
	      "                                  under another kernel\n"
	      "  vmtest -- make test             the same on the host's own kernel\n"
	      "  vmtest -i disk.qcow2 -- make test  run a command in a VM disk image\n"
	      "\n"
	      "Targets:\n"
	      "  -c, --config FILE        read targets from FILE (default: ./vmtest.toml)\n"
	      "  -f, --filter REGEX       run only targets whose name matches REGEX (PCRE)\n"
	      "      --shard K/N          run only the K-th of N slices of the selected targets\n"
	      "                           (for a CI matrix; with --list, show the slice)\n"
	      "      --list[=FORMAT]      print the selected targets and exit: their names, or\n"
	      "                           =json, a GitHub Actions matrix of shards, or\n"
	      "                           =gitlab, a GitLab parallel:matrix (see --shards)\n"
	      "      --shards N           with --list=json|gitlab: plan N shards (default: a\n"
	      "                           shard per target)\n"
	      "      --timings REPORT     make --shard's slices by the times of an earlier\n"
	      "                           run's --json REPORT, longest first\n"
	      "      --dry-run            print each selected target, fully resolved, and exit\n"
	      "\n"
	      "One-liner (not with -c):\n"
	      "  -k, --kernel FILE        the kernel to boot (default: the host's, from /boot)\n"
	      "      --kargs ARGS         extra kernel command-line arguments\n"
	      "  -i, --image FILE         boot this disk image instead (its qemu-ga runs the command)\n"
	      "      --uefi               boot the image with UEFI firmware (OVMF)\n"
	      "  -r, --rootfs DIR         the root filesystem to share (default: /)\n"
	      "  -a, --arch ARCH          x86_64, aarch64, s390x or riscv64 (default: the host's)\n"
	      "  -q, --qemu-command CMD   the QEMU to run (default: qemu-system-ARCH)\n"
	      "      --kvm-cpu-args ARGS  the -cpu value to use under KVM\n"
	      "  COMMAND [ARG...]         one word is a shell command line (\"uname -r | grep 6\");\n"
	      "                           several words are run exactly as given; - is a shell\n"
	      "\n"
	      "Running:\n"
	      "      --timeout DURATION   stop a target's command after DURATION (90, 90s, 5m, 1h);\n"
	      "                           overrides the targets' timeout\n"
	      "      --boot-timeout DURATION  give up on a guest that has not started by then\n"
	      "                           (default 60s with KVM, 180s with TCG); also bounds\n"
	      "                           each set-up request when given\n"
	      "      --accel ACCEL        kvm, tcg or auto (default auto; also VMTEST_ACCEL)\n"
	      "      --tty                run the command on a terminal in the guest (programs\n"
	      "                           then line-buffer; stdout and stderr arrive together)\n"
	      "      --no-snapshot        boot cold: neither restore a snapshot of a booted\n"
	      "                           guest nor save one (vm.snapshot = false)\n"
	      "      --filesystem FS      how kernel targets see the host's files: virtiofs,\n"
	      "                           9p or auto (default; vm.filesystem)\n"
	      "      --kernel-warnings fail|ignore\n"
	      "                           whether a warning of a kernel target's kernel\n"
	      "                           (WARNING:, BUG:, KASAN:...) fails it (default fail;\n"
	      "                           vm.kernel_warnings)\n"
	      "      --dump DIR           a kernel target that panics or times out leaves\n"
	      "                           its memory in DIR/NAME/vmcore, for crash and drgn\n"
	      "                           (--output-dir keeps one at a panic)\n"
	      "      --gdb PORT           QEMU's gdb stub on 127.0.0.1:PORT (kernels boot with\n"
	      "                           nokaslr); vmtest prints the gdb command to attach\n"
	      "      --gdb-wait           with --gdb: hold the CPUs until gdb continues\n"
	      "      --network MODE       user: a NIC on QEMU's user-mode network (10.0.2.15,\n"
	      "                           the host at 10.0.2.2); none (default): loopback only\n"
	      "      --forward [tcp:|udp:][ADDR:]HOSTPORT:GUESTPORT\n"
	      "                           forward a host port (on 127.0.0.1 unless ADDR) to\n"
	      "                           the guest; implies --network user; repeatable\n"
	      "\n"
	      "      --results FORMAT     how the commands report their tests: none, tap, ktap,\n"
	      "                           gotest-json or kunit (vm.results); each test is\n"
	      "                           then its own entry in the reports\n"
	      "      --results-file FILE  read the tests from FILE, which the command writes\n"
	      "                           in the shared directory (vm.results_file)\n"
	      "      --retry-failed N     run a failed target again, up to N times; a test or\n"
	      "                           target that then passes is reported flaky\n"
	      "\n"
	      "  -j, --jobs N             run up to N targets at once (default: 1 under TCG,\n"
	      "                           else CPUs / the largest num_cpus)\n"
	      "\n"
	      "Output:\n"
	      "      --no-ui              plain output even on a terminal (also VMTEST_NO_UI=1)\n"
	      "      --log FILE           write everything (vmtest's steps, consoles, output)\n"
	      "                           to FILE, with timestamps\n"
	      "      --prefix             with -j, print every line as it comes, prefixed with\n"
	      "                           its target's name (default: each target whole)\n"
	      "      --junit FILE         write a JUnit XML report\n"
	      "      --json FILE          write the results as JSON\n"
	      "      --output-dir DIR     keep each target's console, output, QEMU command line\n"
	      "                           and timings in DIR/NAME/\n"
	      "  -v, --verbose            say what vmtest does (QEMU command line, timings)\n"
	      "\n"
	      "Merging shards' reports:\n"
	      "  vmtest --merge [--junit FILE] [--json FILE] REPORT...\n"
	      "                           merge the --json and --junit reports of a CI\n"
	      "                           matrix's shards into one; exit 0 if all passed\n"
	      "\n"
	      "Other:\n"
	      "  -h, --help               print this help and exit\n"
	      "  -V, --version            print the version and exit\n"
	      "\n"
	      "Exit status: the command's own for a single target (128+N if killed by signal N);\n"
	      "0 or 1 (all passed or not) for several targets; 124 when the command timed out;\n"
	      "2 for a usage or configuration error; 69 when a VM could not run the command\n"
	      "or a file vmtest writes could not be written.  Interrupted (Ctrl-C, SIGTERM, a\n"
	      "closed pipe...), vmtest stops QEMU and dies of the same signal.  See vmtest(1).\n",
	      out);
}

/* "--filer" → "did you mean '--filter'?", for a long option only. */
static int cli_fail_unknown(const char *arg, struct error *err)
{
	const char *names[ARRAY_SIZE(cli_long_options)];
	_cleanup_free_ char *word = NULL;
	const char *hint;
	size_t n = 0;

	if (strncmp(arg, "--", 2) != 0 || !arg[2])
		return error_usage(err, "unknown option '%s'", arg);
	word = strndup(arg + 2, strcspn(arg + 2, "="));
	if (!word)
		return error_set(err, ENOMEM, "out of memory");
	for (const struct option *o = cli_long_options; o->name; o++)
		names[n++] = o->name;
	hint = suggest_nearest(word, names, n);
	if (hint)
		return error_usage(err, "unknown option '--%s'; did you mean '--%s'?", word, hint);
	return error_usage(err, "unknown option '--%s'", word);
}

static void cli_set(struct cli_options *o, int c, const char *arg)
{
	switch (c) {
	case 'c': o->config_path = arg; break;
	case 'f': o->filter = arg; break;
	case 'k': o->kernel = arg; break;
	case 'i': o->image = arg; break;
	case OPT_UEFI: o->uefi = true; break;
	case OPT_KARGS: o->kargs = arg; break;
	case OPT_KVM_CPU_ARGS: o->kvm_cpu_args = arg; break;
	case 'r': o->rootfs = arg; break;
	case 'a': o->arch = arg; break;
	case 'q': o->qemu_command = arg; break;
	case OPT_DRY_RUN: o->dry_run = true; break;
	case OPT_LIST:
		o->list = true;
		o->list_format = arg;
		break;
	case OPT_TIMEOUT: o->timeout = arg; break;
	case OPT_BOOT_TIMEOUT: o->boot_timeout = arg; break;
	case OPT_ACCEL: o->accel = arg; break;
	case OPT_TTY: o->tty = true; break;
	case OPT_NO_SNAPSHOT: o->no_snapshot = true; break;
	case OPT_FILESYSTEM: o->filesystem = arg; break;
	case OPT_NETWORK: o->network = arg; break;
	case OPT_KERNEL_WARNINGS: o->kernel_warnings = arg; break;
	case OPT_GDB: o->gdb = arg; break;
	case OPT_DUMP: o->dump_dir = arg; break;
	case OPT_GDB_WAIT: o->gdb_wait = true; break;
	case OPT_FORWARD:
		/* cli_parse refuses more than fit. */
		if (o->n_forwards < CLI_MAX_FORWARDS)
			o->forwards[o->n_forwards] = arg;
		o->n_forwards++;
		break;
	case OPT_NO_UI: o->no_ui = true; break;
	case OPT_LOG: o->log_path = arg; break;
	case 'j': o->jobs = arg; break;
	case OPT_PREFIX: o->prefix = true; break;
	case OPT_JUNIT: o->junit_path = arg; break;
	case OPT_JSON: o->json_path = arg; break;
	case OPT_SHARD: o->shard = arg; break;
	case OPT_OUTPUT_DIR: o->output_dir = arg; break;
	case OPT_RESULTS: o->results = arg; break;
	case OPT_RESULTS_FILE: o->results_file = arg; break;
	case OPT_RETRY_FAILED: o->retry_failed = arg; break;
	case OPT_TIMINGS: o->timings = arg; break;
	case OPT_SHARDS: o->shards = arg; break;
	case OPT_MERGE: o->merge = true; break;
	case 'v': o->verbose++; break;
	case 'h': o->help = true; break;
	case 'V': o->version = true; break;
	default: break;
	}
}

int cli_parse(int argc, char **argv, struct cli_options *ret_options, struct error *err)
{
	struct cli_options o = { 0 };
	int c;

	optind = 0; /* glibc: start afresh, so cli_parse can be called again */
	opterr = 0;
	while ((c = getopt_long(argc, argv, cli_short_options, cli_long_options, NULL)) != -1) {
		if (c == '?') {
			char shortopt[3] = { '-', (char)optopt, 0 };

			return optopt ? error_usage(err, "unknown option '%s'", shortopt)
				      : cli_fail_unknown(argv[optind - 1], err);
		}
		if (c == ':')
			return error_usage(err, "option '%s' needs a value", argv[optind - 1]);
		cli_set(&o, c, optarg);
	}
	if (o.n_forwards > CLI_MAX_FORWARDS)
		return error_usage(err, "--forward: at most %d of them", CLI_MAX_FORWARDS);
	o.command = argv + optind;
	o.command_len = argc - optind;
	*ret_options = o;
	return 0;
}

int cli_network(const struct cli_options *o, int *ret_network, struct vm_forward *ret_forwards,
		struct error *err)
{
	*ret_network = -1;
	if (o->network && (*ret_network = vm_network_parse(o->network)) < 0)
		return error_usage(err, "--network '%s': expected none or user", o->network);
	for (size_t i = 0; i < o->n_forwards; i++) {
		char problem[160];

		if (vm_forward_parse(o->forwards[i], &ret_forwards[i], problem, sizeof(problem)) < 0)
			return error_usage(err, "--forward '%s': %s", o->forwards[i], problem);
		for (size_t j = 0; j < i; j++)
			if (vm_forward_clash(&ret_forwards[j], &ret_forwards[i]))
				return error_usage(err, "--forward '%s': host port %u is forwarded twice",
						   o->forwards[i], ret_forwards[i].host_port);
	}
	if (o->n_forwards && *ret_network == VM_NETWORK_NONE)
		return error_usage(err, "--network none leaves no network for --forward");
	return 0;
}

/* The first one-liner option given, for messages; NULL if none. */
static const char *cli_first_oneliner_option(const struct cli_options *o)
{
	if (o->kernel)
		return "-k/--kernel";
	if (o->image)
		return "-i/--image";
	if (o->uefi)
		return "--uefi";
	if (o->kargs)
		return "--kargs";
	if (o->rootfs)
		return "-r/--rootfs";
	if (o->arch)
		return "-a/--arch";
	if (o->qemu_command)
		return "-q/--qemu-command";
	if (o->kvm_cpu_args)
		return "--kvm-cpu-args";
	return NULL;
}

int cli_mode(const struct cli_options *o, enum cli_mode *ret_mode, struct error *err)
{
	const char *oneliner = cli_first_oneliner_option(o);

	if (o->list && o->dry_run)
		return error_usage(err, "--list and --dry-run cannot be used together");
	if (o->list_format && strcmp(o->list_format, "json") != 0 &&
	    strcmp(o->list_format, "gitlab") != 0)
		return error_usage(err, "--list=%s: expected --list, --list=json or --list=gitlab",
				   o->list_format);
	if (o->shards && !o->list_format)
		return error_usage(err, "--shards plans a CI matrix: use it with --list=json or "
				   "--list=gitlab (a machine of it runs --shard K/N)");
	if (o->shards && o->shard)
		return error_usage(err, "--shards and --shard cannot be used together: --shards plans "
				   "the matrix, --shard runs one of its machines");
	if (o->merge) {
		if (!o->command_len)
			return error_usage(err, "--merge needs the reports to merge: vmtest --merge "
					   "[--junit FILE] [--json FILE] REPORT...");
		if (!o->junit_path && !o->json_path)
			return error_usage(err, "--merge writes what --junit FILE or --json FILE names: "
					   "give one or both");
		*ret_mode = CLI_MODE_MERGE;
		return 0;
	}
	if (o->config_path && o->command_len)
		return error_usage(err,
				   "a command cannot be given with -c: each target of %s has its own command",
				   o->config_path);
	if (o->config_path && oneliner)
		return error_usage(err,
				   "%s cannot be used with -c: it describes a one-liner's target; set it in %s instead",
				   oneliner, o->config_path);
	if (o->image) {
		const char *kernel_only = o->kernel ? "-k/--kernel" : o->kargs ? "--kargs"
					: o->rootfs ? "-r/--rootfs" : NULL;

		if (kernel_only)
			return error_usage(err, "%s cannot be used with -i/--image: an image brings its own kernel and root filesystem",
					   kernel_only);
		if (o->tty || (o->command_len == 1 && strcmp(o->command[0], "-") == 0))
			return error_usage(err, "%s is not supported for image targets: their qemu-ga runs commands without a terminal",
					   o->tty ? "--tty" : "an interactive shell (-)");
	} else if (o->uefi) {
		return error_usage(err, "--uefi applies only to an image (-i/--image)");
	}
	/* KUnit's tests run as the kernel boots: a command is optional. */
	if (!o->command_len && oneliner && o->kernel && o->results &&
	    strcmp(o->results, "kunit") == 0) {
		*ret_mode = CLI_MODE_ONELINER;
		return 0;
	}
	if (!o->command_len && oneliner)
		return error_usage(err, "%s needs a command to run%s", oneliner,
				   o->image ? "" : " (or - for an interactive shell)");
	if (!o->command_len) {
		*ret_mode = CLI_MODE_CONFIG;
		return 0;
	}
	if (o->filter)
		return error_usage(err, "-f/--filter selects targets of a config file; a one-liner has just one");
	*ret_mode = CLI_MODE_ONELINER;
	return 0;
}

int cli_command_line(const struct cli_options *o, char **ret_line, bool *ret_interactive,
		     struct error *err)
{
	char *line;

	*ret_interactive = false;
	if (!o->command_len) {
		/* --results kunit: the tests ran as the kernel booted. */
		*ret_line = strdup("true");
		return *ret_line ? 0 : error_set(err, ENOMEM, "out of memory");
	}
	if (o->command_len == 1 && strcmp(o->command[0], "-") == 0) {
		*ret_interactive = true;
		*ret_line = NULL;
		return 0;
	}
	if (o->command_len == 1 && o->command[0][strspn(o->command[0], " \t\n")] == '\0')
		return error_usage(err, "the command is empty");
	line = o->command_len == 1 ? strdup(o->command[0])
				   : shell_quote_argv(o->command_len, o->command);
	if (!line)
		return error_set(err, ENOMEM, "out of memory");
	*ret_line = line;
	return 0;
}

int cli_parse_shard(const char *text, unsigned *ret_k, unsigned *ret_n, struct error *err)
{
	unsigned long k, n;
	char *end;

	if (!isdigit((unsigned char)text[0]))
		goto bad;
	k = strtoul(text, &end, 10);
	if (*end != '/' || !isdigit((unsigned char)end[1]))
		goto bad;
	n = strtoul(end + 1, &end, 10);
	if (*end || n == 0 || n > 100000)
		goto bad;
	if (k < 1 || k > n)
		return error_usage(err, "--shard '%s': K must be between 1 and N (%lu)", text, n);
	*ret_k = (unsigned)k;
	*ret_n = (unsigned)n;
	return 0;
bad:
	return error_usage(err, "--shard '%s': expected K/N, the K-th of N slices (1/3, 2/3, 3/3)",
			   text);
}

/* A whole number from min to max, or -1. */
static long cli_number(const char *text, long min, long max)
{
	char *end;
	long n;

	if (!isdigit((unsigned char)text[0]))
		return -1;
	errno = 0;
	n = strtol(text, &end, 10);
	return *end || errno || n < min || n > max ? -1 : n;
}

int cli_parse_retries(const char *text, unsigned *ret_retries, struct error *err)
{
	long n = cli_number(text, 0, 100);

	if (n < 0)
		return error_usage(err, "--retry-failed '%s': expected a number of retries from 0 to 100",
				   text);
	*ret_retries = (unsigned)n;
	return 0;
}

int cli_parse_shards(const char *text, unsigned *ret_n, struct error *err)
{
	long n = cli_number(text, 1, 100000);

	if (n < 0)
		return error_usage(err, "--shards '%s': expected a number of shards from 1 to 100000",
				   text);
	*ret_n = (unsigned)n;
	return 0;
}

int cli_parse_jobs(const char *text, unsigned *ret_jobs, struct error *err)
{
	unsigned long n;
	char *end;

	if (!isdigit((unsigned char)text[0]))
		goto bad;
	n = strtoul(text, &end, 10);
	if (*end || n == 0 || n > 1024)
		goto bad;
	*ret_jobs = (unsigned)n;
	return 0;
bad:
	return error_usage(err, "-j/--jobs '%s': expected a number of targets from 1 to 1024", text);
}
