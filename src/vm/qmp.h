/* SPDX-License-Identifier: MIT */
/*
 * qmp: a client for QEMU's control socket (QMP).
 *
 * qmp_connect() waits for the socket, reads QEMU's greeting and leaves
 * capabilities negotiation, so commands can be run at once.  Every command
 * carries an id and only the reply with that id answers it: a late reply to
 * a command that timed out is dropped.  Events that arrive meanwhile go to
 * the handler set with qmp_on_event() and are remembered (qmp_event_seen()).
 *
 * Time limits are deadlines on clock_now_ms()'s clock (clock_deadline()).
 * A failed command fills err with "QMP command 'x': Class: description".
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "base/clock.h"
#include "base/error.h"
#include "vm/json_io.h"

/*
 * The events a caller can wait for; everything else is QMP_EVENT_OTHER.
 * DUMP_COMPLETED ends a detached dump-guest-memory (targets/dump.c);
 * GUEST_PANICKED and SHUTDOWN tell how a guest ended (vm/qmp_watch.h);
 * the others are tested against a real QEMU in test_qmp.c.
 */
enum qmp_event {
	QMP_EVENT_SHUTDOWN,
	QMP_EVENT_GUEST_PANICKED,
	QMP_EVENT_STOP,
	QMP_EVENT_RESET,
	QMP_EVENT_DUMP_COMPLETED,
	QMP_EVENT_OTHER,
};

/* name is QEMU's ("SHUTDOWN"); data is borrowed and may be NULL. */
typedef void (*qmp_event_fn)(enum qmp_event event, const char *name,
			     const struct json_value *data, void *userdata);

struct qmp;

int qmp_connect(const char *path, int64_t deadline, struct qmp **ret, struct error *err);

/* Close the connection; returns NULL. */
struct qmp *qmp_free(struct qmp *qmp);

void qmp_on_event(struct qmp *qmp, qmp_event_fn fn, void *userdata);

/* The handler set, so that a caller that sets its own for a while can put it back. */
void qmp_event_handler(const struct qmp *qmp, qmp_event_fn *ret_fn, void **ret_userdata);

bool qmp_event_seen(const struct qmp *qmp, enum qmp_event event);

/* QEMU's version from the greeting, as major * 10000 + minor * 100 + micro. */
int qmp_version(const struct qmp *qmp);

/*
 * Run command with args (borrowed, NULL for none); *ret_return (when
 * ret_return is not NULL) gets a reference to what it returned.
 * -EREMOTEIO when QEMU answered with an error.
 */
int qmp_execute(struct qmp *qmp, const char *command, const struct json_value *args,
		int64_t deadline, struct json_value **ret_return, struct error *err);

/*
 * Give QEMU a file descriptor under a name (getfd, the descriptor passed
 * with SCM_RIGHTS), for commands that take "fd:NAME".
 */
int qmp_getfd(struct qmp *qmp, const char *name, int fd, int64_t deadline, struct error *err);

/* The connection's socket, for a caller's poll(). */
int qmp_fd(const struct qmp *qmp);

/*
 * Handle what QEMU has sent so far, without waiting: events go to the
 * handler, late replies are dropped.  0, or < 0 (-ECONNRESET once QEMU has
 * closed the connection).
 */
int qmp_pump(struct qmp *qmp, struct error *err);

/* Wait until event has been seen (at once if it already was). */
int qmp_wait_event(struct qmp *qmp, enum qmp_event event, int64_t deadline,
		   struct error *err);

/*
 * Ask QEMU to exit, and wait until it has closed the connection.  QEMU may
 * close it before its reply to quit arrives; that is success too.
 */
int qmp_quit(struct qmp *qmp, int64_t deadline, struct error *err);

static inline void qmp_freep(struct qmp **qmp)
{
	qmp_free(*qmp);
}

#define _cleanup_qmp_ _cleanup_(qmp_freep)
