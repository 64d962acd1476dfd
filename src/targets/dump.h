/* SPDX-License-Identifier: MIT */
/*
 * dump: a kernel target's memory when its kernel panics (--dump,
 * --output-dir), or when its command times out (--dump): kdump-compressed
 * with the kernel's VMCOREINFO through a QMP monitor of its own, made the
 * plain file crash and drgn open (vm/vmcore.h), and kept in the record for
 * the report (DIR/NAME/vmcore).  One dump a run.
 */
#pragma once

#include "base/error.h"
#include "targets/dump_state.h"

/* Why a guest is dumped. */
enum dump_reason {
	DUMP_PANICKED,		/* its kernel's panic, as QEMU heard it (vm/qmp_watch.h) */
	DUMP_RESET,		/* it reset itself: a kernel without pvpanic at its panic */
	DUMP_TIMED_OUT,		/* its command's timeout, with --dump */
};

struct qmp;
struct target_run;

/*
 * Whether this run of a kind that dumps keeps its guest's memory, and the
 * file for it: with --dump or --output-dir, on x86_64 (QEMU's vmcoreinfo
 * device needs fw_cfg; docs/vmcore.md).
 */
int dump_prepare(struct target_run *run, struct error *err);

/* The guest's `uname -v`, from the set-up's answer. */
void dump_set_kernel_version(struct target_run *run, const char *version);

/* A VM starts (one after a restore that failed may be dumped too), or is
 * about to end: a dump being written finishes first, none starts after. */
void dump_vm_started(struct target_run *run);
void dump_vm_ending(struct target_run *run);

/*
 * Dump the guest now through qmp, a monitor the calling thread owns (the
 * QMP watch's at a panic, the runner's at a timeout), and then end QEMU:
 * quit, else SIGKILL through its pidfd, so that a guest held at its panic
 * cannot hang the run.  Said in the note; a dump that failed leaves no
 * file.  Without a dump to make (none wanted, one made already), QEMU is
 * ended all the same.
 */
void dump_guest(struct target_run *run, struct qmp *qmp, enum dump_reason why);

/* The dump that was written goes to the record; the note is said either way. */
void dump_keep(struct target_run *run);
