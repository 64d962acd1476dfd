// SPDX-License-Identifier: MIT
#include "targets/runner.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "guest_proto.h"
#include "base/clock.h"
#include "base/shell_quote.h"
#include "base/terminal.h"
#include "base/unix_socket.h"
#include "boot/accel.h"
#include "boot/arch.h"
#include "boot/cache.h"
#include "boot/disk_image.h"
#include "boot/firmware.h"
#include "boot/initramfs.h"
#include "boot/kernel_image.h"
#include "boot/modules.h"
#include "boot/qemu_argv.h"
#include "targets/image_guest.h"
#include "vm/console.h"
#include "vm/interrupt.h"
#include "vm/json_io.h"
#include "vm/output.h"
#include "vm/qemu_process.h"
#include "vm/qga.h"
#include "vm/qmp.h"

#define RUNNER_CONNECT_TIMEOUT_MS 10000
#define RUNNER_SETUP_TIMEOUT_MS 60000
#define RUNNER_SHUTDOWN_TIMEOUT_MS 5000
/*
 * A distribution's shutdown under TCG can take this long.  ACPI power-down
 * is the rare fallback (an agent without guest-shutdown): a guest that
 * honours it starts at once, one that ignores it should not stall the run.
 */
#define RUNNER_IMAGE_POWEROFF_TIMEOUT_MS 30000
#define RUNNER_IMAGE_ACPI_TIMEOUT_MS 10000

extern char **environ;

/* Everything one run owns, released by runner_state_clear in any case. */
struct runner_state {
	char *run_dir;
	char *boot_kernel;	/* the bzImage, or the PVH ELF from the cache */
	bool kernel_cached;	/* boot_kernel is a file of the cache */
	char *initrd;
	struct console *console;
	struct qemu_process qemu;
	struct qmp *qmp;
	struct qga *qga;
	int output_fd;
	int error_fd;		/* image targets: their stderr port */
	enum qemu_accel accel;
	struct strv argv;
	char *modules_note;	/* why no modules were loaded, for errors */
	/* Image targets */
	enum disk_format disk_format;
	struct firmware firmware;	/* UEFI; all NULL for BIOS */
	char *firmware_vars;		/* this run's copy of the VARS template */
	interrupt_slot qemu_slot;	/* in interrupt's table of QEMUs; -1: none */
	/* For each agent request of the set-up (mounts, starting the command):
	 * --boot-timeout when given, as a VM is not ready until it is set up. */
	int64_t setup_ms;
	/* What went wrong with the agent while booting, other than silence. */
	char agent_trouble[sizeof(((struct error *)0)->msg)];
};

int runner_interrupted(void)
{
	return interrupt_requested();
}

/* vmtest's own lines go through the view: above its live block, and to --log. */
#define runner_log(o, level, ...) view_log((o)->view, (o)->target, (level), __VA_ARGS__)

/* --- preparing ----------------------------------------------------------- */

/*
 * Where the private directories may go, in order: short (socket paths are
 * limited to 107 bytes, and need "/vmtest-PID-XXXXXX/console.sock"), and
 * writable.  NULL past the last.
 */
static const char *runner_run_base(size_t i)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	const char *bases[] = { xdg && *xdg ? xdg : NULL, "/tmp", "/var/tmp", "/dev/shm" };

	for (size_t k = 0; k < ARRAY_SIZE(bases); k++) {
		if (!bases[k] || strlen(bases[k]) > 72 || access(bases[k], W_OK) < 0)
			continue;
		if (i-- == 0)
			return bases[k];
	}
	return NULL;
}

/*
 * The private directory, named with our pid so that a later run can tell
 * when its owner died without cleaning up (SIGKILL).  It holds QEMU's
 * sockets and log: never in a directory the guest may write (a one-liner
 * run from /tmp shares /tmp), unless every place is such.
 */
static int runner_make_run_dir(const struct config *config, const struct target *t,
			       struct runner_state *s, struct error *err)
{
	const char *base = runner_run_base(0);
	char *dir;

	for (size_t i = 0; runner_run_base(i); i++)
		if (!config_in_writable_share(config, t, runner_run_base(i))) {
			base = runner_run_base(i);
			break;
		}
	if (!base)
		return error_set(err, EACCES, "no place for vmtest's private directory: neither "
				 "XDG_RUNTIME_DIR, /tmp, /var/tmp nor /dev/shm can be written");
	if (asprintf(&dir, "%s/vmtest-%d-XXXXXX", base, (int)getpid()) < 0)
		return error_set(err, ENOMEM, "out of memory");
	if (!mkdtemp(dir)) {
		int e = errno;

		free(dir);
		return error_set_errno(err, e, "create a private directory in %s", base);
	}
	s->run_dir = dir;
	return 0;
}

/* A run directory's files (sockets, logs, firmware variables; never a
 * subdirectory), then the directory. */
static void runner_remove_dir_at(int parent, const char *name)
{
	int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			unlinkat(dirfd(d), de->d_name, 0);
	closedir(d);
	unlinkat(parent, name, AT_REMOVEDIR);
}

static void runner_sweep_base(const char *base)
{
	DIR *d = opendir(base);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		struct stat st;
		char *end;
		long pid;

		if (strncmp(de->d_name, "vmtest-", 7) != 0)
			continue;
		pid = strtol(de->d_name + 7, &end, 10);
		if (end == de->d_name + 7 || *end != '-' || pid <= 0 || pid == getpid())
			continue;
		/* Ours, and its vmtest is gone. */
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISDIR(st.st_mode) || st.st_uid != geteuid())
			continue;
		if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		runner_remove_dir_at(dirfd(d), de->d_name);
	}
	closedir(d);
}

void runner_remove_stale_run_dirs(void)
{
	for (size_t i = 0; runner_run_base(i); i++)
		runner_sweep_base(runner_run_base(i));
}

static void runner_remove_run_dir(struct runner_state *s)
{
	if (!s->run_dir)
		return;
	runner_remove_dir_at(AT_FDCWD, s->run_dir);
	free(s->run_dir);
	s->run_dir = NULL;
}

/*
 * An Image whose banner is not readable (compressed) names no release:
 * the rootfs's modules directory does, when it has exactly one.
 */
static char *runner_release_from_modules(const char *rootfs)
{
	_cleanup_free_ char *dir = NULL;
	char *found = NULL;
	struct dirent *d;
	DIR *dp;

	if (asprintf(&dir, "%s/lib/modules", strcmp(rootfs, "/") == 0 ? "" : rootfs) < 0)
		return NULL;
	dp = opendir(dir);
	if (!dp)
		return NULL;
	while ((d = readdir(dp))) {
		if (d->d_name[0] == '.')
			continue;
		if (found) {
			free(found);
			found = NULL;
			break;
		}
		found = strdup(d->d_name);
		if (!found)
			break;
	}
	closedir(dp);
	return found;
}

/*
 * Where the kernel's ELF and the initramfs are kept: the cache, whose files
 * are used only if they are still the ones vmtest wrote (cache.h); where
 * that cannot be known (no kernel keyring), this run's private directory,
 * made anew each run (a dry run, which has none, writes the cache).
 */
static int runner_cache_dir(const struct runner_options *o, const struct runner_state *s,
			    char **ret_dir, struct error *err)
{
	if (cache_trust_available() || !s->run_dir)
		return cache_dir_get(ret_dir, err);
	runner_log(o, 1, "the kernel keyring is out of reach, so vmtest cannot tell its cache "
		   "files from ones a guest wrote: this run makes its own in %s", s->run_dir);
	*ret_dir = strdup(s->run_dir);
	return *ret_dir ? 0 : error_set(err, ENOMEM, "out of memory");
}

/*
 * The kernel to boot and its initramfs.  A bzImage whose payload is a PVH
 * ELF boots as that ELF, decompressed once into the cache: under emulation
 * the kernel's own decompressor is most of the boot time.
 */
static int runner_prepare_boot(const struct target *t, const struct runner_options *o,
			       struct runner_state *s, struct error *err)
{
	const struct arch *arch = arch_find(t->arch);
	_cleanup_free_ char *cache = NULL, *elf = NULL;
	struct kernel_image *image = NULL;
	struct modules_list *modules = NULL;
	int r;

	r = runner_cache_dir(o, s, &cache, err);
	if (r < 0)
		return r;
	r = kernel_image_open(t->kernel, &image, err);
	if (r < 0)
		return r;
	if (!image->release && !(image->release = runner_release_from_modules(t->rootfs))) {
		kernel_image_free(image);
		return error_set(err, EINVAL,
				 "%s: no version banner in the kernel image, and %s/lib/modules does not name one release",
				 t->kernel, strcmp(t->rootfs, "/") == 0 ? "" : t->rootfs);
	}
	runner_log(o, 1, "kernel %s: release %s", t->kernel, image->release);
	r = modules_load(t->rootfs, image->release, arch->modules, arch->n_modules, &modules, err);
	if (r == MODULES_NO_DIR) {
		runner_log(o, 1, "no %s/lib/modules/%s: relying on built-in drivers",
			   strcmp(t->rootfs, "/") == 0 ? "" : t->rootfs,
			   image->release);
		if (asprintf(&s->modules_note, " (no modules were loaded: %s/lib/modules/%s does not exist)",
			     strcmp(t->rootfs, "/") == 0 ? "" : t->rootfs, image->release) < 0)
			s->modules_note = NULL;
	}
	if (r >= 0 && image->kind == KERNEL_IMAGE_BZIMAGE) {
		struct error pvh_err = { 0 };

		/* Not a PVH payload we can take out: boot the bzImage itself. */
		if (kernel_image_pvh_elf(t->kernel, cache, &elf, &pvh_err) < 0)
			runner_log(o, 1, "booting the bzImage itself: %s", pvh_err.msg);
	}
	kernel_image_free(image);
	if (r >= 0)
		r = initramfs_get(cache, arch->init_start, (size_t)(arch->init_end - arch->init_start),
				  r == MODULES_NO_DIR ? NULL : modules, &s->initrd, err);
	modules_list_free(modules);
	if (r < 0)
		return r;
	s->kernel_cached = elf && strncmp(elf, cache, strlen(cache)) == 0;
	s->boot_kernel = strdup(elf ? elf : t->kernel);
	if (!s->boot_kernel)
		return error_set(err, ENOMEM, "out of memory");
	runner_log(o, 1, "booting %s with %s", s->boot_kernel, s->initrd);
	return 0;
}

/*
 * What can be refused before anything starts.  Sharing / (or a directory
 * holding the rootfs) read-write would make the read-only root writable
 * through the share.
 */
int runner_check(const struct config *config, const struct target *t, struct error *err)
{
	size_t n = strlen(config->base_dir);

	/* The agent protocol is JSON: text must be UTF-8 (docs/qga.md). */
	const struct arch *arch = arch_find(t->arch);

	if (t->kind == TARGET_KERNEL && (!arch || !arch_has_init(arch)))
		return error_usage(err, "target '%s': this vmtest has no guest init for %s: it is built when %s is installed (make build says why it was not)",
				   t->name, t->arch, arch ? arch->cross_package : "a cross compiler");
	if (t->command && !json_io_utf8_valid(t->command))
		return error_usage(err, "target '%s': the command is not valid UTF-8, which the guest agent cannot carry",
				   t->name);
	if (strcmp(config->base_dir, "/") == 0 ||
	    (t->rootfs && strncmp(t->rootfs, config->base_dir, n) == 0 &&
	     (t->rootfs[n] == '/' || t->rootfs[n] == '\0')))
		return error_usage(err,
				   "%s cannot be shared read-write at %s: it holds the root filesystem %s; run vmtest from a project directory",
				   config->base_dir, GUEST_SHARED_PATH, t->rootfs ? t->rootfs : "/");
	return 0;
}

/* The image's format and, for UEFI, the firmware (vm.bios overrides). */
static int runner_prepare_image(const struct target *t, const struct runner_options *o,
				struct runner_state *s, struct error *err)
{
	int r = disk_image_detect(t->image, &s->disk_format, err);

	if (r < 0)
		return r;
	runner_log(o, 1, "image %s: %s", t->image, disk_format_name(s->disk_format));
	if (!t->uefi)
		return 0;
	if (t->vm.bios) {
		s->firmware.combined = t->vm.bios;
		return 0;
	}
	return firmware_find("", &s->firmware, err);
}

/* UEFI writes its variables: each run gets its own copy of the template. */
static int runner_copy_firmware_vars(struct runner_state *s, struct error *err)
{
	_cleanup_free_ char *copy = NULL;
	_cleanup_fclose_ FILE *in = NULL, *out = NULL;
	char buf[65536];
	size_t n;

	if (!s->firmware.vars)
		return 0;
	if (asprintf(&copy, "%s/vars.fd", s->run_dir) < 0)
		return error_set(err, ENOMEM, "out of memory");
	in = fopen(s->firmware.vars, "re");
	out = fopen(copy, "we");
	if (!in || !out)
		return error_set_errno(err, errno, "copy %s", s->firmware.vars);
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		if (fwrite(buf, 1, n, out) != n)
			return error_set_errno(err, errno, "write %s", copy);
	if (ferror(in) || fflush(out) != 0)
		return error_set_errno(err, errno, "copy %s", s->firmware.vars);
	s->firmware_vars = TAKE_PTR(copy);
	return 0;
}

static int runner_build_argv(const struct config *config, const struct target *t,
			     const struct runner_options *o, struct runner_state *s,
			     struct error *err)
{
	struct qemu_plan plan = {
		.run_dir = s->run_dir,
		.boot_kernel = s->boot_kernel,
		.initrd = s->initrd,
		.shared_dir = config->base_dir,
		.disk_format = disk_format_name(s->disk_format),
		.firmware_code = s->firmware.code,
		.firmware_vars = s->firmware_vars ? s->firmware_vars : s->firmware.vars,
		.firmware_bios = s->firmware.combined,
	};
	const char *why;
	int r;

	static bool told;

	r = accel_choose(o->accel, &s->accel, &why, err);
	if (r < 0)
		return r;
	if (strcmp(t->arch, arch_host()) != 0) {
		/* Another architecture is always emulated. */
		const char *asked = o->accel && *o->accel ? o->accel : getenv("VMTEST_ACCEL");

		if (s->accel == QEMU_ACCEL_KVM && asked && strcmp(asked, "kvm") == 0)
			return error_usage(err, "target '%s': --accel kvm cannot run %s guests on this %s host",
					   t->name, t->arch, arch_host());
		s->accel = QEMU_ACCEL_TCG;
		why = NULL;
	}
	/* Once per run, whichever parallel target gets here first. */
	if (why && !__atomic_exchange_n(&told, true, __ATOMIC_SEQ_CST))
		view_log(o->view, NULL, 0, "using TCG emulation: %s", why);
	plan.accel = s->accel;
	return qemu_argv_build(t, &plan, &s->argv, err);
}

/* --- booting ------------------------------------------------------------- */

static char *runner_path(const struct runner_state *s, const char *name)
{
	char *path;

	return asprintf(&path, "%s/%s", s->run_dir, name) < 0 ? NULL : path;
}

/* QEMU died before the guest could answer: its own words say why. */
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
static bool runner_qemu_failed(struct runner_state *s, int r)
{
	if (r == -EPIPE || r == -ECONNRESET)
		qemu_process_wait(&s->qemu, 2000);
	return qemu_process_exited(&s->qemu) || (s->console && console_panicked(s->console));
}

static int runner_fail_qemu(struct runner_state *s, struct error *err)
{
	_cleanup_free_ char *log = qemu_process_log_tail(&s->qemu, 2000);
	_cleanup_free_ char *panic = s->console ? console_panic_text(s->console, 4000) : NULL;

	_cleanup_free_ char *init = s->console ? console_lines_with(s->console, "vmtest-init: ") : NULL;

	if (panic) {
		/* The console, shown with the error, has the rest. */
		char *line = strstr(panic, "Kernel panic");

		line[strcspn(line, "\r\n")] = '\0';
		return error_set(err, EIO, "the guest kernel panicked: %s", line);
	}
	qemu_process_wait(&s->qemu, 2000);
	if (!qemu_process_exited(&s->qemu))
		return -EIO;
	if (init)
		return error_set(err, EIO, "the guest could not start: %s%s", init,
				 s->modules_note ? s->modules_note : "");
	if (WIFEXITED(s->qemu.wstatus) && WEXITSTATUS(s->qemu.wstatus) == 127)
		return error_set(err, ENOENT, "%s", log && *log ? log : "cannot run QEMU");
	if (WIFSIGNALED(s->qemu.wstatus))
		return error_set(err, EIO, "QEMU was killed by signal %d (SIG%s)%s%s",
				 WTERMSIG(s->qemu.wstatus), sigabbrev_np(WTERMSIG(s->qemu.wstatus)) ?: "?",
				 log && *log ? ": " : "", log ? log : "");
	if (WEXITSTATUS(s->qemu.wstatus) == 0)
		return error_set(err, EIO, "the guest powered off before the command ended");
	return error_set(err, EIO, "QEMU exited (status %d)%s%s%s", WEXITSTATUS(s->qemu.wstatus),
			 log && *log ? ": " : "", log ? log : "", runner_qemu_hint(log));
}

static int runner_start_qemu(const struct runner_options *o, struct runner_state *s,
			     struct error *err)
{
	_cleanup_free_ char *console_sock = runner_path(s, QEMU_SOCKET_CONSOLE);
	_cleanup_free_ char *qemu_log = runner_path(s, "qemu.log");
	_cleanup_free_ char *line = NULL;
	int r;

	if (!console_sock || !qemu_log)
		return error_set(err, ENOMEM, "out of memory");
	/* A request before QEMU exists has nothing to kill: stop here. */
	if (interrupt_requested())
		return error_set(err, EINTR, "interrupted");
	r = console_start(console_sock, view_console_fd(o->target), &s->console, err);
	if (r < 0)
		return r;
	line = shell_quote_argv((int)s->argv.len, s->argv.items);
	runner_log(o, 1, "%s", line ? line : "(out of memory)");
	r = qemu_process_start(s->argv.items, qemu_log, &s->qemu, err);
	if (r < 0)
		return r;
	/* A request between fork and here is seen when the pid is tracked. */
	interrupt_track_qemu(&s->qemu_slot, s->qemu.pid);
	return 0;
}

/* Connect to QEMU's sockets; QEMU creates them as it starts. */
static int runner_connect(struct runner_state *s, bool image, struct error *err)
{
	int64_t deadline = clock_deadline(RUNNER_CONNECT_TIMEOUT_MS);
	_cleanup_free_ char *qmp = runner_path(s, QEMU_SOCKET_QMP);
	_cleanup_free_ char *agent = runner_path(s, QEMU_SOCKET_AGENT);
	_cleanup_free_ char *output = runner_path(s, QEMU_SOCKET_OUTPUT);
	int r;

	if (!qmp || !agent || !output)
		return error_set(err, ENOMEM, "out of memory");
	r = qmp_connect(qmp, deadline, &s->qmp, err);
	if (r >= 0)
		r = qga_connect(agent, deadline, &s->qga, err);
	if (r >= 0) {
		s->output_fd = unix_socket_connect(output, deadline, false, err);
		r = s->output_fd < 0 ? s->output_fd : 0;
	}
	if (r >= 0 && image) {
		_cleanup_free_ char *error = runner_path(s, QEMU_SOCKET_ERROR);

		s->error_fd = error ? unix_socket_connect(error, deadline, false, err)
				    : error_set(err, ENOMEM, "out of memory");
		r = s->error_fd < 0 ? s->error_fd : 0;
	}
	/* QEMU's sockets close a moment before it can be reaped: a QEMU that
	 * died is named as such, not as a closed connection. */
	if (r < 0)
		qemu_process_wait(&s->qemu, 2000);
	if (r < 0 && qemu_process_exited(&s->qemu))
		return runner_fail_qemu(s, err);
	return r;
}

/*
 * Wait for the agent to answer.  An image's qemu-ga ignores what was sent
 * before it started, so each attempt reconnects and syncs afresh, until
 * the deadline or until QEMU is gone.
 */
static int runner_wait_agent(struct runner_state *s, int64_t deadline, struct error *err)
{
	_cleanup_free_ char *agent = runner_path(s, QEMU_SOCKET_AGENT);

	if (!agent)
		return error_set(err, ENOMEM, "out of memory");
	for (int r = 0;;) {
		int64_t attempt = clock_deadline(2000);

		if (attempt > deadline)
			attempt = deadline;
		if (s->qga)
			r = qga_sync_delimited(s->qga, attempt, err);
		if (r < 0 && r != -ETIMEDOUT && r != -EAGAIN && err->msg[0])
			snprintf(s->agent_trouble, sizeof(s->agent_trouble), "%s", err->msg);
		if (r >= 0 || qemu_process_exited(&s->qemu) || console_panicked(s->console) ||
		    interrupt_requested())
			return r;
		if (clock_now_ms() >= deadline)
			return error_set(err, ETIMEDOUT, "the guest agent did not answer");
		/* Each attempt bounded too: QEMU may be gone, its socket with it. */
		s->qga = qga_free(s->qga);
		r = qga_connect(agent, attempt, &s->qga, err);
		if (r >= 0)
			r = -EAGAIN; /* connected: sync on the next round */
	}
}

/*
 * QEMU has read the kernel and the initramfs once it answers on QMP.  Were
 * they still the files vmtest checked?  A guest of another run, sharing
 * the cache, could have swapped one in between; a swap changes what
 * cache_trusted sees, even if swapped back.
 */
static int runner_check_cache_read(const struct runner_state *s, struct error *err)
{
	if (!cache_trust_available())
		return 0;
	if ((s->kernel_cached && !cache_trusted(s->boot_kernel)) || !cache_trusted(s->initrd))
		return error_set(err, ESTALE, "vmtest's cache changed while QEMU was reading it "
				 "(%s, %s): a guest sharing the cache read-write may have written it",
				 s->boot_kernel, s->initrd);
	return 0;
}

static int runner_boot(const struct runner_options *o, struct runner_state *s, bool image,
		       struct error *err)
{
	unsigned timeout_s = o->boot_timeout_s ? o->boot_timeout_s
					       : s->accel == QEMU_ACCEL_KVM ? 60 : 180;
	int64_t start = clock_now_ms();
	int r;

	r = runner_start_qemu(o, s, err);
	if (r >= 0)
		r = runner_connect(s, image, err);
	if (r >= 0 && !image)
		r = runner_check_cache_read(s, err);
	if (r >= 0) {
		r = runner_wait_agent(s, clock_deadline(timeout_s * 1000LL), err);
		if (r == -ETIMEDOUT && !qemu_process_exited(&s->qemu) &&
		    !console_panicked(s->console))
			return error_set(err, ETIMEDOUT, "%s within %u s of booting%s%s%s",
					 s->agent_trouble[0] ? "the guest agent did not answer properly"
							     : "the guest did not answer",
					 timeout_s, s->agent_trouble[0] ? " (last: " : "",
					 s->agent_trouble, s->agent_trouble[0] ? ")" :
					 image ? " (is qemu-ga installed and enabled in the image?)" : "");
		/* The agent's socket closes a moment before QEMU exits. */
		if (r < 0)
			qemu_process_wait(&s->qemu, 2000);
		else
			runner_log(o, 1, "guest agent answered after %.2f s",
				   (double)(clock_now_ms() - start) / 1000);
	}
	if (r < 0 && (qemu_process_exited(&s->qemu) || console_panicked(s->console)))
		return runner_fail_qemu(s, err);
	return r;
}

/* --- setting up and running ---------------------------------------------- */

static int runner_setup_args(const struct config *config, const struct target *t,
			     struct json_value **ret)
{
	_cleanup_json_ struct json_value *args = json_io_new_object();
	struct json_value *mounts = json_io_new_array();
	int r = args && mounts ? 0 : -ENOMEM;

	if (r < 0) {
		json_io_unref(mounts);
		return r;
	}
	for (size_t i = 0; r >= 0 && i < t->vm.n_mounts; i++) {
		struct json_value *m = json_io_new_object();
		char tag[32];

		snprintf(tag, sizeof(tag), GUEST_TAG_MOUNT_PREFIX "%zu", i);
		r = m ? 0 : -ENOMEM;
		if (r >= 0)
			r = json_io_set_string(m, "tag", tag);
		if (r >= 0)
			r = json_io_set_string(m, "path", t->vm.mounts[i].guest_path);
		if (r >= 0)
			r = json_io_set_bool(m, "writable", t->vm.mounts[i].writable);
		if (r >= 0)
			r = json_io_append(mounts, m);
		else
			json_io_unref(m);
	}
	if (r >= 0)
		r = json_io_set(args, "mounts", mounts);
	else
		json_io_unref(mounts);
	if (r >= 0)
		r = json_io_set_int(args, "msize", QEMU_9P_MSIZE);
	if (r >= 0)
		r = json_io_set_bool(args, "shared", true);
	if (r >= 0)
		r = json_io_set_string(args, "shared-host-path", config->base_dir);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(args);
	return 0;
}

static int runner_setup(const struct config *config, const struct target *t,
			struct runner_state *s, struct error *err)
{
	_cleanup_json_ struct json_value *args = NULL;
	int r = runner_setup_args(config, t, &args);

	if (r == -EILSEQ)
		return error_set(err, EILSEQ, "a mount path is not valid UTF-8");
	if (r < 0)
		return error_set(err, ENOMEM, "out of memory");
	r = qga_execute(s->qga, "vmtest-setup", args, clock_deadline(s->setup_ms),
			NULL, err);
	if (r < 0 && runner_qemu_failed(s, r))
		return runner_fail_qemu(s, err);
	return r;
}

/* bash when the rootfs has it, as vmtest does, else sh. */
static const char *runner_shell(const struct target *t)
{
	_cleanup_free_ char *bash = NULL;

	if (asprintf(&bash, "%s/bin/bash", strcmp(t->rootfs, "/") == 0 ? "" : t->rootfs) < 0)
		return "/bin/sh";
	return access(bash, X_OK) == 0 ? "/bin/bash" : "/bin/sh";
}

/*
 * The host's environment for the guest.  JSON carries only UTF-8, so an
 * entry that is not is left out, with a notice naming it, rather than
 * failing the whole run over a stray variable.
 */
static const char **runner_environment(const struct runner_options *o)
{
	size_t n = 0, kept = 0;
	const char **envp;

	while (environ[n])
		n++;
	envp = calloc(n + 1, sizeof(*envp));
	if (!envp)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (json_io_utf8_valid(environ[i])) {
			envp[kept++] = environ[i];
			continue;
		}
		runner_log(o, 0, "not passing %.*s to the guest: its value is not valid UTF-8",
			   (int)strcspn(environ[i], "="), environ[i]);
	}
	return envp;
}

/*
 * The command through the rootfs's shell, or for "-" a login shell; on a
 * guest pty for those and for --tty, with the user's terminal in raw mode
 * when stdin is one, so every key reaches the guest.
 */
static int runner_exec(const struct target *t, const struct runner_options *o,
		       struct runner_state *s, struct qga_exec_status *ret_status,
		       unsigned *ret_timed_out, struct error *err)
{
	_cleanup_free_ char *cwd = getcwd(NULL, 0);
	const char *command_argv[] = { "-c", t->command, NULL };
	const char *login_argv[] = { "-l", NULL };
	bool tty = t->interactive || o->tty;
	struct qga_exec_request req = {
		.path = runner_shell(t),
		.argv = t->interactive ? login_argv : command_argv,
		.capture = QGA_CAPTURE_NONE,
		.vmtest_cwd = cwd,
		.vmtest_stream = true,
		.vmtest_tty = tty,
	};
	unsigned timeout_s = o->timeout_s ? o->timeout_s : t->timeout_s;
	struct output_relay relay = {
		.port_fd = s->output_fd,
		.out_fd = o->out_fd,
		.err_fd = o->err_fd,
		.copy_fd = view_output_fd(o->target),
		.deadline = clock_deadline(timeout_s ? timeout_s * 1000LL : -1),
		.in_fd = -1,
		.winch_fd = -1,
		.tty_fd = STDIN_FILENO,
	};
	_cleanup_free_ const char **envp = runner_environment(o);
	int64_t pid;
	int r;

	if (!envp)
		return error_set(err, ENOMEM, "out of memory");
	req.envp = envp;
	if (cwd && !json_io_utf8_valid(cwd))
		req.vmtest_cwd = NULL; /* the guest starts in / instead */
	if (tty) {
		terminal_size(STDIN_FILENO, &req.vmtest_rows, &req.vmtest_cols);
		if (isatty(STDIN_FILENO)) {
			relay.in_fd = STDIN_FILENO;
			relay.winch_fd = terminal_winch_fd();
		}
	}
	r = qga_exec_start(s->qga, &req, clock_deadline(s->setup_ms), &pid, err);
	if (r >= 0) {
		relay.exec_id = (uint32_t)pid;
		if (relay.in_fd >= 0)
			terminal_raw(STDIN_FILENO);
		r = output_relay(&relay, err);
		terminal_restore();
	}
	if (r == -ETIMEDOUT) {
		*ret_timed_out = timeout_s;
		return r;
	}
	if (r >= 0)
		r = qga_exec_get_status(s->qga, pid, clock_deadline(s->setup_ms),
					ret_status, err);
	if (r >= 0 && !ret_status->exited)
		r = error_set(err, EPROTO, "the guest reported the command as still running");
	if (r < 0 && runner_qemu_failed(s, r))
		return runner_fail_qemu(s, err);
	return r;
}

static int runner_setup_image(const struct target *t, struct runner_state *s, struct error *err)
{
	int64_t deadline = clock_deadline(s->setup_ms);
	int r = image_guest_check_agent(s->qga, deadline, err);

	if (r >= 0)
		r = image_guest_mount(s->qga, t, deadline, err);
	if (r < 0 && runner_qemu_failed(s, r))
		return runner_fail_qemu(s, err);
	return r;
}

static int runner_exec_image(const struct target *t, const struct runner_options *o,
			     struct runner_state *s, struct qga_exec_status *ret_status,
			     unsigned *ret_timed_out, struct error *err)
{
	unsigned timeout_s = o->timeout_s ? o->timeout_s : t->timeout_s;
	const struct image_guest_streams streams = {
		.port_fds = { s->output_fd, s->error_fd },
		.out_fds = { o->out_fd, o->err_fd },
		.copy_fd = view_output_fd(o->target),
	};
	int r = image_guest_run(s->qga, t, &streams,
				clock_deadline(timeout_s ? timeout_s * 1000LL : -1), ret_status, err);

	if (r == -ETIMEDOUT && timeout_s) {
		*ret_timed_out = timeout_s;
		return r;
	}
	if (r < 0 && runner_qemu_failed(s, r))
		return runner_fail_qemu(s, err);
	return r;
}

/* Power off through the agent; QMP quit and then signals if that stalls. */
static void runner_shutdown(struct runner_state *s)
{
	struct error ignored = { 0 };

	interrupt_track_qemu(&s->qemu_slot, 0);
	if (s->qga)
		qga_shutdown(s->qga, "powerdown", clock_deadline(1000), &ignored);
	if (qemu_process_wait(&s->qemu, RUNNER_SHUTDOWN_TIMEOUT_MS))
		return;
	if (s->qmp)
		qmp_quit(s->qmp, clock_deadline(1000), &ignored);
	qemu_process_stop(&s->qemu);
}

/*
 * An image on a throw-away overlay keeps nothing the guest writes, so QEMU
 * simply quits.  A persistent one is shut down properly: sync through the
 * agent, guest-shutdown (which never answers when it works, and fails on
 * images without /sbin/shutdown), then ACPI power-down through QMP, and
 * quit when the guest ignores that too.  Each step is bounded in time.
 */
static void runner_shutdown_image(const struct target *t, const struct runner_options *o,
				  struct runner_state *s)
{
	struct error e = { 0 };

	interrupt_track_qemu(&s->qemu_slot, 0);
	if (t->vm.persist && s->qga) {
		if (image_guest_sync(s->qga, clock_deadline(RUNNER_SHUTDOWN_TIMEOUT_MS), &e) < 0)
			runner_log(o, 1, "sync in the guest: %s", e.msg);
		if (qga_shutdown(s->qga, "powerdown", clock_deadline(RUNNER_SHUTDOWN_TIMEOUT_MS),
				 &e) < 0)
			runner_log(o, 1, "%s", e.msg);
		else if (qemu_process_wait(&s->qemu, RUNNER_IMAGE_POWEROFF_TIMEOUT_MS))
			return;
		runner_log(o, 1, "powering off through ACPI (QMP system_powerdown)");
		if (s->qmp && qmp_execute(s->qmp, "system_powerdown", NULL,
					  clock_deadline(1000), NULL, &e) >= 0 &&
		    qemu_process_wait(&s->qemu, RUNNER_IMAGE_ACPI_TIMEOUT_MS))
			return;
		runner_log(o, 1, "the guest did not power off; stopping QEMU");
	}
	if (s->qmp)
		qmp_quit(s->qmp, clock_deadline(1000), &e);
	qemu_process_stop(&s->qemu);
}

static void runner_state_clear(const struct runner_options *o, struct runner_state *s)
{
	int spool_errno;

	interrupt_track_qemu(&s->qemu_slot, 0);
	qemu_process_clear(&s->qemu);
	/* QEMU is gone: the console has all it will get. */
	spool_errno = s->console ? console_stop(s->console) : 0;
	if (spool_errno) {
		char where[PATH_MAX];

		output_spool_dir(view_console_fd(o->target), where, sizeof(where));
		runner_log(o, 0, "cannot keep the guest console in a spool file in %s: %s; "
			   "what is shown of it is incomplete", where, strerror(spool_errno));
	}
	s->qga = qga_free(s->qga);
	s->qmp = qmp_free(s->qmp);
	if (s->output_fd >= 0)
		close(s->output_fd);
	if (s->error_fd >= 0)
		close(s->error_fd);
	s->console = console_free(s->console);
	runner_remove_run_dir(s);
	free(s->boot_kernel);
	free(s->initrd);
	free(s->modules_note);
	free(s->firmware_vars);
	strv_clear(&s->argv);
}

/* --- the verdict --------------------------------------------------------- */

static void runner_verdict(const struct qga_exec_status *st, struct runner_result *ret)
{
	if (st->signal) {
		ret->outcome = RUNNER_FAILED;
		ret->exit_status = 128 + st->signal;
		snprintf(ret->reason, sizeof(ret->reason), "Command killed by signal %d", st->signal);
	} else if (st->exitcode != 0) {
		ret->outcome = RUNNER_FAILED;
		ret->exit_status = st->exitcode;
		snprintf(ret->reason, sizeof(ret->reason), "Command failed with exit code: %d",
			 st->exitcode);
	} else {
		ret->outcome = RUNNER_PASSED;
		ret->exit_status = 0;
	}
}

int runner_run(const struct config *config, const struct target *t,
	       const struct runner_options *o, struct runner_result *ret, struct error *err)
{
	struct runner_state s = { .output_fd = -1, .error_fd = -1, .qemu = { .pidfd = -1 },
				    .qemu_slot = -1 };
	struct qga_exec_status st = { 0 };
	unsigned timed_out = 0;
	int r;

	s.setup_ms = o->boot_timeout_s ? o->boot_timeout_s * 1000LL : RUNNER_SETUP_TIMEOUT_MS;
	r = runner_check(config, t, err);
	if (r >= 0)
		r = runner_make_run_dir(config, t, &s, err);
	if (r >= 0)
		r = t->kind == TARGET_KERNEL ? runner_prepare_boot(t, o, &s, err)
					     : runner_prepare_image(t, o, &s, err);
	if (r >= 0)
		r = runner_copy_firmware_vars(&s, err);
	if (r >= 0)
		r = runner_build_argv(config, t, o, &s, err);
	if (r >= 0)
		ret->qemu_line = shell_quote_argv((int)s.argv.len, s.argv.items);
	if (r >= 0) {
		view_stage(o->target, VIEW_STAGE_BOOTING);
		r = runner_boot(o, &s, t->kind == TARGET_IMAGE, err);
		if (r >= 0) {
			view_stage(o->target, VIEW_STAGE_SETUP);
			r = t->kind == TARGET_KERNEL ? runner_setup(config, t, &s, err)
						     : runner_setup_image(t, &s, err);
		}
		if (r >= 0) {
			view_stage(o->target, VIEW_STAGE_COMMAND);
			r = t->kind == TARGET_KERNEL ? runner_exec(t, o, &s, &st, &timed_out, err)
						     : runner_exec_image(t, o, &s, &st, &timed_out, err);
		}
		if (r >= 0 && t->kind == TARGET_IMAGE)
			runner_shutdown_image(t, o, &s);
		else if (r >= 0)
			runner_shutdown(&s);
	}
	if (r < 0 && timed_out && !interrupt_requested()) {
		/* The target failed, the run did not: stop just this VM. */
		runner_state_clear(o, &s);
		ret->outcome = RUNNER_FAILED;
		ret->exit_status = RUNNER_EXIT_TIMEOUT;
		snprintf(ret->reason, sizeof(ret->reason), "Timed out after %u s", timed_out);
		return 0;
	}
	if (r < 0 && interrupt_requested())
		error_set(err, EINTR, "interrupted");
	runner_state_clear(o, &s);
	if (r < 0) {
		ret->outcome = RUNNER_ERROR;
		ret->exit_status = err->status ? (int)err->status : 69;
		return r;
	}
	runner_verdict(&st, ret);
	qga_exec_status_clear(&st);
	return 0;
}

int runner_plan(const struct config *config, const struct target *t,
		const struct runner_options *o, char **ret_line, struct error *err)
{
	struct runner_state s = { .output_fd = -1, .error_fd = -1, .qemu = { .pidfd = -1 },
				    .qemu_slot = -1 };
	int r;

	r = runner_check(config, t, err);
	if (r >= 0)
		r = t->kind == TARGET_KERNEL ? runner_prepare_boot(t, o, &s, err)
					     : runner_prepare_image(t, o, &s, err);
	if (r >= 0) {
		s.run_dir = strdup("/tmp/vmtest-XXXXXX");
		if (s.firmware.vars)
			s.firmware_vars = strdup("/tmp/vmtest-XXXXXX/vars.fd");
		r = s.run_dir ? runner_build_argv(config, t, o, &s, err)
			      : error_set(err, ENOMEM, "out of memory");
	}
	if (r >= 0) {
		*ret_line = shell_quote_argv((int)s.argv.len, s.argv.items);
		r = *ret_line ? 0 : error_set(err, ENOMEM, "out of memory");
	}
	free(s.run_dir);
	s.run_dir = NULL;
	runner_state_clear(o, &s);
	return r;
}
