// SPDX-License-Identifier: MIT
#include "targets/runner.h"

#include <errno.h>
#include <stdarg.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "guest_proto.h"
#include "base/arch.h"
#include "base/clock.h"
#include "base/shell_quote.h"
#include "base/unix_socket.h"
#include "boot/guest_init.h"
#include "targets/dump.h"
#include "targets/kernel_warnings.h"
#include "targets/network.h"
#include "targets/target_run.h"
#include "targets/test_results.h"
#include "targets/warm_start.h"
#include "vm/json_io.h"
#include "vm/output.h"
#include "vm/run_dir.h"

#define RUNNER_CONNECT_TIMEOUT_MS 10000
#define RUNNER_SETUP_TIMEOUT_MS 60000
/* Each attempt to reach the agent while it boots: QEMU may be gone. */
#define RUNNER_AGENT_ATTEMPT_MS 2000

/*
 * What can be refused before anything starts.  Sharing / (or a directory
 * holding the rootfs) read-write would make the read-only root writable
 * through the share.
 */
int runner_check(const struct config *config, const struct target *t,
		 const struct run_options *o, struct error *err)
{
	const struct target_kind_ops *kind = target_run_kind(t);
	size_t n = strlen(config->base_dir);
	int r = kind->check ? kind->check(t, o, err) : 0;

	if (r < 0)
		return r;
	/* The agent protocol is JSON: text must be UTF-8 (docs/qga.md). */
	if (t->command && !json_io_utf8_valid(t->command))
		return error_usage(err, "target '%s': the command is not valid UTF-8, which the guest agent cannot carry",
				   t->name);
	if (strcmp(config->base_dir, "/") == 0 ||
	    (t->rootfs && strncmp(t->rootfs, config->base_dir, n) == 0 &&
	     (t->rootfs[n] == '/' || t->rootfs[n] == '\0')))
		return error_usage(err,
				   "target '%s': %s cannot be shared read-write at %s: it holds the root filesystem %s; run vmtest from a project directory",
				   t->name, config->base_dir, GUEST_SHARED_PATH, t->rootfs ? t->rootfs : "/");
	r = test_results_check(config, t, o, err);
	return r < 0 ? r : network_check(t, o, err);
}

/* A run directory never goes where the guest may write (a one-liner run from /tmp). */
static bool runner_shared_place(const char *base, void *data)
{
	const struct target_run *run = data;

	return config_in_writable_share(run->config, run->target, base);
}

/* How to attach gdb, said once QEMU's stub is planned. */
static void runner_say_gdb(struct target_run *run, const struct target_kind_ops *kind)
{
	const char *symbols = kind->symbols ? kind->symbols(run) : NULL;
	_cleanup_free_ char *quoted = symbols ? shell_quote_word(symbols) : NULL;

	record_log(run->record, 0, "gdb stub on 127.0.0.1:%u%s; attach with: gdb%s%s -ex "
		   "'target remote 127.0.0.1:%u'", run->gdb_port,
		   run->options->gdb_wait ? ", the CPUs held until gdb continues" : "",
		   quoted ? " " : "", quoted ? quoted : "", run->gdb_port);
	if (!symbols && kind->symbols_hint)
		record_log(run->record, 0, "%s", kind->symbols_hint);
}

/* --- preparing ----------------------------------------------------------------- */

/*
 * The accelerator: the run's, but another architecture is always
 * emulated, and asking for KVM for one is a mistake of this target's.
 */
static int runner_accel(struct target_run *run, struct error *err)
{
	const struct target *t = run->target;

	run->accel = run->options->accel;
	if (strcmp(t->arch, arch_host()) == 0)
		return 0;
	if (run->options->accel_request == ACCEL_REQUEST_KVM)
		return error_usage(err, "target '%s': --accel kvm cannot run %s guests on this %s host",
				   t->name, t->arch, arch_host());
	run->accel = QEMU_ACCEL_TCG;
	return 0;
}

static int runner_build_argv(struct target_run *run, const struct target_kind_ops *kind,
			     struct error *err)
{
	struct qemu_plan plan = {
		.run_dir = run->run_dir ? run->run_dir : "/tmp/vmtest-XXXXXX",
		.shared_dir = run->config->base_dir,
		.accel = run->accel,
	};
	_cleanup_free_ char *line = NULL;
	int r;

	plan.dump = dump_wanted(&run->dump);
	plan.gdb_port = run->gdb_port;
	plan.gdb_wait = run->gdb_port && run->options->gdb_wait;
	plan.network = run->network;
	plan.forwards = run->forwards;
	plan.n_forwards = run->n_forwards;
	kind->plan(run, &plan);
	warm_start_plan(run, &plan);
	strv_clear(&run->argv);
	r = qemu_argv_build(run->target, &plan, &run->argv, err);
	if (r < 0)
		return r;
	run->argv_leaves_out = qemu_plan_leaves_out(&plan);
	line = shell_quote_argv((int)run->argv.len, run->argv.items);
	if (!line)
		return error_set(err, ENOMEM, "out of memory");
	record_qemu_line(run->record, line);
	return 0;
}

/* Make the run directory, prepare what boots, and QEMU's command line. */
static int runner_prepare(struct target_run *run, const struct target_kind_ops *kind, bool dry,
			  struct error *err)
{
	int r = network_prepare(run, err);

	run->gdb_port = run->options->gdb_port ? run->options->gdb_port : run->target->vm.gdb_port;
	/* Nor may the set-up's requests time out while gdb holds the guest. */
	if (run->gdb_port)
		run->setup_ms = -1;
	if (r >= 0 && !dry)
		r = network_check_ports(run, err);
	if (r >= 0 && !dry)
		r = run_dir_make(runner_shared_place, run, &run->run_dir, err);
	if (r >= 0 && !dry && kind->dumps)
		r = dump_prepare(run, err);
	if (r >= 0)
		r = kind->prepare(run, err);
	if (r >= 0)
		r = runner_accel(run, err);
	if (r >= 0 && !dry && run->gdb_port)
		runner_say_gdb(run, kind);
	if (r >= 0 && !dry)
		r = warm_start_decide(run, kind, err);
	if (r >= 0)
		r = runner_build_argv(run, kind, err);
	return r;
}

/*
 * The QMP watch's thread calls this when the guest ends.  A guest to be
 * dumped is paused by QEMU at its panic, its reset or its power-off
 * (QEMU_ACTION_HOLD): dumped, or let go, here.  Others end by themselves.
 */
static void runner_guest_ended(void *data, enum qmp_watch_end end, struct qmp *qmp)
{
	struct target_run *run = data;

	if (!dump_wanted(&run->dump))
		return;
	if (end == QMP_WATCH_PANICKED)
		dump_guest(run, qmp, DUMP_PANICKED);
	else if (end == QMP_WATCH_RESET)
		dump_guest(run, qmp, DUMP_RESET);
	else if (end == QMP_WATCH_POWERED_OFF)
		qmp_quit(qmp, clock_deadline(TARGET_RUN_QUIT_MS), &(struct error){ 0 });
}

/* --- booting ----------------------------------------------------------------- */

static int runner_start_qemu(struct target_run *run, const struct target_kind_ops *kind,
			     struct error *err)
{
	_cleanup_free_ char *console_sock = target_run_path(run, QEMU_SOCKET_CONSOLE);
	_cleanup_free_ char *qemu_log = target_run_path(run, "qemu.log");
	int r;

	if (!console_sock || !qemu_log)
		return error_set(err, ENOMEM, "out of memory");
	/* A request before QEMU exists has nothing to kill: stop here. */
	if (interrupt_requested())
		return error_set(err, EINTR, "interrupted");
	r = warm_start_before_qemu(run, err);
	/* A cold boot that saves a snapshot writes fresh files of its own. */
	if (r >= 0 && warm_start_saving(run) && kind->warm_fresh)
		r = kind->warm_fresh(run, err);
	if (r >= 0)
		r = console_start(console_sock, run->record->console_fd, &run->console, err);
	/* A new VM (after a restore that failed, say) may be dumped again. */
	dump_vm_started(run);
	if (r < 0)
		return r;
	record_log(run->record, 1, "%s", run->record->qemu_line);
	r = qemu_process_start(run->argv.items, warm_start_fds(run), qemu_log, &run->qemu, err);
	if (r < 0)
		return r;
	/* A request between fork and here is seen when the pid is tracked. */
	interrupt_track_qemu(&run->qemu_slot, run->qemu.pidfd);
	return 0;
}

/* Connect to QEMU's sockets; QEMU creates them as it starts. */
static int runner_connect(struct target_run *run, const struct target_kind_ops *kind,
			  struct error *err)
{
	int64_t deadline = clock_deadline(RUNNER_CONNECT_TIMEOUT_MS);
	_cleanup_free_ char *qmp = target_run_path(run, QEMU_SOCKET_QMP);
	_cleanup_free_ char *watch = target_run_path(run, QEMU_SOCKET_QMP_WATCH);
	_cleanup_free_ char *agent = target_run_path(run, QEMU_SOCKET_AGENT);
	_cleanup_free_ char *output = target_run_path(run, QEMU_SOCKET_OUTPUT);
	int r;

	if (!qmp || !watch || !agent || !output)
		return error_set(err, ENOMEM, "out of memory");
	r = qmp_connect(qmp, deadline, &run->qmp, err);
	if (r >= 0)
		r = qmp_watch_start(watch, deadline, runner_guest_ended, run, &run->watch, err);
	if (r >= 0)
		r = qga_connect(agent, deadline, &run->qga, err);
	if (r >= 0) {
		run->output_fd = unix_socket_connect(output, deadline, false, err);
		r = run->output_fd < 0 ? run->output_fd : 0;
	}
	if (r >= 0)
		r = kind->started(run, deadline, err);
	/* QEMU's sockets close a moment before it can be reaped: a QEMU that
	 * died is named as such, not as a closed connection. */
	if (r < 0)
		qemu_process_wait(&run->qemu, TARGET_RUN_EXIT_GRACE_MS);
	if (r < 0 && qemu_process_exited(&run->qemu))
		return target_run_fail_qemu(run, err);
	return r;
}

/*
 * Wait for the agent to answer.  An image's qemu-ga ignores what was sent
 * before it started, so each attempt reconnects and syncs afresh, until
 * the deadline or until QEMU is gone.
 */
static int runner_wait_agent(struct target_run *run, int64_t deadline, struct error *err)
{
	_cleanup_free_ char *agent = target_run_path(run, QEMU_SOCKET_AGENT);

	if (!agent)
		return error_set(err, ENOMEM, "out of memory");
	for (int r = 0;;) {
		int64_t attempt = clock_deadline(RUNNER_AGENT_ATTEMPT_MS);

		if (attempt > deadline)
			attempt = deadline;
		if (run->qga)
			r = qga_sync_delimited(run->qga, attempt, err);
		if (r < 0 && r != -ETIMEDOUT && r != -EAGAIN && err->msg[0])
			snprintf(run->agent_trouble, sizeof(run->agent_trouble), "%s", err->msg);
		if (r >= 0 || qemu_process_exited(&run->qemu) || target_run_kernel_died(run) ||
		    interrupt_requested())
			return r;
		if (clock_now_ms() >= deadline)
			return error_set(err, ETIMEDOUT, "the guest agent did not answer");
		run->qga = qga_free(run->qga);
		r = qga_connect(agent, attempt, &run->qga, err);
		if (r >= 0)
			r = -EAGAIN; /* connected: sync on the next round */
	}
}

/* The agent's silence, said with what it did answer, if anything. */
static int runner_agent_silent(const struct target_run *run, const struct target_kind_ops *kind,
			       unsigned timeout_s, struct error *err)
{
	const char *trouble = run->agent_trouble;

	return error_set(err, ETIMEDOUT, "%s within %u s of booting%s%s%s",
			 trouble[0] ? "the guest agent did not answer properly"
				    : "the guest did not answer",
			 timeout_s, trouble[0] ? " (last: " : "", trouble,
			 trouble[0] ? ")" : kind->silent_agent_hint);
}

/* One boot: QEMU started, its sockets connected, the agent answering. */
static int runner_boot_once(struct target_run *run, const struct target_kind_ops *kind,
			    unsigned timeout_s, struct error *err)
{
	int64_t start = clock_now_ms();
	int r;

	r = runner_start_qemu(run, kind, err);
	if (r >= 0)
		r = runner_connect(run, kind, err);
	if (r >= 0)
		r = warm_start_load(run, err);
	if (r >= 0) {
		/* A debugger may hold the guest as long as it likes. */
		int64_t timeout_ms = run->gdb_port ? -1 : timeout_s * 1000LL;

		if (warm_start_restoring(run) && timeout_ms > WARM_RESTORE_TIMEOUT_MS)
			timeout_ms = WARM_RESTORE_TIMEOUT_MS;
		r = runner_wait_agent(run, clock_deadline(timeout_ms), err);
		if (r == -ETIMEDOUT && !target_run_qemu_failed(run, 0))
			return runner_agent_silent(run, kind, (unsigned)(timeout_ms / 1000), err);
		/* The agent's socket closes a moment before QEMU exits. */
		if (r < 0)
			qemu_process_wait(&run->qemu, TARGET_RUN_EXIT_GRACE_MS);
		else
			record_log(run->record, 1, "guest agent answered after %.2f s",
				   (double)(clock_now_ms() - start) / 1000);
		/* From here what runs in the guest may print anything to its console. */
		run->agent_answered = r >= 0;
	}
	return target_run_check(run, r, err);
}

/*
 * Stop what a boot started: QEMU, the console's thread, the connections.
 * The console spool's write error, if any (0: none).
 */
static int runner_end_vm(struct target_run *run)
{
	int spool_errno;

	/* A dump being written finishes first; none starts after.  The watch's
	 * thread, which may end QEMU through its pidfd, goes before that does. */
	dump_vm_ending(run);
	run->watch = qmp_watch_free(run->watch);
	interrupt_track_qemu(&run->qemu_slot, -1);
	qemu_process_clear(&run->qemu);
	/* QEMU is gone: the console has all it will get. */
	spool_errno = run->console ? console_stop(run->console) : 0;
	if (!spool_errno)
		spool_errno = run->console_errno;
	run->console = console_free(run->console);
	run->qga = qga_free(run->qga);
	run->qmp = qmp_free(run->qmp);
	if (run->output_fd >= 0)
		close(run->output_fd);
	run->output_fd = -1;
	return spool_errno;
}

/* What a failed boot left, so that another can start in the same run directory. */
static void runner_unboot(struct target_run *run)
{
	static const char *const sockets[] = { QEMU_SOCKET_QMP, QEMU_SOCKET_QMP_WATCH, QEMU_SOCKET_AGENT,
					       QEMU_SOCKET_OUTPUT, QEMU_SOCKET_CONSOLE,
					       QEMU_SOCKET_ERROR };

	runner_end_vm(run);
	memset(run->agent_trouble, 0, sizeof(run->agent_trouble));
	run->agent_answered = false;
	/* The next boot listens on the same names. */
	for (size_t i = 0; i < ARRAY_SIZE(sockets); i++) {
		_cleanup_free_ char *path = target_run_path(run, sockets[i]);

		if (path)
			unlink(path);
	}
}

/*
 * Restore the snapshot, or boot cold when there is none or it fails (a
 * cold boot then saves one).
 */
static int runner_boot(struct target_run *run, const struct target_kind_ops *kind,
		       struct error *err)
{
	unsigned timeout_s = run->options->boot_timeout_s ? run->options->boot_timeout_s
			     : run->accel == QEMU_ACCEL_KVM ? TARGET_RUN_BOOT_TIMEOUT_KVM_S
							 : TARGET_RUN_BOOT_TIMEOUT_TCG_S;
	char why[sizeof(err->msg)];
	int r;

	if (warm_start_restoring(run)) {
		r = runner_boot_once(run, kind, timeout_s, err);
		/* A QEMU killed by someone says nothing of the snapshot. */
		if (r >= 0 || interrupt_requested() ||
		    (qemu_process_exited(&run->qemu) && WIFSIGNALED(run->qemu.wstatus)))
			return r;
		snprintf(why, sizeof(why), "%s", err->msg);
		*err = (struct error){ 0 };
		runner_unboot(run);
		r = warm_start_fall_back(run, why, err);
		if (r >= 0)
			r = runner_build_argv(run, kind, err);
		if (r < 0)
			return r;
	}
	r = runner_boot_once(run, kind, timeout_s, err);
	if (r >= 0)
		r = target_run_check(run, warm_start_save(run, err), err);
	return r;
}

/* --- the end --------------------------------------------------------------- */

static void runner_clear(struct target_run *run, const struct target_kind_ops *kind)
{
	int spool_errno = runner_end_vm(run);

	if (spool_errno) {
		char where[PATH_MAX];

		output_spool_dir(run->record->console_fd, where, sizeof(where));
		record_log(run->record, 0, "cannot keep the guest console in a spool file in %s: %s; "
			   "what is shown of it is incomplete", where, strerror(spool_errno));
	}
	warm_start_clear(run);
	if (run->run_dir && kind->ended)
		kind->ended(run);
	test_results_end(run);
	kind->clear(run);
	run_dir_remove(run->run_dir);
	free(run->run_dir);
	run->run_dir = NULL;
	free(run->boot_note);
	run->boot_note = NULL;
	free(run->forwards);
	run->forwards = NULL;
	dump_keep(run);
	strv_clear(&run->argv);
}

/*
 * What the guest kernel's warnings add to a reason: "" when none fail the
 * target, else "; the kernel warned: TITLE (and N more)".
 */
static void runner_warned(const struct record *record, bool panic_said, char *buf, size_t len)
{
	const char *first = NULL;
	size_t n = 0;

	buf[0] = '\0';
	if (!record->kernel_warnings_fail)
		return;
	/* A panic that is the reason already is not said twice (its record can
	 * reach the log from another CPU before the kernel stops). */
	for (size_t i = 0; i < record->n_kernel_warnings; i++) {
		if (panic_said && strncmp(record->kernel_warning_titles[i], KERNEL_PANIC_TITLE,
					  strlen(KERNEL_PANIC_TITLE)) == 0)
			continue;
		first = first ? first : record->kernel_warning_titles[i];
		n++;
	}
	if (!n)
		return;
	snprintf(buf, len, "; the kernel warned: %s", first);
	if (n > 1)
		snprintf(buf + strlen(buf), len - strlen(buf), " (and %zu more)", n - 1);
}

/* How one attempt at a target ended, before its tests have their say. */
struct runner_verdict {
	enum record_outcome outcome;
	int exit_status;
	char reason[sizeof(((struct record *)0)->reason)];
	bool final;		/* no retry can change it (the run was stopped) */
};

static void runner_set(struct runner_verdict *v, enum record_outcome outcome, int exit_status,
		       const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void runner_set(struct runner_verdict *v, enum record_outcome outcome, int exit_status,
		       const char *fmt, ...)
{
	va_list ap;

	v->outcome = outcome;
	v->exit_status = exit_status;
	v->reason[0] = '\0';
	if (!fmt)
		return;
	va_start(ap, fmt);
	vsnprintf(v->reason, sizeof(v->reason), fmt, ap);
	va_end(ap);
}

/* How the command ended, as vmtest reports it. */
static void runner_verdict(struct record *record, const struct qga_exec_status *st,
			   struct runner_verdict *v)
{
	char warned[1024];

	runner_warned(record, false, warned, sizeof(warned));
	if (st->signal)
		runner_set(v, RECORD_FAILED, 128 + st->signal, "Command killed by signal %d%s",
			   st->signal, warned);
	else if (st->exitcode != 0)
		runner_set(v, RECORD_FAILED, st->exitcode, "Command failed with exit code: %d%s",
			   st->exitcode, warned);
	else if (warned[0])
		/* The command passed: the kernel's warning is the failure. */
		runner_set(v, RECORD_FAILED, EXIT_STATUS_KERNEL_WARNING, "Kernel warning: %s",
			   warned + strlen("; the kernel warned: "));
	else
		runner_set(v, RECORD_PASSED, 0, NULL);
}

static int runner_live(struct target_run *run, const struct target_kind_ops *kind,
		       struct qga_exec_status *st, struct error *err)
{
	int r;

	record_stage(run->record, RECORD_STAGE_BOOTING);
	r = runner_boot(run, kind, err);
	if (r >= 0) {
		record_stage(run->record, RECORD_STAGE_SETUP);
		r = kind->setup(run, err);
	}
	if (r >= 0)
		r = test_results_begin(run, err);
	if (r >= 0) {
		record_stage(run->record, RECORD_STAGE_COMMAND);
		r = kind->exec(run, st, err);
	}
	/* --dump: a guest that hung is worth a look too. */
	if (r < 0 && run->timed_out && run->options->dump_on_timeout && !interrupt_requested())
		dump_guest(run, run->qmp, DUMP_TIMED_OUT);
	if (r >= 0) {
		/* From here QEMU is stopped on purpose: no signal needs to kill it. */
		interrupt_track_qemu(&run->qemu_slot, -1);
		kind->shutdown(run);
	}
	return r;
}

/*
 * One attempt at the target: its verdict in *v, its tests (if asked for)
 * in *ret_results.  -EINTR when a signal stopped it: nothing to report.
 */
static int runner_attempt(const struct config *config, const struct target *t,
			  const struct run_options *o, struct record *record, char **extra_env,
			  struct runner_verdict *v, struct results **ret_results)
{
	const struct target_kind_ops *kind = target_run_kind(t);
	struct target_run run = {
		.config = config, .target = t, .options = o, .record = record,
		.qemu = { .pidfd = -1 }, .qemu_slot = -1, .output_fd = -1, .dump = DUMP_STATE_INIT,
		.setup_ms = o->boot_timeout_s ? o->boot_timeout_s * 1000LL : RUNNER_SETUP_TIMEOUT_MS,
		.timeout_s = o->timeout_s ? o->timeout_s : t->timeout_s,
		.extra_env = extra_env,
	};
	struct qga_exec_status st = { 0 };
	struct error err = { 0 };
	char warned[1024];
	int r;

	r = runner_prepare(&run, kind, false, &err);
	if (r >= 0)
		r = runner_live(&run, kind, &st, &err);
	/* Stopped by a signal, not failed: nothing to report.  Stopped because
	 * a destination failed (a full stdout, --log): reported as stopped, so
	 * that the reports hold every target that ran.  A command that had
	 * ended keeps its verdict, whatever came after. */
	if (r < 0 && interrupt_requested()) {
		runner_clear(&run, kind);
		*ret_results = TAKE_PTR(run.results);
		if (interrupt_signal() || !interrupt_failure())
			return -EINTR;
		runner_set(v, RECORD_ERROR, EXIT_STATUS_UNAVAILABLE, "vmtest: the run was stopped: %s",
			   interrupt_failure());
		v->final = true;
		return 0;
	}
	runner_clear(&run, kind);
	*ret_results = TAKE_PTR(run.results);
	runner_warned(record, r < 0 && run.kernel_died, warned, sizeof(warned));
	if (r < 0 && run.timed_out)
		/* The target failed, the run did not. */
		runner_set(v, RECORD_TIMED_OUT, EXIT_STATUS_TIMEOUT, "Timed out after %u s%s",
			   run.timed_out, warned);
	else if (r < 0)
		runner_set(v, RECORD_ERROR, err.status ? (int)err.status : EXIT_STATUS_UNAVAILABLE,
			   "vmtest: %s%s", err.msg, warned);
	else
		runner_verdict(record, &st, v);
	/* A target that cannot be run as configured fails the same way again. */
	v->final = r < 0 && err.status == EXIT_STATUS_USAGE;
	qga_exec_status_clear(&st);
	return 0;
}

/* The attempt's tests into the record's (a retry's merged: flaky tests). */
static void runner_keep_results(struct record *record, struct results *attempt)
{
	if (!attempt)
		return;
	if (!record->results) {
		record->results = attempt;
		return;
	}
	if (results_merge_retry(record->results, attempt) < 0)
		record_log(record, 0, "out of memory: the retry's tests were not merged");
	results_free(attempt);
}

/* What the tests add to an attempt's verdict: a target passes only when
 * its command passed and none of its tests failed. */
static void runner_judge(const struct record *record, struct runner_verdict *v)
{
	char tests[1024];
	size_t at = strlen(v->reason);

	test_results_reason(record->results, tests, sizeof(tests));
	if (!tests[0])
		return;
	if (v->outcome == RECORD_PASSED) {
		runner_set(v, RECORD_FAILED, EXIT_STATUS_FAILED, "%s", tests);
		return;
	}
	snprintf(v->reason + at, sizeof(v->reason) - at, "; %s", tests);
}

/*
 * The environment of a retry: VMTEST_ATTEMPT, and VMTEST_FAILED_TESTS,
 * the paths of the tests that failed, one per line, for a command that can
 * run only those (docs/tests.md); within what an environment takes.
 */
static char **runner_retry_env(const struct record *record, unsigned attempt)
{
	_cleanup_free_ char *failed = results_failed_paths(record->results, 4096);
	char **env = calloc(3, sizeof(*env));
	size_t n = 0;

	if (!env)
		return NULL;
	if (asprintf(&env[n], "VMTEST_ATTEMPT=%u", attempt) >= 0)
		n++;
	if (failed && *failed && strlen(failed) < 64 * 1024 && !strstr(failed, "... and ")) {
		failed[strlen(failed) - 1] = '\0';
		if (asprintf(&env[n], "VMTEST_FAILED_TESTS=%s", failed) >= 0)
			n++;
	}
	env[n] = NULL;
	return env;
}

static void runner_free_env(char **env)
{
	for (size_t i = 0; env && env[i]; i++)
		free(env[i]);
	free(env);
}

int runner_run(const struct config *config, const struct target *t,
	       const struct run_options *o, struct record *record)
{
	struct runner_verdict v = { 0 };
	char **env = NULL;
	unsigned attempt;

	for (attempt = 1;; attempt++) {
		struct results *results = NULL;
		int r = runner_attempt(config, t, o, record, env, &v, &results);

		runner_free_env(env);
		env = NULL;
		runner_keep_results(record, results);
		if (r < 0)
			return r;
		runner_judge(record, &v);
		if (v.outcome == RECORD_PASSED || v.final || attempt > o->retry_failed)
			break;
		record_log(record, 0, "attempt %u of %u failed (%s): trying again", attempt,
			   o->retry_failed + 1, v.reason);
		record_retry(record);
		env = runner_retry_env(record, attempt + 1);
	}
	record->attempts = attempt;
	record->flaky = attempt > 1 && v.outcome == RECORD_PASSED;
	if (v.reason[0])
		record_end(record, v.outcome, v.exit_status, "%s", v.reason);
	else
		record_end(record, v.outcome, v.exit_status, NULL);
	return 0;
}

int runner_plan(const struct config *config, const struct target *t,
		const struct run_options *o, struct record *record, char **ret_line,
		struct error *err)
{
	const struct target_kind_ops *kind = target_run_kind(t);
	struct target_run run = {
		.config = config, .target = t, .options = o, .record = record,
		.qemu = { .pidfd = -1 }, .qemu_slot = -1, .output_fd = -1, .dump = DUMP_STATE_INIT,
	};
	int r = runner_prepare(&run, kind, true, err);

	if (r >= 0) {
		*ret_line = record->qemu_line ? strdup(record->qemu_line) : NULL;
		r = *ret_line ? 0 : error_set(err, ENOMEM, "out of memory");
	}
	runner_clear(&run, kind);
	return r;
}
