/* SPDX-License-Identifier: MIT */
/*
 * target_run: one target's VM while it lives, and the interface every kind
 * of target (kernel.c, image.c) implements.  The runner (runner.c) drives
 * a target's life through its kind's table and knows nothing of the kind:
 *
 *   prepare (what boots)  ->  QEMU's command line (plan)  ->  boot: QEMU
 *   started, its sockets connected, the agent answering  ->  setup  ->
 *   exec (the command, its output streamed)  ->  shutdown  ->  clear
 *
 * A new way to boot or to reach the guest is a new kind, or a new step in
 * one kind, not a branch in the runner.
 */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <stdint.h>

#include "base/error.h"
#include "base/strv.h"
#include "boot/qemu_argv.h"
#include "boot/snapshot.h"
#include "config/config.h"
#include "targets/dump_state.h"
#include "targets/record.h"
#include "targets/run_options.h"
#include "vm/console.h"
#include "vm/interrupt.h"
#include "vm/output.h"
#include "vm/qemu_process.h"
#include "vm/qga.h"
#include "vm/qmp.h"
#include "vm/qmp_watch.h"

/* QEMU's sockets close a moment before it can be reaped: how long a broken
 * connection waits for its exit, so that a QEMU that died is named as such. */
#define TARGET_RUN_EXIT_GRACE_MS 2000
/* How long QMP's quit may take before QEMU is signalled. */
#define TARGET_RUN_QUIT_MS 1000
/* The boot's deadline when --boot-timeout is not given. */
#define TARGET_RUN_BOOT_TIMEOUT_KVM_S 60
#define TARGET_RUN_BOOT_TIMEOUT_TCG_S 180

struct target_run {
	const struct config *config;
	const struct target *target;
	const struct run_options *options;
	struct record *record;
	char *run_dir;		/* private: sockets, QEMU's log; NULL for a dry run */
	enum qemu_accel accel;
	/* The guest's NIC (vm.network, --network), and the host ports forwarded
	 * to it: the target's and --forward's. */
	bool network;
	unsigned gdb_port;	/* QEMU's gdb stub (--gdb, vm.gdb); 0: none */
	struct dump_state dump;	/* the guest's memory at a panic (dump.h) */
	struct vm_forward *forwards;
	size_t n_forwards;
	struct strv argv;
	/* The guest boots without devices it needs, that block a migration
	 * (qemu_plan_leaves_out): the kind plugs them in once it answers. */
	bool argv_leaves_out;
	struct console *console;
	struct qmp_watch *watch;	/* how the guest ends, as QEMU hears it */
	bool agent_answered;	/* the guest booted: its console's word no longer counts */
	bool kernel_died;	/* the error said is the kernel's death (a panic, a reset) */
	/* A write to the console's spool that failed before the console's
	 * thread ran (a restored guest's boot log): said as the thread's are. */
	int console_errno;
	struct qemu_process qemu;
	interrupt_slot qemu_slot;	/* in interrupt's table of QEMUs; -1: none */
	struct qmp *qmp;
	struct qga *qga;
	int output_fd;		/* the output port (a kernel target's records; an image's stdout) */
	/* For each agent request of the set-up (mounts, starting the command):
	 * --boot-timeout when given, as a VM is not ready until it is set up. */
	int64_t setup_ms;
	unsigned timeout_s;	/* the command's; 0: none */
	unsigned timed_out;	/* set by exec when that timeout stopped the command */
	/* What went wrong with the agent while booting, other than silence. */
	char agent_trouble[sizeof(((struct error *)0)->msg)];
	/* Said after the guest's own words when it could not start. */
	char *boot_note;
	/* The attempt's tests (test_results.h): the parser, fed through the
	 * listener as the output arrives; the results file as it was before. */
	struct results *results;
	struct output_listener listener;
	char progress[128];	/* the count the view was told last */
	struct stat results_file_before;
	bool results_file_existed;
	/* More of the command's environment (a retry's VMTEST_FAILED_TESTS):
	 * NULL-terminated; NULL: none. */
	char **extra_env;
	void *kind_data;	/* the kind's own */
	struct warm_start *warm;	/* NULL: the kind has none, or a dry run */
};

struct target_kind_ops {
	const char *name;
	/* What this kind refuses before any VM starts (status 2).  Optional. */
	int (*check)(const struct target *t, const struct run_options *o, struct error *err);
	/* Whether its guest's memory can be dumped at a panic (dump.h). */
	bool dumps;
	/* Whether a snapshot of a booted guest can stand in for its boot
	 * (warm_start.h): the guest is the same up to the agent's answer. */
	bool warm_start;
	/* Why this target boots cold whatever the cache holds; NULL: it need
	 * not.  Optional. */
	const char *(*warm_off)(const struct target_run *run);
	/* The files of the run that its guest's boot writes, kept with a
	 * snapshot (an image's disk layer and UEFI variables).  Optional. */
	void (*warm_files)(const struct target_run *run, struct snapshot_files *files);
	/* Before a cold boot that saves a snapshot: those files made anew.
	 * Optional. */
	int (*warm_fresh)(struct target_run *run, struct error *err);
	/* What boots: files made or found before QEMU starts. */
	int (*prepare)(struct target_run *run, struct error *err);
	/* QEMU has stopped, whatever the outcome: what the guest left for the
	 * verdict (a kernel target's warnings) into the record.  Optional. */
	void (*ended)(struct target_run *run);
	/* The kind's part of QEMU's command line. */
	void (*plan)(const struct target_run *run, struct qemu_plan *plan);
	/* QEMU has started and its common sockets are connected. */
	int (*started)(struct target_run *run, int64_t deadline, struct error *err);
	/* The file with the guest kernel's symbols, for gdb; NULL: none known
	 * (and symbols_hint, when set, says where they would be).  Optional. */
	const char *(*symbols)(const struct target_run *run);
	const char *symbols_hint;
	/* Said when the agent never answered ("is qemu-ga installed ...?"). */
	const char *silent_agent_hint;
	/* The agent answers: mount the shares. */
	int (*setup)(struct target_run *run, struct error *err);
	/* Run the command, its output streamed; its end in *ret_status. */
	int (*exec)(struct target_run *run, struct qga_exec_status *ret_status, struct error *err);
	/* The command ended: stop the VM. */
	void (*shutdown)(struct target_run *run);
	/* Free what prepare and started made; any time, any number of times. */
	void (*clear)(struct target_run *run);
};

extern const struct target_kind_ops target_kernel_ops;
extern const struct target_kind_ops target_image_ops;

/* The operations of t's kind. */
const struct target_kind_ops *target_run_kind(const struct target *t);

/* A file of the run directory, malloc'd; NULL when out of memory. */
char *target_run_path(const struct target_run *run, const char *name);

/*
 * Whether the guest's kernel died: it panicked or reset itself, as QEMU
 * heard it (vm/qmp_watch.h); or, while the guest boots, before anything
 * of the user's runs there, its console says "Kernel panic".
 */
bool target_run_kernel_died(struct target_run *run);

/*
 * After a step failed with r: whether QEMU is the cause (it exited, or the
 * guest's kernel died), and then the error that says what happened to it.
 */
bool target_run_qemu_failed(struct target_run *run, int r);
int target_run_fail_qemu(struct target_run *run, struct error *err);

/* r, or when QEMU is the cause of the failure, what happened to QEMU. */
int target_run_check(struct target_run *run, int r, struct error *err);

/* Stop QEMU: QMP quit, then signals; always reaps. */
void target_run_stop_qemu(struct target_run *run);
