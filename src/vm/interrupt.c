// SPDX-License-Identifier: MIT
#include "vm/interrupt.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cleanup.h"
#include "base/error.h"
#include "base/terminal.h"

/* Each stops the run the same way; the default action of each ends the
 * process, so this is what a user or a parent process means by sending it. */
static const int interrupt_set[] = {
	SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE, SIGALRM, SIGUSR1, SIGUSR2,
	SIGVTALRM, SIGPROF, SIGXCPU, SIGXFSZ, SIGPWR, SIGSTKFLT,
};

#define INTERRUPT_MAX_QEMUS 256

static volatile sig_atomic_t interrupt_signo;
/* Each running QEMU's pidfd + 1 (0: a free slot).  A pidfd names its
 * process for good: one reaped meanwhile is ESRCH, never another process
 * that took its pid. */
static volatile int interrupt_qemu_pidfds[INTERRUPT_MAX_QEMUS];
static int interrupt_failed;		/* set once, atomically */
static char interrupt_message[512];

/* Async-signal-safe: a system call per QEMU. */
static void interrupt_kill(int pidfd)
{
	syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
}

static void interrupt_kill_all(void)
{
	for (size_t i = 0; i < INTERRUPT_MAX_QEMUS; i++) {
		int slot = __atomic_load_n(&interrupt_qemu_pidfds[i], __ATOMIC_SEQ_CST);

		if (slot > 0)
			interrupt_kill(slot - 1);
	}
}

static void interrupt_on_signal(int signo)
{
	int saved = errno;

	terminal_restore();
	if (!interrupt_signo)
		interrupt_signo = signo;
	interrupt_kill_all();
	errno = saved;
}

void interrupt_install(void)
{
	struct sigaction sa = { .sa_handler = interrupt_on_signal };

	/* One handler at a time; no SA_RESTART, so blocking calls return
	 * EINTR and their loops see the request. */
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < ARRAY_SIZE(interrupt_set); i++)
		sigaddset(&sa.sa_mask, interrupt_set[i]);
	for (size_t i = 0; i < ARRAY_SIZE(interrupt_set); i++) {
		struct sigaction old;

		/* A signal ignored on entry stays ignored (nohup, a shell's
		 * background job), as in any well-behaved program; but not
		 * SIGPIPE: its writes would fail with EPIPE for ever, and a
		 * closed stdout must still end the run. */
		if (interrupt_set[i] != SIGPIPE && sigaction(interrupt_set[i], NULL, &old) == 0 &&
		    old.sa_handler == SIG_IGN)
			continue;
		sigaction(interrupt_set[i], &sa, NULL);
	}
}

int interrupt_signal(void)
{
	return interrupt_signo;
}

bool interrupt_requested(void)
{
	return interrupt_signo || __atomic_load_n(&interrupt_failed, __ATOMIC_SEQ_CST) == 2;
}

void interrupt_fail(const char *fmt, ...)
{
	int unset = 0;
	va_list ap;

	if (!__atomic_compare_exchange_n(&interrupt_failed, &unset, 1, false, __ATOMIC_SEQ_CST,
					 __ATOMIC_SEQ_CST))
		return;
	va_start(ap, fmt);
	vsnprintf(interrupt_message, sizeof(interrupt_message), fmt, ap);
	va_end(ap);
	__atomic_store_n(&interrupt_failed, 2, __ATOMIC_SEQ_CST);
	interrupt_kill_all();
}

const char *interrupt_failure(void)
{
	return __atomic_load_n(&interrupt_failed, __ATOMIC_SEQ_CST) == 2 ? interrupt_message : NULL;
}

void interrupt_track_qemu(interrupt_slot *slot, int pidfd)
{
	if (pidfd >= 0 && *slot < 0) {
		for (int i = 0; i < INTERRUPT_MAX_QEMUS; i++) {
			int free_slot = 0;

			if (__atomic_compare_exchange_n(&interrupt_qemu_pidfds[i], &free_slot, pidfd + 1,
							false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
				*slot = i;
				/* A request that came before QEMU was known finds it here. */
				if (interrupt_requested())
					interrupt_kill(pidfd);
				return;
			}
		}
		return; /* more than 256 at once: PDEATHSIG still stops it with us */
	}
	if (pidfd < 0 && *slot >= 0) {
		__atomic_store_n(&interrupt_qemu_pidfds[*slot], 0, __ATOMIC_SEQ_CST);
		*slot = -1;
	}
}

static bool interrupt_dumps_core(int signo)
{
	return signo == SIGQUIT || signo == SIGXCPU || signo == SIGXFSZ;
}

void interrupt_exit(void)
{
	int signo = interrupt_signo;
	const char *failure = interrupt_failure();
	sigset_t set;

	if (!signo && !failure)
		return;
	if (signo && signo != SIGPIPE) {
		const char *name = sigabbrev_np(signo);

		/* On a terminal, past the "^C" it echoed. */
		fprintf(stderr, "%svmtest: interrupted by SIG%s; the VM was stopped\n",
			isatty(STDERR_FILENO) ? "\n" : "", name ? name : "?");
	} else if (!signo) {
		fprintf(stderr, "vmtest: %s; the run was stopped\n", failure);
	}
	fflush(NULL);
	if (!signo)
		exit(EXIT_STATUS_UNAVAILABLE);
	if (interrupt_dumps_core(signo))
		_exit(128 + signo);
	signal(signo, SIG_DFL);
	sigemptyset(&set);
	sigaddset(&set, signo);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	raise(signo);
	_exit(128 + signo);
}
