// SPDX-License-Identifier: MIT
#include "targets/runner.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "guest_proto.h"
#include "base/clock.h"
#include "base/host_file.h"
#include "base/shell_quote.h"
#include "base/unix_socket.h"
#include "boot/arch.h"
#include "boot/cache.h"
#include "boot/snapshot.h"
#include "targets/target_run.h"
#include "targets/warm_start.h"
#include "vm/json_io.h"
#include "vm/output.h"
#include "vm/run_dir.h"
#include "vm/vmcore.h"

#define RUNNER_CONNECT_TIMEOUT_MS 10000
#define RUNNER_SETUP_TIMEOUT_MS 60000
/* A dump reads all of guest memory; under TCG a 4 GB guest takes its while. */
#define RUNNER_DUMP_TIMEOUT_MS 600000
#define RUNNER_DUMP_FAILURE_LEN 256
/* Each attempt to reach the agent while it boots: QEMU may be gone. */
#define RUNNER_AGENT_ATTEMPT_MS 2000

static const struct target_kind_ops *runner_kind(const struct target *t)
{
	return t->kind == TARGET_KERNEL ? &target_kernel_ops : &target_image_ops;
}

/*
 * What can be refused before anything starts.  Sharing / (or a directory
 * holding the rootfs) read-write would make the read-only root writable
 * through the share.
 */
int runner_check(const struct config *config, const struct target *t,
		 const struct runner_options *o, struct error *err)
{
	size_t n = strlen(config->base_dir);
	const struct arch *arch = arch_find(t->arch);

	if (t->kind == TARGET_KERNEL && (!arch || !arch_has_init(arch)))
		return error_usage(err, "target '%s': this vmtest has no guest init for %s: it is built when %s is installed (make build says why it was not)",
				   t->name, t->arch, arch ? arch->cross_package : "a cross compiler");
	/* The agent protocol is JSON: text must be UTF-8 (docs/qga.md). */
	if (t->command && !json_io_utf8_valid(t->command))
		return error_usage(err, "target '%s': the command is not valid UTF-8, which the guest agent cannot carry",
				   t->name);
	if (strcmp(config->base_dir, "/") == 0 ||
	    (t->rootfs && strncmp(t->rootfs, config->base_dir, n) == 0 &&
	     (t->rootfs[n] == '/' || t->rootfs[n] == '\0')))
		return error_usage(err,
				   "%s cannot be shared read-write at %s: it holds the root filesystem %s; run vmtest from a project directory",
				   config->base_dir, GUEST_SHARED_PATH, t->rootfs ? t->rootfs : "/");
	for (size_t i = 0; i < o->n_forwards; i++)
		for (size_t j = 0; j < t->vm.n_forwards; j++)
			if (vm_forward_clash(&o->forwards[i], &t->vm.forwards[j]))
				return error_usage(err, "target '%s': --forward and vm.forward both "
						   "forward host port %u", t->name,
						   o->forwards[i].host_port);
	return 0;
}

/* --- the run's files --------------------------------------------------------- */

char *target_run_path(const struct target_run *run, const char *name)
{
	char *path;

	return asprintf(&path, "%s/%s", run->run_dir, name) < 0 ? NULL : path;
}

/* A run directory never goes where the guest may write (a one-liner run from /tmp). */
static bool runner_shared_place(const char *base, void *data)
{
	const struct target_run *run = data;

	return config_in_writable_share(run->config, run->target, base);
}

/* --- QEMU ---------------------------------------------------------------------- */

/*
 * The guest's NIC and forwards: --network over vm.network; a forward
 * implies the network, and --network none takes the NIC and the target's
 * forwards away.
 */
static int runner_network(struct target_run *run, struct error *err)
{
	const struct target *t = run->target;
	const struct runner_options *o = run->options;
	size_t n = 0;

	if (o->network >= 0)
		run->network = o->network == VM_NETWORK_USER;
	else
		run->network = t->vm.network == VM_NETWORK_USER || o->n_forwards;
	if (!run->network)
		return 0;
	run->forwards = calloc(t->vm.n_forwards + o->n_forwards + 1, sizeof(*run->forwards));
	if (!run->forwards)
		return error_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < t->vm.n_forwards; i++)
		run->forwards[n++] = t->vm.forwards[i];
	for (size_t i = 0; i < o->n_forwards; i++)
		run->forwards[n++] = o->forwards[i];
	run->n_forwards = n;
	return 0;
}

/* An unlinked file in the run's private directory, for a dump. */
static int runner_dump_file(struct target_run *run, int *ret_fd, struct error *err)
{
	int fd = host_unlinked_file(run->run_dir);

	if (fd < 0)
		return error_set_errno(err, -fd, "a file for the guest's dump in %s", run->run_dir);
	*ret_fd = fd;
	return 0;
}

/* DUMP_COMPLETED's "error", when QEMU reports one. */
static void runner_dump_event(enum qmp_event event, const char *name,
			      const struct json_value *data, void *userdata)
{
	char *failure = userdata;
	const char *msg = data ? json_io_get_string(data, "error") : NULL;

	(void)name;
	if (event == QMP_EVENT_DUMP_COMPLETED && msg)
		snprintf(failure, RUNNER_DUMP_FAILURE_LEN, "%s", msg);
}

/* Only signalled here, on any thread: the runner's thread reaps QEMU. */
static void runner_kill_qemu(struct target_run *run)
{
	if (run->qemu.pidfd >= 0)
		syscall(SYS_pidfd_send_signal, run->qemu.pidfd, SIGKILL, NULL, 0);
}

/*
 * The guest's memory, kdump-compressed with its VMCOREINFO, through the
 * second monitor into a file of vmtest's (getfd): detached, so that QEMU's
 * main loop serves the console and the first monitor while it writes, and
 * then made the plain file crash and drgn open (vm/vmcore.h).  QEMU is
 * asked to quit after, which ends the run as a panic always did.
 */
static int runner_dump_now(struct target_run *run, struct error *err)
{
	_cleanup_free_ char *path = target_run_path(run, QEMU_SOCKET_QMP_DUMP);
	_cleanup_json_ struct json_value *args = json_io_new_object();
	int64_t deadline = clock_deadline(RUNNER_DUMP_TIMEOUT_MS);
	char failure[RUNNER_DUMP_FAILURE_LEN] = "";
	_cleanup_qmp_ struct qmp *qmp = NULL;
	int plain = -1, r = path && args ? 0 : error_set(err, ENOMEM, "out of memory");

	if (r >= 0)
		r = qmp_connect(path, deadline, &qmp, err);
	if (r >= 0) {
		qmp_on_event(qmp, runner_dump_event, failure);
		r = qmp_getfd(qmp, "vmcore", run->dump_fd, deadline, err);
	}
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
	/* QEMU goes, dump or not: a guest held at its panic would hang the run. */
	if (!qmp || qmp_quit(qmp, clock_deadline(5000), &(struct error){ 0 }) < 0)
		runner_kill_qemu(run);
	if (r >= 0)
		r = runner_dump_file(run, &plain, err);
	if (r >= 0)
		r = vmcore_finish(run->dump_fd, plain, run->kernel_version, err);
	if (r < 0) {
		if (plain >= 0)
			close(plain);
		return r;
	}
	close(run->dump_fd);
	run->dump_fd = plain;
	return r;
}

/*
 * Dump once a run, why being "panicked" or "timed-out"; said in
 * dump_note.  The lock holds off the end of the VM (runner_end_vm) while
 * the dump runs, and after that end nothing dumps.  A dump that failed
 * leaves no file: half a dump, or the flattened stream, would only
 * mislead.  A guest that panics again (a cold boot after a restore whose
 * guest panicked) is not dumped, but its QEMU goes all the same.
 */
static void runner_dump(struct target_run *run, const char *why)
{
	int64_t start = clock_now_ms();
	struct error err = { 0 };
	struct stat st;

	pthread_mutex_lock(&run->dump_lock);
	if (run->dump_closed) {
		/* The VM ends anyway. */
	} else if (run->dump_fd < 0 || run->dumped) {
		if (strcmp(why, "panicked") == 0)
			runner_kill_qemu(run);
	} else {
		int r;

		run->dumped = true;
		r = runner_dump_now(run, &err);
		if (r < 0) {
			close(run->dump_fd);
			run->dump_fd = -1;
		}
		if (r >= 0 && fstat(run->dump_fd, &st) == 0)
			snprintf(run->dump_note, sizeof(run->dump_note),
				 "dumped the %s guest's memory (%.1f MB, kdump-compressed) in %.1f s%s",
				 why, (double)st.st_size / (1 << 20),
				 (double)(clock_now_ms() - start) / 1000,
				 r == 1 ? ", without VMCOREINFO: the guest kernel has no "
					  "qemu_fw_cfg driver (CONFIG_FW_CFG_SYSFS)" : "");
		else
			snprintf(run->dump_note, sizeof(run->dump_note),
				 "could not dump the %s guest's memory: %s", why, err.msg);
	}
	pthread_mutex_unlock(&run->dump_lock);
}

/* The console's thread calls this once the panic has been printed whole. */
static void runner_dump_at_panic(void *data)
{
	runner_dump(data, "panicked");
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
	if (!symbols && run->target->kind == TARGET_KERNEL)
		record_log(run->record, 0, "no symbols for this kernel: a vmlinux beside it, or "
			   "Debian's /usr/lib/debug/boot/vmlinux-RELEASE (linux-image-RELEASE-dbg), "
			   "would give them");
}

/*
 * A forwarded host port that is taken would make QEMU exit ("Could not set
 * up host forwarding rule"): said first, naming the port, and nothing is
 * started.  As QEMU binds (SO_REUSEADDR), so a port in TIME_WAIT passes.
 */
static int runner_check_ports(struct target_run *run, struct error *err)
{
	struct vm_forward gdb = { .host_addr = "127.0.0.1", .host_port = run->gdb_port };

	for (size_t i = 0; i < run->n_forwards + (run->gdb_port ? 1 : 0); i++) {
		const struct vm_forward *f = i < run->n_forwards ? &run->forwards[i] : &gdb;
		struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons(f->host_port) };
		int fd = socket(AF_INET, (f->udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
		int one = 1, r = 0;

		inet_pton(AF_INET, f->host_addr, &addr.sin_addr);
		if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
		    bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
			r = -errno;
		if (fd >= 0)
			close(fd);
		if (r < 0 && f == &gdb)
			return error_set(err, -r, "cannot start the gdb stub on 127.0.0.1:%u: %s",
					 run->gdb_port, strerror(-r));
		if (r < 0)
			return error_set(err, -r, "cannot forward %s port %u of %s to the guest's port "
					 "%u: %s%s", f->udp ? "UDP" : "TCP", f->host_port, f->host_addr,
					 f->guest_port, strerror(-r),
					 r == -EADDRINUSE ? " (another program listens there)" : "");
	}
	return 0;
}

/*
 * What a QEMU that refuses us lacks, when its message says: some builds
 * leave out 9p (RHEL's qemu-kvm: "'virtio-9p-pci' is not a valid device
 * model name"; --disable-virtfs: "fsdev support is disabled").
 */
static const char *runner_qemu_hint(const char *log)
{
	if (log && (strstr(log, "virtio-9p") || strstr(log, "fsdev")) &&
	    (strstr(log, "not a valid device model") || strstr(log, "disabled") ||
	     strstr(log, "no option group")))
		return "\nvmtest: this QEMU has no 9p (VirtFS) support, which kernel targets need to "
		       "reach the host's files: use a QEMU built with it (Debian's qemu-system-* "
		       "packages are), or an image target";
	return "";
}

/*
 * After a step failed with r: whether QEMU is the cause (it exited, or the
 * guest panicked).  Its sockets close a moment before it can be reaped, so
 * a broken connection waits a little for it.
 */
bool target_run_qemu_failed(struct target_run *run, int r)
{
	if (r == -EPIPE || r == -ECONNRESET)
		qemu_process_wait(&run->qemu, 2000);
	return qemu_process_exited(&run->qemu) || (run->console && console_panicked(run->console));
}

/* How QEMU ended, in its own words when it left any. */
static int runner_qemu_ended(const struct target_run *run, const char *log, struct error *err)
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
			 log && *log ? ": " : "", log ? log : "", runner_qemu_hint(log));
}

int target_run_fail_qemu(struct target_run *run, struct error *err)
{
	_cleanup_free_ char *log = qemu_process_log_tail(&run->qemu, 2000);
	_cleanup_free_ char *panic = run->console ? console_panic_text(run->console, 4000) : NULL;
	_cleanup_free_ char *init = run->console ? console_lines_with(run->console, "vmtest-init: ")
						 : NULL;

	if (panic) {
		/* The console, shown with the error, has the rest. */
		char *line = strstr(panic, "Kernel panic");

		line[strcspn(line, "\r\n")] = '\0';
		return error_set(err, EIO, "the guest kernel panicked: %s", line);
	}
	qemu_process_wait(&run->qemu, 2000);
	if (!qemu_process_exited(&run->qemu))
		return error_set(err, EIO, "QEMU stopped answering, but did not exit");
	if (init)
		return error_set(err, EIO, "the guest could not start: %s%s", init,
				 run->boot_note ? run->boot_note : "");
	return runner_qemu_ended(run, log, err);
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
		qmp_quit(run->qmp, clock_deadline(1000), &ignored);
	qemu_process_stop(&run->qemu);
}

/* --- preparing ----------------------------------------------------------------- */

/*
 * The accelerator: the run's, but another architecture is always
 * emulated, and asking for KVM for one is a mistake of this target's.
 */
static int runner_accel(struct target_run *run, struct error *err)
{
	const struct target *t = run->target;
	const char *asked = run->options->accel_asked;

	run->accel = run->options->accel;
	if (strcmp(t->arch, arch_host()) == 0)
		return 0;
	if (asked && strcmp(asked, "kvm") == 0)
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

	plan.dump = run->dump_fd >= 0;
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

/*
 * Whether extra_args touch what a warm start sets itself: the machine and
 * its memory (a second -m or -machine would not match the memory backend),
 * or a snapshot of QEMU's own.
 */
static bool runner_extra_args_own_memory(const struct target *t)
{
	static const char *const options[] = { "-m", "-M", "-machine", "-mem-path", "-mem-prealloc",
					       "-numa", "-incoming", "-loadvm" };

	for (size_t i = 0; i < t->vm.n_extra_args; i++) {
		const char *a = t->vm.extra_args[i];

		if (strstr(a, "memory-backend"))
			return true;
		for (size_t j = 0; j < ARRAY_SIZE(options); j++)
			if (strcmp(a, options[j]) == 0 ||
			    (strncmp(a, options[j], strlen(options[j])) == 0 &&
			     a[strlen(options[j])] == '='))
				return true;
	}
	return false;
}

/* Why this run boots cold whatever the cache holds; NULL: it need not. */
static const char *runner_warm_off(const struct target_run *run,
				   const struct target_kind_ops *kind)
{
	if (run->options->no_snapshot)
		return "--no-snapshot";
	if (run->target->vm.no_snapshot)
		return "vm.snapshot = false";
	if (runner_extra_args_own_memory(run->target))
		return "vm.extra_args set the machine, its memory or a snapshot of QEMU's own";
	if (!cache_trust_available())
		return "the kernel keyring is out of reach, so vmtest could not vouch for a snapshot";
	if (run->gdb_port)
		return "--gdb: the debugger follows the boot from its first instruction";
	return kind->warm_off ? kind->warm_off(run) : NULL;
}

/*
 * The snapshot key of this target's guest: its QEMU command line without
 * the run's own paths, and the files it boots.
 */
static int runner_warm_key(struct target_run *run, const struct target_kind_ops *kind,
			   uint64_t *ret_key, struct error *err)
{
	struct qemu_plan plan = {
		.run_dir = "@run",
		.shared_dir = run->config->base_dir ? "@shared" : NULL,
		.accel = run->accel,
		.ram_path = "@ram",
		.for_key = true,
		.dump = run->dump_fd >= 0,
		/* Forwards too: QEMU sets them up from its command line. */
		.network = run->network,
		.forwards = run->forwards,
		.n_forwards = run->n_forwards,
	};
	struct strv argv = { 0 };
	size_t n = 0;
	int r;

	kind->plan(run, &plan);
	r = qemu_argv_build(run->target, &plan, &argv, err);
	if (r < 0)
		return r;
	/* The files booted, as they are now: a name need not change with its
	 * contents.  For an image, its UEFI variables are the template's. */
	const char *booted[] = { run->target->kernel, plan.boot_kernel, plan.initrd,
				 run->target->image,  plan.firmware_code, plan.firmware_vars,
				 plan.firmware_bios };
	const char *files[ARRAY_SIZE(booted) + 1] = { 0 };

	for (size_t i = 0; i < ARRAY_SIZE(booted); i++)
		if (booted[i])
			files[n++] = booted[i];
	*ret_key = snapshot_key(argv.items, files, run->accel == QEMU_ACCEL_KVM);
	strv_clear(&argv);
	return 0;
}

static int runner_warm_choose(struct target_run *run, const struct target_kind_ops *kind,
			      struct error *err)
{
	struct snapshot_files files = { 0 };
	const char *off;
	uint64_t key = 0;
	int r;

	if (!kind->warm_start)
		return 0;
	off = runner_warm_off(run, kind);
	if (off)
		return warm_start_choose(run, 0, NULL, off, err);
	r = runner_warm_key(run, kind, &key, err);
	if (kind->warm_files)
		kind->warm_files(run, &files);
	if (r >= 0)
		r = warm_start_choose(run, key, &files, "the snapshot key could not be computed", err);
	return r;
}

/* Make the run directory, prepare what boots, and QEMU's command line. */
static int runner_prepare(struct target_run *run, const struct target_kind_ops *kind, bool dry,
			  struct error *err)
{
	int r = runner_network(run, err);

	run->gdb_port = run->options->gdb_port ? run->options->gdb_port : run->target->vm.gdb_port;
	/* Nor may the set-up's requests time out while gdb holds the guest. */
	if (run->gdb_port)
		run->setup_ms = -1;
	if (r >= 0 && !dry)
		r = runner_check_ports(run, err);
	if (r >= 0 && !dry)
		r = run_dir_make(runner_shared_place, run, &run->run_dir, err);
	if (r >= 0 && !dry && run->options->dump && run->target->kind == TARGET_KERNEL) {
		/* QEMU's vmcoreinfo device needs fw_cfg (s390x has none), and
		 * only x86_64's dumps are tried (docs/vmcore.md). */
		if (strcmp(run->target->arch, "x86_64") == 0)
			r = runner_dump_file(run, &run->dump_fd, err);
		else
			record_log(run->record, 1, "no vmcore for a %s guest: vmtest dumps x86_64 "
				   "kernels only", run->target->arch);
	}
	if (r >= 0)
		r = kind->prepare(run, err);
	if (r >= 0)
		r = runner_accel(run, err);
	if (r >= 0 && !dry && run->gdb_port)
		runner_say_gdb(run, kind);
	if (r >= 0 && !dry)
		r = runner_warm_choose(run, kind, err);
	if (r >= 0)
		r = runner_build_argv(run, kind, err);
	return r;
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
	if (r >= 0 && run->dump_fd >= 0)
		console_on_panic(run->console, runner_dump_at_panic, run);
	/* A new VM (after a restore that failed, say) may be dumped again. */
	pthread_mutex_lock(&run->dump_lock);
	run->dump_closed = false;
	pthread_mutex_unlock(&run->dump_lock);
	if (r < 0)
		return r;
	record_log(run->record, 1, "%s", run->record->qemu_line);
	r = qemu_process_start(run->argv.items, warm_start_fds(run), qemu_log, &run->qemu, err);
	if (r < 0)
		return r;
	/* A request between fork and here is seen when the pid is tracked. */
	interrupt_track_qemu(&run->qemu_slot, run->qemu.pid);
	return 0;
}

/* Connect to QEMU's sockets; QEMU creates them as it starts. */
static int runner_connect(struct target_run *run, const struct target_kind_ops *kind,
			  struct error *err)
{
	int64_t deadline = clock_deadline(RUNNER_CONNECT_TIMEOUT_MS);
	_cleanup_free_ char *qmp = target_run_path(run, QEMU_SOCKET_QMP);
	_cleanup_free_ char *agent = target_run_path(run, QEMU_SOCKET_AGENT);
	_cleanup_free_ char *output = target_run_path(run, QEMU_SOCKET_OUTPUT);
	int r;

	if (!qmp || !agent || !output)
		return error_set(err, ENOMEM, "out of memory");
	r = qmp_connect(qmp, deadline, &run->qmp, err);
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
		qemu_process_wait(&run->qemu, 2000);
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
		if (r >= 0 || qemu_process_exited(&run->qemu) || console_panicked(run->console) ||
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
			qemu_process_wait(&run->qemu, 2000);
		else
			record_log(run->record, 1, "guest agent answered after %.2f s",
				   (double)(clock_now_ms() - start) / 1000);
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

	/* A dump being written finishes first; none starts after. */
	pthread_mutex_lock(&run->dump_lock);
	run->dump_closed = true;
	pthread_mutex_unlock(&run->dump_lock);
	interrupt_track_qemu(&run->qemu_slot, 0);
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
	static const char *const sockets[] = { QEMU_SOCKET_QMP, QEMU_SOCKET_AGENT,
					       QEMU_SOCKET_OUTPUT, QEMU_SOCKET_CONSOLE,
					       QEMU_SOCKET_ERROR };

	runner_end_vm(run);
	memset(run->agent_trouble, 0, sizeof(run->agent_trouble));
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
			     : run->accel == QEMU_ACCEL_KVM ? 60 : 180;
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

/* A dump that was written goes to the record, for the report; said either way. */
static void runner_keep_dump(struct target_run *run)
{
	struct stat st;

	if (run->dump_note[0])
		record_log(run->record, 0, "%s", run->dump_note);
	run->dump_note[0] = '\0';
	if (run->dump_fd < 0)
		return;
	if (fstat(run->dump_fd, &st) == 0 && st.st_size > 0 && run->record->vmcore_fd < 0) {
		run->record->vmcore_fd = run->dump_fd;
		lseek(run->dump_fd, 0, SEEK_SET);
	} else {
		close(run->dump_fd);
	}
	run->dump_fd = -1;
}

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
	kind->clear(run);
	run_dir_remove(run->run_dir);
	free(run->run_dir);
	run->run_dir = NULL;
	free(run->boot_note);
	run->boot_note = NULL;
	free(run->forwards);
	run->forwards = NULL;
	runner_keep_dump(run);
	strv_clear(&run->argv);
}

/*
 * What the guest kernel's warnings add to a reason: "" when none fail the
 * target, else "; the kernel warned: TITLE (and N more)".
 */
static void runner_warned(const struct record *record, char *buf, size_t len)
{
	size_t n = record->n_kernel_warnings;

	buf[0] = '\0';
	if (!record->kernel_warnings_fail || !n)
		return;
	snprintf(buf, len, "; the kernel warned: %s", record->kernel_warning_titles[0]);
	if (n > 1)
		snprintf(buf + strlen(buf), len - strlen(buf), " (and %zu more)", n - 1);
}

/* How the command ended, as vmtest reports it. */
static void runner_verdict(struct record *record, const struct qga_exec_status *st)
{
	char warned[1024];

	runner_warned(record, warned, sizeof(warned));
	if (st->signal)
		record_end(record, RECORD_FAILED, 128 + st->signal, "Command killed by signal %d%s",
			   st->signal, warned);
	else if (st->exitcode != 0)
		record_end(record, RECORD_FAILED, st->exitcode,
			   "Command failed with exit code: %d%s", st->exitcode, warned);
	else if (warned[0])
		/* The command passed: the kernel's warning is the failure. */
		record_end(record, RECORD_FAILED, RUNNER_EXIT_KERNEL_WARNING, "Kernel warning: %s",
			   warned + strlen("; the kernel warned: "));
	else
		record_end(record, RECORD_PASSED, 0, NULL);
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
	if (r >= 0) {
		record_stage(run->record, RECORD_STAGE_COMMAND);
		r = kind->exec(run, st, err);
	}
	/* --dump: a guest that hung is worth a look too. */
	if (r < 0 && run->timed_out && run->options->dump_on_timeout && !interrupt_requested())
		runner_dump(run, "timed-out");
	if (r >= 0) {
		/* From here QEMU is stopped on purpose: no signal needs to kill it. */
		interrupt_track_qemu(&run->qemu_slot, 0);
		kind->shutdown(run);
	}
	return r;
}

int runner_run(const struct config *config, const struct target *t,
	       const struct runner_options *o, struct record *record)
{
	const struct target_kind_ops *kind = runner_kind(t);
	struct target_run run = {
		.config = config, .target = t, .options = o, .record = record,
		.qemu = { .pidfd = -1 }, .qemu_slot = -1, .output_fd = -1, .dump_fd = -1,
		.dump_lock = PTHREAD_MUTEX_INITIALIZER,
		.setup_ms = o->boot_timeout_s ? o->boot_timeout_s * 1000LL : RUNNER_SETUP_TIMEOUT_MS,
		.timeout_s = o->timeout_s ? o->timeout_s : t->timeout_s,
	};
	struct qga_exec_status st = { 0 };
	struct error err = { 0 };
	char warned[1024];
	int r;

	r = runner_prepare(&run, kind, false, &err);
	if (r >= 0)
		r = runner_live(&run, kind, &st, &err);
	/* Stopped by an interrupt, not failed: nothing to report.  A command
	 * that had ended keeps its verdict, whatever came after. */
	if (r < 0 && interrupt_requested()) {
		runner_clear(&run, kind);
		return -EINTR;
	}
	runner_clear(&run, kind);
	runner_warned(record, warned, sizeof(warned));
	if (r < 0 && run.timed_out)
		/* The target failed, the run did not. */
		record_end(record, RECORD_TIMED_OUT, RUNNER_EXIT_TIMEOUT, "Timed out after %u s%s",
			   run.timed_out, warned);
	else if (r < 0)
		record_end(record, RECORD_ERROR, err.status ? (int)err.status : EXIT_STATUS_UNAVAILABLE,
			   "vmtest: %s%s", err.msg, warned);
	else
		runner_verdict(record, &st);
	qga_exec_status_clear(&st);
	return 0;
}

int runner_plan(const struct config *config, const struct target *t,
		const struct runner_options *o, struct record *record, char **ret_line,
		struct error *err)
{
	const struct target_kind_ops *kind = runner_kind(t);
	struct target_run run = {
		.config = config, .target = t, .options = o, .record = record,
		.qemu = { .pidfd = -1 }, .qemu_slot = -1, .output_fd = -1, .dump_fd = -1,
		.dump_lock = PTHREAD_MUTEX_INITIALIZER,
	};
	int r = runner_prepare(&run, kind, true, err);

	if (r >= 0) {
		*ret_line = record->qemu_line ? strdup(record->qemu_line) : NULL;
		r = *ret_line ? 0 : error_set(err, ENOMEM, "out of memory");
	}
	runner_clear(&run, kind);
	return r;
}
