/* SPDX-License-Identifier: MIT */
/*
 * interrupt: stopping a whole run at once.  A run ends early for one of
 * two reasons: a signal whose default action would end vmtest (Ctrl-C,
 * Ctrl-\, a closed pipe on stdout, SIGTERM, a timer, a resource limit...),
 * or a destination the user asked vmtest to write (--log, a report) that
 * failed.  Either way every QEMU is killed at once (the handler holds their
 * pidfds), the targets wind down through their usual clean-up, and main ends
 * the way a host command would: by the same signal, or with status 69.
 *
 * Synchronous faults (SIGSEGV, SIGBUS, SIGFPE, SIGILL) are not handled
 * here: the sanitizers and the default action own them, and PDEATHSIG
 * still takes QEMU down with vmtest.
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

/* A slot of the table of running QEMUs; -1 when none is held. */
typedef int interrupt_slot;

/* Install the handler for every signal of the set not ignored on entry;
 * SIGPIPE always, so a write to a closed stdout ends the run as it would
 * end a host command. */
void interrupt_install(void);

/* The signal that interrupted the run, or 0. */
int interrupt_signal(void);

/* Whether the run is being stopped, for a signal or a failed destination. */
bool interrupt_requested(void);

/*
 * Stop the run because a destination failed: the first message is kept
 * ("cannot write --log run.log: No space left on device") and every QEMU
 * is killed.  Thread-safe; later calls only add nothing.
 */
void interrupt_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The message of interrupt_fail, or NULL. */
const char *interrupt_failure(void);

/*
 * Tell the handler about a QEMU, by its pidfd, or (-1) that it is gone:
 * before that pidfd is closed, so that its number is never another file's.
 */
void interrupt_track_qemu(interrupt_slot *slot, int pidfd);

/*
 * After clean-up, end as a host command would have: say what happened on
 * stderr (not for SIGPIPE: nobody reads, and `yes | head` says nothing),
 * then die by the signal itself, so that a shell, a `while` loop or
 * subprocess sees it; for the signals whose default also dumps core
 * (SIGQUIT, SIGXCPU, SIGXFSZ), exit 128+N without a core.  For a failed
 * destination: the message, and 69.  Returns only when nothing interrupted
 * the run.
 */
void interrupt_exit(void);
