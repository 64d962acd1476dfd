/* SPDX-License-Identifier: MIT */
/*
 * warm_start: a target's boot replaced by the restore of a snapshot taken
 * at the end of an earlier, identical boot (boot/snapshot.h keeps them).
 *
 * The guest's RAM is always a memfd of vmtest's, given to QEMU as a shared
 * memory backend (/proc/self/fd/N), so that a snapshot's migration stream
 * leaves RAM out (x-ignore-shared) and vmtest reads and writes the RAM
 * itself:
 *
 *   cold:    boot; once the agent answers (the init is idle, nothing is
 *            mounted yet), migrate the device state to a file, copy the
 *            touched RAM into the cache, and let the guest go on: the
 *            same VM runs the command.
 *   restore: fill a new memfd from the snapshot, start QEMU with
 *            -incoming defer, load the device state over QMP, and the
 *            guest answers where the cold boot left it.  The clock and
 *            the entropy are set by the set-up that follows (kernel.c).
 *
 * Any doubt (no snapshot, one vmtest cannot vouch for, QEMU refusing it,
 * a guest that does not answer) means a cold boot, said with -v, or with
 * a notice when a restore failed; a snapshot that failed is removed.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "boot/qemu_argv.h"
#include "boot/snapshot.h"

/* A restored guest answers within a second; one that does not is not waited for long. */
#define WARM_RESTORE_TIMEOUT_MS 30000

struct target_run;
struct target_kind_ops;

/*
 * Decide how this run boots: cold when a warm start is off (--no-snapshot,
 * vm.snapshot = false, extra_args that own the memory, no keyring to vouch
 * for a snapshot, --gdb, the kind's own reasons: said with -v), else from
 * the snapshot of the guest's key when there is a good one, else cold to
 * save one.
 */
int warm_start_decide(struct target_run *run, const struct target_kind_ops *kind,
		      struct error *err);

/* The warm start's part of QEMU's command line (nothing when off). */
void warm_start_plan(const struct target_run *run, struct qemu_plan *plan);

/* The descriptors QEMU inherits, ended by -1; NULL when none. */
const int *warm_start_fds(const struct target_run *run);

bool warm_start_restoring(const struct target_run *run);

/* Booting cold to save a snapshot: the run's files (choose's) are to be made fresh. */
bool warm_start_saving(const struct target_run *run);

/* Before QEMU starts: a restore copies the snapshot into this run's memory. */
int warm_start_before_qemu(struct target_run *run, struct error *err);

/* QEMU answers on QMP: a restore loads the device state. */
int warm_start_load(struct target_run *run, struct error *err);

/* The restore failed (why): the snapshot goes, and the run boots cold. */
int warm_start_fall_back(struct target_run *run, const char *why, struct error *err);

/*
 * The agent answered after a cold boot: save the snapshot, when this run
 * is to, then let the guest go on.  Only a guest that cannot go on is an
 * error; a snapshot that cannot be saved is a notice.
 */
int warm_start_save(struct target_run *run, struct error *err);

void warm_start_clear(struct target_run *run);
