/* SPDX-License-Identifier: MIT */
/*
 * cli: the command line, compatible with vmtest 0.18.
 *
 *   vmtest [OPTIONS] [--] [COMMAND [ARG...]]
 *
 * Parsing stops at the first word that is not an option, so everything from
 * the command on belongs to the command (`vmtest -k bzImage ls -l`).
 */
#pragma once

#include <stdbool.h>
#include <stdio.h>

#include "base/error.h"
#include "config/config.h"

/* --forward may be given this many times. */
#define CLI_MAX_FORWARDS 32

struct cli_options {
	const char *config_path;	/* -c */
	const char *filter;		/* -f */
	/* The one-liner options. */
	const char *kernel;		/* -k */
	const char *image;		/* -i */
	bool uefi;			/* --uefi */
	const char *kargs;		/* --kargs */
	const char *kvm_cpu_args;	/* --kvm-cpu-args */
	const char *rootfs;		/* -r */
	const char *arch;		/* -a */
	const char *qemu_command;	/* -q */
	/* The command: argv[command_index..argc). */
	char **command;
	int command_len;
	const char *timeout;		/* --timeout: every target's command limit */
	const char *boot_timeout;	/* --boot-timeout */
	const char *accel;		/* --accel kvm|tcg|auto */
	bool tty;			/* --tty */
	bool no_snapshot;		/* --no-snapshot */
	const char *filesystem;		/* --filesystem auto|virtiofs|9p */
	const char *network;		/* --network none|user */
	const char *kernel_warnings;	/* --kernel-warnings fail|ignore */
	const char *gdb;		/* --gdb PORT */
	bool gdb_wait;			/* --gdb-wait */
	const char *forwards[CLI_MAX_FORWARDS];	/* --forward, in order */
	size_t n_forwards;
	bool no_ui;			/* --no-ui */
	const char *jobs;		/* -j */
	bool prefix;			/* --prefix */
	const char *junit_path;		/* --junit */
	const char *json_path;		/* --json */
	const char *shard;		/* --shard K/N */
	const char *output_dir;		/* --output-dir */
	const char *dump_dir;		/* --dump */
	const char *log_path;		/* --log */
	const char *results;		/* --results FORMAT */
	const char *results_file;	/* --results-file FILE */
	const char *retry_failed;	/* --retry-failed N */
	const char *timings;		/* --timings REPORT: shards by an earlier run's times */
	const char *shards;		/* --shards N: with --list=json, the matrix's size */
	bool merge;			/* --merge REPORT...: the arguments are reports */
	bool help;
	bool version;
	bool dry_run;
	bool list;
	const char *list_format;	/* --list=FORMAT: names (NULL), json, gitlab */
	int verbose;
};

/* What the command line asks for, once its options are checked together. */
enum cli_mode {
	CLI_MODE_CONFIG,	/* targets from vmtest.toml or -c */
	CLI_MODE_ONELINER,	/* one target from -k (or the host's kernel) and a command */
	CLI_MODE_MERGE,		/* --merge: the arguments are shards' reports, nothing runs */
};

/* Parse argv; usage errors have err->status EXIT_STATUS_USAGE. */
int cli_parse(int argc, char **argv, struct cli_options *ret_options, struct error *err);

/* Check how the options combine and decide the mode. */
int cli_mode(const struct cli_options *options, enum cli_mode *ret_mode, struct error *err);

/*
 * The command as one shell command line: a single word verbatim (it may use
 * pipes, as in vmtest), several words each quoted so the guest gets exactly
 * this argv.  *ret_interactive is set for the single word "-".
 */
int cli_command_line(const struct cli_options *options, char **ret_line, bool *ret_interactive,
		     struct error *err);

/*
 * --network and --forward, checked: *ret_network is an enum vm_network,
 * -1 when not given; ret_forwards holds CLI_MAX_FORWARDS.  --forward
 * implies --network user; --network none with it is a usage error.
 */
int cli_network(const struct cli_options *options, int *ret_network,
		struct vm_forward *ret_forwards, struct error *err);

/* "K/N" with 1 <= K <= N: the shard to run. */
int cli_parse_shard(const char *text, unsigned *ret_k, unsigned *ret_n, struct error *err);

/* --retry-failed's value: 0 to 100. */
int cli_parse_retries(const char *text, unsigned *ret_retries, struct error *err);

/* --shards' value: 1 to 100000. */
int cli_parse_shards(const char *text, unsigned *ret_n, struct error *err);

/* -j's value: a positive number. */
int cli_parse_jobs(const char *text, unsigned *ret_jobs, struct error *err);

void cli_print_help(FILE *out);
