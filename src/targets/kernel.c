// SPDX-License-Identifier: MIT
/*
 * kernel: the kind of target that boots a kernel on a root filesystem of
 * the host's (by default / itself), shared read-only over 9p (or virtiofs,
 * vm.filesystem: vmtest then runs a daemon per export, vm/virtiofsd.h), with
 * vmtest's own guest init as PID 1 (guest/), which answers the agent
 * protocol, mounts the shares and runs the command with its output
 * streamed as records over a virtio-serial port.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base64.h"
#include "cleanup.h"
#include "io.h"
#include "guest_proto.h"
#include "base/clock.h"
#include "base/terminal.h"
#include "base/arch.h"
#include "boot/cache.h"
#include "boot/guest_init.h"
#include "boot/initramfs.h"
#include "boot/kernel_image.h"
#include "boot/modules.h"
#include "targets/dump.h"
#include "targets/kernel_fs.h"
#include "targets/kernel_warnings.h"
#include "targets/target_run.h"
#include "targets/test_results.h"
#include "targets/usr_image.h"
#include "vm/json_io.h"
#include "vm/output.h"

#define KERNEL_SHUTDOWN_TIMEOUT_MS 5000
/* What the guest's RNG is reseeded with: more than the 32 bytes its CRNG needs. */
#define KERNEL_ENTROPY_BYTES 64

extern char **environ;

/*
 * path, a file of the cache, into *st as it is now, if vmtest wrote it
 * (cache_trusted) and it did not change while that was checked.
 */
static bool kernel_pin(const char *path, struct stat *st)
{
	struct stat again;

	return stat(path, st) == 0 && cache_trusted(path) && stat(path, &again) == 0 &&
	       cache_same_file(st, &again);
}

/* What a kernel target boots. */
struct kernel_boot {
	char *boot_kernel;	/* the bzImage, or the PVH ELF from the cache */
	bool kernel_cached;	/* boot_kernel is a file of the cache */
	char *initrd;
	/* The cache's files QEMU is to read, as vmtest checked them
	 * (kernel_pin); kernel_started compares. */
	struct stat boot_kernel_st, initrd_st;
	char *symbols;		/* the kernel's vmlinux with symbols, for gdb; NULL: none found */
	struct kernel_fs fs;	/* 9p or virtiofs, and virtiofs's daemons */
};

static struct kernel_boot *kernel_boot(const struct target_run *run)
{
	return run->kind_data;
}

/* "" for the host's root, else the rootfs: how paths under it are shown. */
static const char *kernel_rootfs_prefix(const struct target *t)
{
	return strcmp(t->rootfs, "/") == 0 ? "" : t->rootfs;
}

/*
 * An Image whose banner is not readable (compressed) names no release:
 * the rootfs's modules directory does, when it has exactly one.
 */
static char *kernel_release_from_modules(const char *rootfs)
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
static int kernel_cache_dir(const struct target_run *run, char **ret_dir, struct error *err)
{
	if (cache_trust_available() || !run->run_dir)
		return cache_dir_get(ret_dir, err);
	record_log(run->record, 1, "the kernel keyring is out of reach, so vmtest cannot tell "
		   "its cache files from ones a guest wrote: this run makes its own in %s",
		   run->run_dir);
	*ret_dir = strdup(run->run_dir);
	return *ret_dir ? 0 : error_set(err, ENOMEM, "out of memory");
}

/* The kernel's release: from its banner, else from the rootfs's modules. */
static int kernel_release(const struct target *t, struct kernel_image *image, struct error *err)
{
	if (image->release || (image->release = kernel_release_from_modules(t->rootfs)))
		return 0;
	return error_set(err, EINVAL,
			 "%s: no version banner in the kernel image, and %s/lib/modules does not name one release",
			 t->kernel, kernel_rootfs_prefix(t));
}

/* The modules the architecture needs, or an empty list when the kernel has none. */
static int kernel_modules(struct target_run *run, const char *release, struct kernel_fs *fs,
			  bool *ret_no_dir, struct modules_list **ret, struct error *err)
{
	size_t usr_image_at = 0;
	const struct target *t = run->target;
	const struct arch *arch = arch_find(t->arch);
	const char *names[16];
	size_t n = 0;
	int r;

	/* virtiofs (FUSE's and its own), virtio-net and fw_cfg (the dump's
	 * VMCOREINFO) only for the runs that use them. */
	for (; n < arch->n_modules && n < ARRAY_SIZE(names) - 6; n++)
		names[n] = arch->modules[n];
	if (fs->virtiofs)
		names[n++] = "?virtiofs";
	if (fs->usr_image) {
		/* libcrc32c, which erofs needs, finds its algorithm only through
		 * the crypto API: a soft dependency, which modules.dep leaves out. */
		names[n++] = "?crc32c_generic";
		usr_image_at = n;
		names[n++] = "?erofs";
		names[n++] = "?virtio_blk";
	}
	if (run->network)
		names[n++] = "?virtio_net";
	if (dump_wanted(&run->dump))
		names[n++] = "?qemu_fw_cfg";
	r = modules_load(t->rootfs, release, names, n, ret, err);

	*ret_no_dir = r == MODULES_NO_DIR;
	if (r == 0 && fs->usr_image && ((*ret)->absent >> usr_image_at) & 3) {
		record_log(run->record, 1, "/usr over %s like the rest of the root: the kernel has "
			   "no %s (CONFIG_EROFS_FS, CONFIG_VIRTIO_BLK) for vmtest's image of it",
			   fs->virtiofs ? "virtiofs" : "9p",
			   ((*ret)->absent >> usr_image_at) & 1 ? "EROFS" : "virtio-blk");
		fs->usr_image = false;
	}
	if (r != MODULES_NO_DIR)
		return r;
	record_log(run->record, 1, "no %s/lib/modules/%s: relying on built-in drivers",
		   kernel_rootfs_prefix(t), release);
	if (asprintf(&run->boot_note, " (no modules were loaded: %s/lib/modules/%s does not exist)",
		     kernel_rootfs_prefix(t), release) < 0)
		run->boot_note = NULL;
	*ret = modules_list_free(*ret);
	return 0;
}

/*
 * A kernel without modules: whether its image names the EROFS filesystem
 * and the virtio-blk driver, as a built-in one does (the names of a
 * file_system_type and a driver are strings in it).  A compressed bzImage
 * shows nothing: it then gets no image, and /usr stays 9p's.
 */
static bool kernel_builds_in_erofs(const char *path)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	void *map;
	bool found;

	if (fd < 0 || fstat(fd, &st) < 0 || st.st_size <= 0)
		return false;
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED)
		return false;
	found = memmem(map, (size_t)st.st_size, "\0erofs\0", 7) &&
		memmem(map, (size_t)st.st_size, "\0virtio_blk\0", 12);
	munmap(map, (size_t)st.st_size);
	return found;
}

/*
 * An ELF with the kernel's symbols, for gdb: a vmlinux beside the kernel
 * (a build tree), or Debian's debug package's.  The PVH ELF vmtest boots
 * has none: it is stripped.
 */
static char *kernel_find_symbols(const struct target *t, const char *release)
{
	_cleanup_free_ char *dir = strdup(t->kernel);
	char *slash = dir ? strrchr(dir, '/') : NULL, *path = NULL;

	if (slash) {
		*slash = '\0';
		if (asprintf(&path, "%s/vmlinux", *dir ? dir : "/") >= 0 && access(path, R_OK) == 0)
			return path;
		free(path);
	}
	if (asprintf(&path, "/usr/lib/debug/boot/vmlinux-%s", release) >= 0 &&
	    access(path, R_OK) == 0)
		return path;
	free(path);
	return NULL;
}

static const char *kernel_symbols(const struct target_run *run)
{
	return kernel_boot(run) ? kernel_boot(run)->symbols : NULL;
}

/*
 * The kernel to boot and its initramfs.  A bzImage whose payload is a PVH
 * ELF boots as that ELF, decompressed once into the cache: under emulation
 * the kernel's own decompressor is most of the boot time.
 */
static int kernel_prepare(struct target_run *run, struct error *err)
{
	const struct target *t = run->target;
	const struct arch *arch = arch_find(t->arch);
	_cleanup_free_ char *cache = NULL, *elf = NULL;
	const unsigned char *init = NULL;
	size_t init_len = 0;
	struct kernel_image *image = NULL;
	struct modules_list *modules = NULL;
	struct kernel_boot *b = calloc(1, sizeof(*b));
	bool no_modules_dir = false;
	int r;

	if (!b)
		return error_set(err, ENOMEM, "out of memory");
	run->kind_data = b;
	r = kernel_fs_choose(run, &b->fs, err);
	if (r >= 0)
		r = kernel_cache_dir(run, &cache, err);
	if (r >= 0)
		r = kernel_image_open(t->kernel, &image, err);
	if (r >= 0)
		r = kernel_release(t, image, err);
	if (r >= 0)
		b->symbols = kernel_find_symbols(t, image->release);
	if (r >= 0) {
		record_log(run->record, 1, "kernel %s: release %s", t->kernel, image->release);
		r = kernel_modules(run, image->release, &b->fs, &no_modules_dir, &modules, err);
	}
	if (r >= 0 && image->kind == KERNEL_IMAGE_BZIMAGE) {
		struct error pvh_err = { 0 };

		/* Not a PVH payload we can take out: boot the bzImage itself. */
		if (kernel_image_pvh_elf(t->kernel, cache, &elf, &pvh_err) < 0)
			record_log(run->record, 1, "booting the bzImage itself: %s", pvh_err.msg);
	}
	kernel_image_free(image);
	if (r >= 0 && !guest_init_find(arch, &init, &init_len))
		r = error_set(err, ENOENT, "this vmtest has no guest init for %s", t->arch);
	if (r >= 0)
		r = initramfs_get(cache, init, init_len, modules, &b->initrd, err);
	modules_list_free(modules);
	if (r < 0)
		return r;
	b->kernel_cached = elf && strncmp(elf, cache, strlen(cache)) == 0;
	b->boot_kernel = strdup(elf ? elf : t->kernel);
	if (!b->boot_kernel)
		return error_set(err, ENOMEM, "out of memory");
	record_log(run->record, 1, "booting %s with %s", b->boot_kernel, b->initrd);
	if (b->fs.usr_image && no_modules_dir && !kernel_builds_in_erofs(b->boot_kernel)) {
		record_log(run->record, 1, "/usr over 9p like the rest of the root: %s has no "
			   "modules directory, and %s shows no built-in EROFS and virtio-blk",
			   t->kernel, b->boot_kernel);
		b->fs.usr_image = false;
	}
	if (cache_trust_available() &&
	    ((b->kernel_cached && !kernel_pin(b->boot_kernel, &b->boot_kernel_st)) ||
	     !kernel_pin(b->initrd, &b->initrd_st)))
		return error_set(err, ESTALE, "vmtest's cache changed while vmtest prepared the boot "
				 "(%s, %s): a guest sharing the cache read-write may have written it",
				 b->boot_kernel, b->initrd);
	/* A dry run starts nothing. */
	return run->run_dir ? kernel_fs_start(run, &b->fs, err) : 0;
}

static void kernel_plan(const struct target_run *run, struct qemu_plan *plan)
{
	plan->usr_image = kernel_boot(run)->fs.usr_image;
	plan->boot_kernel = kernel_boot(run)->boot_kernel;
	plan->initrd = kernel_boot(run)->initrd;
	plan->virtiofs = kernel_boot(run)->fs.virtiofs;
	plan->no_9p = kernel_boot(run)->fs.virtiofs_only;
}

static const char *kernel_warm_off(const struct target_run *run)
{
	if (test_results_format(run->target, run->options) == VM_RESULTS_KUNIT)
		return "its tests are KUnit's, which run as the kernel boots: a guest restored "
		       "from a snapshot would not run them";
	return kernel_fs_warm_off(run, &kernel_boot(run)->fs);
}

/*
 * Whether path is still a file vmtest wrote: the one it checked before QEMU
 * started (pinned), or one that vmtest wrote since, as another target of
 * the run (or another run) does that makes the same file at the same time.
 * A swap by a guest gives neither: it changes the file's identity, its
 * change time at least, even if swapped back.  The identity first: another
 * run may have pushed the file's record out of the keyring meanwhile, which
 * changes nothing in the file.
 */
static bool kernel_still_trusted(const char *path, const struct stat *pinned)
{
	struct stat st;

	return (stat(path, &st) == 0 && cache_same_file(&st, pinned)) || cache_trusted(path);
}

/*
 * QEMU has read the kernel and the initramfs once it answers on QMP.  Were
 * they still files vmtest wrote?  A guest of another run, sharing the
 * cache, could have swapped one in between.
 */
static int kernel_started(struct target_run *run, int64_t deadline, struct error *err)
{
	const struct kernel_boot *b = kernel_boot(run);

	(void)deadline; /* nothing to connect: the output port serves kernel targets whole */
	if (!cache_trust_available())
		return 0;
	if ((b->kernel_cached && !kernel_still_trusted(b->boot_kernel, &b->boot_kernel_st)) ||
	    !kernel_still_trusted(b->initrd, &b->initrd_st))
		return error_set(err, ESTALE, "vmtest's cache changed while QEMU was reading it "
				 "(%s, %s): a guest sharing the cache read-write may have written it",
				 b->boot_kernel, b->initrd);
	return 0;
}

/*
 * The host's time and fresh randomness, for every boot: a guest restored
 * from a snapshot would otherwise live at the snapshot's time, and with the
 * random-number state of every other restore.
 */
static int kernel_clock_and_entropy(struct json_value *args)
{
	unsigned char seed[KERNEL_ENTROPY_BYTES];
	_cleanup_free_ char *b64 = NULL;
	struct timespec now;
	int r;

	if (getrandom(seed, sizeof(seed), 0) != (ssize_t)sizeof(seed))
		return -EIO;
	b64 = base64_encode(seed, sizeof(seed));
	if (!b64)
		return -ENOMEM;
	clock_gettime(CLOCK_REALTIME, &now);
	r = json_io_set_int(args, "realtime-ns", (int64_t)now.tv_sec * 1000000000 + now.tv_nsec);
	if (r >= 0)
		r = json_io_set_string(args, "entropy", b64);
	return r;
}

/* vmtest-setup's arguments: the shares to mount, and where. */
static int kernel_setup_args(const struct config *config, const struct target *t,
			     const char *filesystem, bool network, bool usr_image,
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
	if (r >= 0 && filesystem)
		r = json_io_set_string(args, "filesystem", filesystem);
	if (r >= 0)
		r = kernel_clock_and_entropy(args);
	if (r >= 0)
		r = json_io_set_bool(args, "shared", true);
	if (r >= 0 && network)
		r = json_io_set_bool(args, "network", true);
	if (r >= 0 && usr_image)
		r = json_io_set_string(args, "usr-image", GUEST_USR_IMAGE_SERIAL);
	if (r >= 0)
		r = json_io_set_string(args, "shared-host-path", config->base_dir);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(args);
	return 0;
}

static int kernel_setup(struct target_run *run, struct error *err)
{
	struct kernel_boot *b = kernel_boot(run);
	_cleanup_json_ struct json_value *args = NULL, *ret = NULL;
	int r = kernel_setup_args(run->config, run->target, kernel_fs_setup_name(&b->fs),
				  run->network, b->fs.usr_image, &args);

	if (r == -EILSEQ)
		return error_set(err, EILSEQ, "a mount path is not valid UTF-8");
	if (r < 0)
		return error_set(err, ENOMEM, "out of memory");
	if (b->fs.virtiofs && run->argv_leaves_out) {
		int64_t start = clock_now_ms();

		r = kernel_fs_plug(run, &b->fs, err);
		if (r < 0)
			return target_run_check(run, r, err);
		record_log(run->record, 1, "plugged the virtiofs devices in, in %.2f s",
			   (double)(clock_now_ms() - start) / 1000);
	}
	r = qga_execute(run->qga, "vmtest-setup", args, clock_deadline(run->setup_ms), &ret, err);
	if (r >= 0 && json_io_get_string(ret, "kernel-version"))
		dump_set_kernel_version(run, json_io_get_string(ret, "kernel-version"));
	if (r >= 0)
		kernel_fs_mounted(run, &b->fs, json_io_get_string(ret, "filesystem"),
				  json_io_get_bool(ret, "usr-image", false),
				  json_io_get_string(ret, "usr-image-error"));
	return target_run_check(run, r, err);
}

/* bash when the rootfs has it, as vmtest does, else sh. */
static const char *kernel_shell(const struct target *t)
{
	_cleanup_free_ char *bash = NULL;

	if (asprintf(&bash, "%s/bin/bash", kernel_rootfs_prefix(t)) < 0)
		return "/bin/sh";
	return access(bash, X_OK) == 0 ? "/bin/bash" : "/bin/sh";
}

/*
 * The host's environment for the guest.  JSON carries only UTF-8, so an
 * entry that is not is left out, with a notice naming it, rather than
 * failing the whole run over a stray variable.
 */
static const char **kernel_environment(struct target_run *run)
{
	size_t n = 0, kept = 0, extra = 0;
	const char **envp;

	while (environ[n])
		n++;
	while (run->extra_env && run->extra_env[extra])
		extra++;
	envp = calloc(n + extra + 1, sizeof(*envp));
	if (!envp)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (json_io_utf8_valid(environ[i])) {
			envp[kept++] = environ[i];
			continue;
		}
		record_log(run->record, 0, "not passing %.*s to the guest: its value is not valid UTF-8",
			   (int)strcspn(environ[i], "="), environ[i]);
	}
	/* A retry's own (VMTEST_FAILED_TESTS), last: they win over the host's. */
	for (size_t i = 0; i < extra; i++)
		if (json_io_utf8_valid(run->extra_env[i]))
			envp[kept++] = run->extra_env[i];
	return envp;
}

/*
 * The command's output records relayed to the terminal and the spool,
 * until deadline: the command's timeout, counted from its start.
 */
static int kernel_relay(struct target_run *run, uint32_t exec_id, bool tty, int64_t deadline,
			struct error *err)
{
	const struct run_options *o = run->options;
	struct output_relay relay = {
		.port_fd = run->output_fd,
		.exec_id = exec_id,
		.out_fd = o->out_fd,
		.err_fd = o->err_fd,
		.copy_fd = run->record->output_fd,
		.listener = &run->listener,
		.deadline = deadline,
		.in_fd = -1,
		.winch_fd = -1,
		.tty_fd = STDIN_FILENO,
		.watch_fds = kernel_fs_watch_fds(&kernel_boot(run)->fs),
	};
	int r;

	/* Keys from the user's terminal, in raw mode, reach the guest's pty. */
	if (tty && isatty(STDIN_FILENO)) {
		relay.in_fd = STDIN_FILENO;
		relay.winch_fd = terminal_winch_fd();
		terminal_raw(STDIN_FILENO);
	}
	r = output_relay(&relay, err);
	terminal_restore();
	kernel_fs_finished(run, &kernel_boot(run)->fs);
	/* A daemon's end may show first as QEMU's (vhost-user lost) or as silence. */
	if (r < 0 && kernel_fs_daemon_died(&kernel_boot(run)->fs, err))
		r = -ECHILD;
	return r;
}

/*
 * The command through the rootfs's shell, or for "-" a login shell; on a
 * guest pty for those and for --tty.
 */
static int kernel_exec(struct target_run *run, struct qga_exec_status *ret_status,
		       struct error *err)
{
	const struct target *t = run->target;
	_cleanup_free_ char *cwd = getcwd(NULL, 0);
	const char *command_argv[] = { "-c", t->command, NULL };
	const char *login_argv[] = { "-l", NULL };
	bool tty = t->interactive || run->options->tty;
	struct qga_exec_request req = {
		.path = kernel_shell(t),
		.argv = t->interactive ? login_argv : command_argv,
		.capture = QGA_CAPTURE_NONE,
		.vmtest_cwd = cwd,
		.vmtest_stream = true,
		.vmtest_tty = tty,
	};
	_cleanup_free_ const char **envp = kernel_environment(run);
	int64_t deadline = clock_deadline(run->timeout_s ? run->timeout_s * 1000LL : -1), pid;
	int r;

	if (!envp)
		return error_set(err, ENOMEM, "out of memory");
	req.envp = envp;
	if (cwd && !json_io_utf8_valid(cwd))
		req.vmtest_cwd = NULL; /* the guest starts in / instead */
	if (tty)
		terminal_size(STDIN_FILENO, &req.vmtest_rows, &req.vmtest_cols);
	r = qga_exec_start(run->qga, &req, clock_deadline(run->setup_ms), &pid, err);
	if (r >= 0)
		r = kernel_relay(run, (uint32_t)pid, tty, deadline, err);
	/* Said as it is, even when QEMU went down with it. */
	if (r == -ECHILD)
		return r;
	/* A guest held at its panic for its dump outlives the command's deadline:
	 * it panicked, it did not time out. */
	if (r == -ETIMEDOUT && target_run_kernel_died(run))
		return target_run_check(run, r, err);
	if (r == -ETIMEDOUT) {
		/* Past a deadline, starting or running: the command timed out (if it has a timeout). */
		run->timed_out = run->timeout_s;
		return r;
	}
	if (r >= 0)
		r = qga_exec_get_status(run->qga, pid, clock_deadline(run->setup_ms), ret_status, err);
	if (r >= 0 && !ret_status->exited)
		r = error_set(err, EPROTO, "the guest reported the command as still running");
	return target_run_check(run, r, err);
}

/* Power off through the agent; QMP quit and then signals if that stalls. */
static void kernel_shutdown(struct target_run *run)
{
	struct error ignored = { 0 };

	if (run->qga)
		qga_shutdown(run->qga, "powerdown", clock_deadline(1000), &ignored);
	if (!qemu_process_wait(&run->qemu, KERNEL_SHUTDOWN_TIMEOUT_MS))
		target_run_stop_qemu(run);
}

/* A guest's log is its kernel's records: megabytes at most, for a chatty kernel. */
#define KERNEL_LOG_MAX (64 << 20)

/* The first max bytes of a file, malloc'd, NUL-terminated; -errno.  QEMU,
 * its writer, has exited: its size is final. */
static int kernel_read_log(const char *path, size_t max, char **ret, size_t *ret_len)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	_cleanup_free_ char *buf = NULL;
	struct stat st;
	size_t size;
	int r;

	if (fd < 0 || fstat(fd, &st) < 0)
		return -errno;
	size = (uint64_t)st.st_size < max ? (size_t)st.st_size : max;
	buf = malloc(size + 1);
	if (!buf)
		return -ENOMEM;
	r = io_read_all(fd, buf, size, ret_len);
	if (r < 0)
		return r;
	buf[*ret_len] = '\0';
	*ret = TAKE_PTR(buf);
	return 0;
}

/*
 * The guest kernel's splats, from the records the init sent (guest/kmsg.h),
 * into the record: shown whole, and failing the target unless
 * vm.kernel_warnings = "ignore" or an allowed pattern matches.
 */
static void kernel_ended(struct target_run *run)
{
	const struct target *t = run->target;
	int asked = run->options->kernel_warnings;
	bool fail = (asked >= 0 ? (enum vm_kernel_warnings)asked : t->vm.kernel_warnings) ==
		    VM_KERNEL_WARNINGS_FAIL;
	_cleanup_free_ char *path = target_run_path(run, QEMU_FILE_KMSG), *log = NULL;
	struct kernel_warnings w;
	size_t len = 0;
	int r;

	if (!path || kernel_read_log(path, KERNEL_LOG_MAX, &log, &len) < 0)
		return;
	r = kernel_warnings_find(log, len, t->vm.allowed_warnings, &w);
	if (r < 0) {
		record_log(run->record, 0, "could not look for kernel warnings: %s", strerror(-r));
		return;
	}
	if (w.records_lost)
		record_log(run->record, 0, "some of the guest kernel's log records were lost (its "
			   "ring buffer overflowed before they were read): warnings among them were "
			   "not seen");
	if (w.allowed)
		record_log(run->record, 1, "%zu kernel warning%s allowed by vm.allowed_warnings",
			   w.allowed, w.allowed == 1 ? "" : "s");
	for (size_t i = 0; i < w.n; i++) {
		const char *text = w.items[i].text;

		if (record_add_kernel_warning(run->record, w.items[i].title, text) < 0)
			break;
		record_log(run->record, fail ? 0 : 1, "the kernel warned%s:",
			   fail ? "" : " (vm.kernel_warnings = ignore)");
		while (*text) {
			int n = (int)strcspn(text, "\n");

			record_log(run->record, fail ? 0 : 1, "  %.*s", n, text);
			text += n + (text[n] == '\n');
		}
	}
	run->record->kernel_warnings_fail = fail && w.n;
	kernel_warnings_clear(&w);
}

static void kernel_clear(struct target_run *run)
{
	struct kernel_boot *b = kernel_boot(run);

	if (!b)
		return;
	kernel_fs_clear(&b->fs);
	free(b->boot_kernel);
	free(b->initrd);
	free(b->symbols);
	free(b);
	run->kind_data = NULL;
}

/* A guest init must be had for the target's architecture. */
static int kernel_check(const struct target *t, const struct run_options *o, struct error *err)
{
	const struct arch *arch = arch_find(t->arch);
	const unsigned char *init;
	char why[512];
	size_t len;

	(void)o;
	if (!arch || guest_init_find(arch, &init, &len))
		return 0;
	guest_init_missing(arch, why, sizeof(why));
	return error_usage(err, "target '%s': this vmtest has no guest init for %s: %s", t->name,
			   t->arch, why);
}

const struct target_kind_ops target_kernel_ops = {
	.name = "kernel",
	.check = kernel_check,
	.dumps = true,
	.warm_start = true,
	.warm_off = kernel_warm_off,
	.prepare = kernel_prepare,
	.ended = kernel_ended,
	.symbols = kernel_symbols,
	.symbols_hint = "no symbols for this kernel: a vmlinux beside it, or Debian's "
			"/usr/lib/debug/boot/vmlinux-RELEASE (linux-image-RELEASE-dbg), would give them",
	.plan = kernel_plan,
	.started = kernel_started,
	.silent_agent_hint = "",
	.setup = kernel_setup,
	.exec = kernel_exec,
	.shutdown = kernel_shutdown,
	.clear = kernel_clear,
};
