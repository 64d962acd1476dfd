/* SPDX-License-Identifier: MIT */
/*
 * runner: one target's life, whatever its kind (target_run.h): check,
 * prepare what boots, start QEMU and wait for the guest agent, set the
 * guest up, run the command with its output streamed, collect the exit
 * status, stop the VM, clean up.  Everything it learns goes into the
 * target's record.
 */
#pragma once

#include <stdbool.h>

#include "base/error.h"
#include "boot/accel.h"
#include "config/config.h"
#include "targets/record.h"

/* As timeout(1): the status of a command stopped for taking too long. */
#define RUNNER_EXIT_TIMEOUT 124
/* A command that succeeded while the guest's kernel warned (EX_OSERR). */
#define RUNNER_EXIT_KERNEL_WARNING 71

struct runner_options {
	int out_fd;		/* where the command's stdout goes */
	int err_fd;		/* and its stderr */
	enum qemu_accel accel;	/* chosen once for the run (accel.h); foreign targets get TCG */
	const char *accel_asked;	/* --accel or VMTEST_ACCEL as given, or NULL */
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
	/* --forward: added to each target's vm.forward (and implying the network) */
	const struct vm_forward *forwards;
	size_t n_forwards;
};

/*
 * What can be refused before any VM starts, for every target of a run:
 * status 2 in err for what the user must change.
 */
int runner_check(const struct config *config, const struct target *target,
		 const struct runner_options *options, struct error *err);

/*
 * Run one target, which runner_check accepted; its record ends passed,
 * failed, timed out, or in error when the VM could not run the command
 * (the reason says why).  Returns < 0 (-EINTR) only when the run was
 * interrupted (vm/interrupt.h): the record then stays unended.
 */
int runner_run(const struct config *config, const struct target *target,
	       const struct runner_options *options, struct record *record);

/*
 * For --dry-run: prepare what the target boots (which warms the cache) and
 * return its QEMU command line, shell-quoted, without starting anything.
 * The run directory shows as /tmp/vmtest-XXXXXX.
 */
int runner_plan(const struct config *config, const struct target *target,
		const struct runner_options *options, struct record *record, char **ret_line,
		struct error *err);
