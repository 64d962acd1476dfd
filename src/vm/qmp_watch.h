/* SPDX-License-Identifier: MIT */
/*
 * qmp_watch: how a guest ends, in QEMU's words, as it happens.  A QMP
 * monitor of its own, read by a thread for QEMU's whole life whatever the
 * runner's thread waits for, hears GUEST_PANICKED (the guest kernel's
 * pvpanic device, s390x's disabled wait) and SHUTDOWN with its reason.
 * These come from the guest's kernel or its hardware, never from text a
 * guest prints: a process writing "Kernel panic" to the console is not
 * a panic (docs/security.md).
 *
 * The thread calls a hook when the guest ends, with the monitor, which is
 * then the hook's: a dump runs on it (targets/dump.h), or a quit.
 */
#pragma once

#include "base/error.h"
#include "vm/qmp.h"

enum qmp_watch_end {
	QMP_WATCH_RUNNING,	/* nothing yet */
	QMP_WATCH_PANICKED,	/* GUEST_PANICKED */
	/* SHUTDOWN "guest-reset": the guest reset itself, which vmtest's init
	 * never does, and a kernel does at its panic (panic=-1) without a
	 * pvpanic driver, or at a triple fault */
	QMP_WATCH_RESET,
	QMP_WATCH_POWERED_OFF,	/* SHUTDOWN "guest-shutdown" (or a guest's pvpanic power-off) */
	QMP_WATCH_STOPPED,	/* SHUTDOWN for another reason: the host quit QEMU, a signal */
};

struct qmp_watch;

typedef void (*qmp_watch_fn)(void *data, enum qmp_watch_end end, struct qmp *qmp);

/*
 * Connect to the monitor at socket_path (QEMU listens there) and start
 * reading it.  fn(data, end, qmp) is called once, from the watch's
 * thread, when the guest first ends; it may be NULL.
 */
int qmp_watch_start(const char *socket_path, int64_t deadline, qmp_watch_fn fn, void *data,
		    struct qmp_watch **ret, struct error *err);

/* How the guest has ended so far, from any thread. */
enum qmp_watch_end qmp_watch_state(const struct qmp_watch *w);

/* Stop reading (after QEMU is gone, or before) and free; NULL. */
struct qmp_watch *qmp_watch_free(struct qmp_watch *w);

/* "guest-reset" and friends, QEMU's words, into the end it means. */
enum qmp_watch_end qmp_watch_end_of_shutdown(const char *reason);
