// SPDX-License-Identifier: MIT
/*
 * What every kind of target shares while its VM lives (target_run.h): the
 * run directory's paths, and what to say when QEMU is the cause of a step's
 * failure.
 */
#include "targets/target_run.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "cleanup.h"
#include "base/clock.h"

const struct target_kind_ops *target_run_kind(const struct target *t)
{
	return t->kind == TARGET_KERNEL ? &target_kernel_ops : &target_image_ops;
}

char *target_run_path(const struct target_run *run, const char *name)
{
	char *path;

	return asprintf(&path, "%s/%s", run->run_dir, name) < 0 ? NULL : path;
}

/*
 * What a QEMU that refuses us lacks, when its message says: some builds
 * leave out 9p (RHEL's qemu-kvm: "'virtio-9p-pci' is not a valid device
 * model name"; --disable-virtfs: "fsdev support is disabled").
 */
static const char *target_run_qemu_hint(const char *log)
{
	if (log && (strstr(log, "virtio-9p") || strstr(log, "fsdev")) &&
	    (strstr(log, "not a valid device model") || strstr(log, "disabled") ||
	     strstr(log, "no option group")))
		return "\nvmtest: this QEMU has no 9p (VirtFS) support, which kernel targets need to "
		       "reach the host's files: use a QEMU built with it (Debian's qemu-system-* "
		       "packages are), or an image target";
	return "";
}

bool target_run_kernel_died(struct target_run *run)
{
	enum qmp_watch_end end = qmp_watch_state(run->watch);

	if (end == QMP_WATCH_PANICKED || end == QMP_WATCH_RESET)
		return true;
	return !run->agent_answered && run->console && console_panicked(run->console);
}

/* Its sockets close a moment before it can be reaped, so a broken
 * connection waits a little for it. */
bool target_run_qemu_failed(struct target_run *run, int r)
{
	if (r == -EPIPE || r == -ECONNRESET)
		qemu_process_wait(&run->qemu, TARGET_RUN_EXIT_GRACE_MS);
	return qemu_process_exited(&run->qemu) || target_run_kernel_died(run);
}

/*
 * The kernel's death, in the console's words where it has them: QEMU says
 * that it panicked, the console's last panic line says what of.  A reset
 * without a panic line is a reboot or a triple fault.  NULL: it did not die.
 */
static int target_run_kernel_death(struct target_run *run, struct error *err)
{
	enum qmp_watch_end end = qmp_watch_state(run->watch);
	_cleanup_free_ char *line = run->console ? console_panic_line(run->console) : NULL;

	if (end == QMP_WATCH_PANICKED || (line && (end == QMP_WATCH_RESET || !run->agent_answered)))
		return error_set(err, EIO, "the guest kernel panicked%s%s", line ? ": " : "",
				 line ? line : " (its pvpanic device told QEMU; the console says no more)");
	if (end == QMP_WATCH_RESET)
		return error_set(err, EIO, "the guest reset itself before the command ended (a "
				 "reboot, or a fault the kernel could not recover from)");
	if (!run->agent_answered && run->console && console_panicked(run->console))
		return error_set(err, EIO, "the guest kernel panicked");
	return 0;
}

/* How QEMU ended, in its own words when it left any. */
static int target_run_qemu_ended(const struct target_run *run, const char *log,
				 struct error *err)
{
	int status = run->qemu.wstatus;

	if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
		return error_set(err, ENOENT, "%s", log && *log ? log : "cannot run QEMU");
	if (WIFSIGNALED(status))
		return error_set(err, EIO, "QEMU was killed by signal %d (SIG%s)%s%s",
				 WTERMSIG(status), sigabbrev_np(WTERMSIG(status)) ?: "?",
				 log && *log ? ": " : "", log ? log : "");
	if (WEXITSTATUS(status) == 0)
		return error_set(err, EIO, "the guest powered off before the command ended");
	return error_set(err, EIO, "QEMU exited (status %d)%s%s%s", WEXITSTATUS(status),
			 log && *log ? ": " : "", log ? log : "", target_run_qemu_hint(log));
}

int target_run_fail_qemu(struct target_run *run, struct error *err)
{
	_cleanup_free_ char *log = qemu_process_log_tail(&run->qemu, 2000);
	_cleanup_free_ char *init = run->console ? console_lines_with(run->console, "vmtest-init: ")
						 : NULL;
	/* The console, shown with the error, has the rest. */
	int r = target_run_kernel_death(run, err);

	run->kernel_died = r < 0;
	if (r < 0)
		return r;
	qemu_process_wait(&run->qemu, TARGET_RUN_EXIT_GRACE_MS);
	if (!qemu_process_exited(&run->qemu))
		return error_set(err, EIO, "QEMU stopped answering, but did not exit");
	if (init)
		return error_set(err, EIO, "the guest could not start: %s%s", init,
				 run->boot_note ? run->boot_note : "");
	return target_run_qemu_ended(run, log, err);
}

int target_run_check(struct target_run *run, int r, struct error *err)
{
	if (r < 0 && target_run_qemu_failed(run, r))
		return target_run_fail_qemu(run, err);
	return r;
}

void target_run_stop_qemu(struct target_run *run)
{
	struct error ignored = { 0 };

	if (run->qmp)
		qmp_quit(run->qmp, clock_deadline(TARGET_RUN_QUIT_MS), &ignored);
	qemu_process_stop(&run->qemu);
}
