// SPDX-License-Identifier: MIT
#include "targets/dump.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cleanup.h"
#include "base/clock.h"
#include "base/host_file.h"
#include "targets/target_run.h"
#include "vm/json_io.h"
#include "vm/vmcore.h"

/* A dump reads all of guest memory; under TCG a 4 GB guest takes its while. */
#define DUMP_TIMEOUT_MS 600000
#define DUMP_FAILURE_LEN 256
/* After the dump, QEMU is asked to quit; a guest held at its panic is slow to. */
#define DUMP_QUIT_MS 5000

static const char *const dump_reason_words[] = {
	[DUMP_PANICKED] = "panicked",
	[DUMP_RESET] = "reset",
	[DUMP_TIMED_OUT] = "timed-out",
};

/* An unlinked file in the run's private directory, for a dump. */
static int dump_file(struct target_run *run, int *ret_fd, struct error *err)
{
	int fd = host_unlinked_file(run->run_dir);

	if (fd < 0)
		return error_set_errno(err, -fd, "a file for the guest's dump in %s", run->run_dir);
	*ret_fd = fd;
	return 0;
}

int dump_prepare(struct target_run *run, struct error *err)
{
	if (!run->options->dump || !run->run_dir)
		return 0;
	/* QEMU's vmcoreinfo device needs fw_cfg (s390x has none), and only
	 * x86_64's dumps are tried (docs/vmcore.md). */
	if (strcmp(run->target->arch, "x86_64") != 0) {
		record_log(run->record, 1, "no vmcore for a %s guest: vmtest dumps x86_64 kernels "
			   "only", run->target->arch);
		return 0;
	}
	return dump_file(run, &run->dump.fd, err);
}

void dump_set_kernel_version(struct target_run *run, const char *version)
{
	/* The dump, on another thread, reads it under this lock. */
	pthread_mutex_lock(&run->dump.lock);
	snprintf(run->dump.kernel_version, sizeof(run->dump.kernel_version), "%s", version);
	pthread_mutex_unlock(&run->dump.lock);
}

void dump_vm_started(struct target_run *run)
{
	pthread_mutex_lock(&run->dump.lock);
	run->dump.closed = false;
	pthread_mutex_unlock(&run->dump.lock);
}

void dump_vm_ending(struct target_run *run)
{
	pthread_mutex_lock(&run->dump.lock);
	run->dump.closed = true;
	pthread_mutex_unlock(&run->dump.lock);
}

/* DUMP_COMPLETED's "error", when QEMU reports one. */
static void dump_event(enum qmp_event event, const char *name, const struct json_value *data,
		       void *userdata)
{
	char *failure = userdata;
	const char *msg = data ? json_io_get_string(data, "error") : NULL;

	(void)name;
	if (event == QMP_EVENT_DUMP_COMPLETED && msg)
		snprintf(failure, DUMP_FAILURE_LEN, "%s", msg);
}

/* Only signalled here, on any thread: the runner's thread reaps QEMU. */
static void dump_kill_qemu(struct target_run *run)
{
	if (run->qemu.pidfd >= 0)
		syscall(SYS_pidfd_send_signal, run->qemu.pidfd, SIGKILL, NULL, 0);
}

/* QEMU goes, dump or not: a guest held at its panic would hang the run. */
static void dump_end_qemu(struct target_run *run, struct qmp *qmp)
{
	if (!qmp || qmp_quit(qmp, clock_deadline(DUMP_QUIT_MS), &(struct error){ 0 }) < 0)
		dump_kill_qemu(run);
}

/*
 * The guest's memory, kdump-compressed with its VMCOREINFO, into a file of
 * vmtest's (getfd): detached, so that QEMU's main loop serves the console
 * and the other monitor while it writes, and then made the plain file
 * crash and drgn open (vm/vmcore.h).  QEMU is asked to quit after, which
 * ends the run as a panic always did.
 */
static int dump_now(struct target_run *run, struct qmp *qmp, struct error *err)
{
	_cleanup_json_ struct json_value *args = json_io_new_object();
	int64_t deadline = clock_deadline(DUMP_TIMEOUT_MS);
	char failure[DUMP_FAILURE_LEN] = "";
	qmp_event_fn saved_fn;
	void *saved_data;
	int plain = -1, r = args ? 0 : error_set(err, ENOMEM, "out of memory");

	qmp_event_handler(qmp, &saved_fn, &saved_data);
	qmp_on_event(qmp, dump_event, failure);
	if (r >= 0)
		r = qmp_getfd(qmp, "vmcore", run->dump.fd, deadline, err);
	if (r >= 0 && (json_io_set_bool(args, "paging", false) < 0 ||
		       json_io_set_bool(args, "detach", true) < 0 ||
		       json_io_set_string(args, "protocol", "fd:vmcore") < 0 ||
		       json_io_set_string(args, "format", "kdump-zlib") < 0))
		r = error_set(err, ENOMEM, "out of memory");
	if (r >= 0)
		r = qmp_execute(qmp, "dump-guest-memory", args, deadline, NULL, err);
	if (r >= 0)
		r = qmp_wait_event(qmp, QMP_EVENT_DUMP_COMPLETED, deadline, err);
	if (r >= 0 && failure[0])
		r = error_set(err, EIO, "QEMU: %s", failure);
	qmp_on_event(qmp, saved_fn, saved_data);
	dump_end_qemu(run, qmp);
	if (r >= 0)
		r = dump_file(run, &plain, err);
	if (r >= 0)
		r = vmcore_finish(run->dump.fd, plain, run->dump.kernel_version, err);
	if (r < 0) {
		if (plain >= 0)
			close(plain);
		return r;
	}
	close(run->dump.fd);
	run->dump.fd = plain;
	return r;
}

/*
 * The lock holds off the end of the VM (dump_vm_ending) while the dump
 * runs, and after that end nothing dumps.  A dump that failed leaves no
 * file: half a dump, or the flattened stream, would only mislead.  A guest
 * that panics again (a cold boot after a restore whose guest panicked) is
 * not dumped, but its QEMU goes all the same.
 */
void dump_guest(struct target_run *run, struct qmp *qmp, enum dump_reason why)
{
	struct dump_state *d = &run->dump;
	const char *word = dump_reason_words[why];
	int64_t start = clock_now_ms();
	struct error err = { 0 };
	struct stat st;
	int r;

	pthread_mutex_lock(&d->lock);
	if (d->closed) {
		/* The VM ends anyway. */
	} else if (d->fd < 0 || d->dumped) {
		dump_end_qemu(run, qmp);
	} else {
		d->dumped = true;
		r = dump_now(run, qmp, &err);
		if (r < 0) {
			close(d->fd);
			d->fd = -1;
		}
		if (r >= 0 && fstat(d->fd, &st) == 0)
			snprintf(d->note, sizeof(d->note),
				 "dumped the %s guest's memory (%.1f MB, kdump-compressed) in %.1f s%s",
				 word, (double)st.st_size / (1 << 20),
				 (double)(clock_now_ms() - start) / 1000,
				 r == 1 ? ", without VMCOREINFO: the guest kernel has no "
					  "qemu_fw_cfg driver (CONFIG_FW_CFG_SYSFS)" : "");
		else
			snprintf(d->note, sizeof(d->note), "could not dump the %s guest's memory: %s",
				 word, err.msg);
	}
	pthread_mutex_unlock(&d->lock);
}

void dump_keep(struct target_run *run)
{
	struct dump_state *d = &run->dump;
	struct stat st;

	if (d->note[0])
		record_log(run->record, 0, "%s", d->note);
	d->note[0] = '\0';
	if (d->fd < 0)
		return;
	if (fstat(d->fd, &st) == 0 && st.st_size > 0 && run->record->vmcore_fd < 0) {
		run->record->vmcore_fd = d->fd;
		lseek(d->fd, 0, SEEK_SET);
	} else {
		close(d->fd);
	}
	d->fd = -1;
}
