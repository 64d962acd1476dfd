/* SPDX-License-Identifier: MIT */
/*
 * run_options: what the command line sets for every target of a run, over
 * each target's own configuration.  Filled once by the command line
 * (cli/), read by every target's runner.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "boot/accel.h"
#include "config/config.h"

struct run_options {
	int out_fd;		/* where the command's stdout goes; -1: only its spool */
	int err_fd;		/* and its stderr */
	enum qemu_accel accel;	/* chosen once for the run (accel.h); foreign targets get TCG */
	enum accel_request accel_request;	/* --accel or VMTEST_ACCEL */
	unsigned boot_timeout_s;	/* 0: 60 with KVM, 180 with TCG */
	unsigned timeout_s;	/* overrides the targets' timeout; 0: theirs */
	bool tty;		/* run the command on a guest pty (--tty) */
	bool no_snapshot;	/* --no-snapshot: boot cold, neither restore nor save */
	int filesystem;		/* --filesystem: enum vm_filesystem; -1: the targets' own */
	int network;		/* --network: enum vm_network; -1: the targets' own */
	int kernel_warnings;	/* --kernel-warnings: enum vm_kernel_warnings; -1: the targets' */
	unsigned gdb_port;	/* --gdb: over the targets' vm.gdb; 0: theirs */
	bool dump;		/* --dump or --output-dir: a kernel target's memory at a panic */
	bool dump_on_timeout;	/* --dump: and when its command times out */
	bool gdb_wait;		/* --gdb-wait */
	int results;		/* --results: enum vm_results; -1: the targets' own vm.results */
	const char *results_file;	/* --results-file; NULL: the targets' own */
	unsigned retry_failed;	/* --retry-failed: attempts after a failed one */
	/* --forward: added to each target's vm.forward (and implying the network) */
	const struct vm_forward *forwards;
	size_t n_forwards;
};
