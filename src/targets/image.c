// SPDX-License-Identifier: MIT
/*
 * image: the kind of target that boots a VM disk image, BIOS or UEFI, on
 * a throw-away overlay (or the image itself with vm.persist), and does
 * its work through the image's own qemu-ga.  The image is its own world:
 * vmtest only mounts the shared directory and vm.mounts over 9p, then runs
 * the command with the image's shell in /mnt/vmtest, with the image's
 * environment, its stdout and stderr relayed live through two
 * virtio-serial ports.
 *
 * Warm starts (warm_start.h) replace the image's boot too: the guest then
 * writes a qcow2 layer of the run's own over the image (instead of QEMU's
 * snapshot=on overlay), and the layer and the UEFI variables as they were
 * when the agent first answered go with the snapshot; each restore starts
 * from copies of them.  The image itself is never written.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <sys/random.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "guest_proto.h"
#include "io.h"
#include "base/clock.h"
#include "base/exec_path.h"
#include "base/strv.h"
#include "base/unix_socket.h"
#include "boot/disk_image.h"
#include "boot/firmware.h"
#include "boot/qemu_argv.h"
#include "targets/target_run.h"
#include "targets/warm_start.h"
#include "vm/output.h"

#define IMAGE_PROBE_TIMEOUT_MS 30000
#define IMAGE_SYNC_TIMEOUT_MS 5000
/*
 * A distribution's shutdown under TCG can take this long.  ACPI power-down
 * is the rare fallback (an agent without guest-shutdown): a guest that
 * honours it starts at once, one that ignores it should not stall the run.
 */
#define IMAGE_POWEROFF_TIMEOUT_MS 30000
#define IMAGE_ACPI_TIMEOUT_MS 10000

/* What an image target boots, and its second output port. */
struct image_boot {
	enum disk_format format;
	struct firmware firmware;	/* UEFI; all NULL for BIOS */
	char *firmware_vars;		/* this run's copy of the VARS template */
	int error_fd;			/* the stderr port */
	/* Warm starts: the run's own layer over the image, and what makes it. */
	char *disk_layer;
	char *qemu_img;
};

/* The two raw output ports of an image target and where their bytes go. */
struct image_streams {
	int port_fds[2];	/* stdout's and stderr's port sockets */
	int out_fds[2];		/* vmtest's stdout and stderr (or both stdout; -1: nowhere) */
	int copy_fd;		/* both streams again, by whole lines (the record's spool) */
	const struct output_listener *listener;	/* the test results' parser; NULL: none */
	const char *const *envp;	/* the command's environment */
};

/*
 * Arguments after the script: triples of tag, directory, extra options.
 * 9p may still be loading when qemu-ga answers (udev starts both), so each
 * mount is retried for a while before its error counts.
 *
 * A guest restored from a snapshot wakes at the snapshot's time: the
 * script sets the host's first, when VMTEST_TIME is set (GNU date takes
 * the fraction; busybox's takes whole seconds, rounded on the host).
 * Through the script rather than qemu-ga's guest-set-time, which runs
 * hwclock -w, and util-linux's hwclock waits up to a second for the RTC.
 * Its random state is renewed by vmgenid (qemu_argv.c), which the kernel
 * reseeds on.
 */
static const char image_mount_script[] =
	"if [ -n \"$VMTEST_TIME\" ]; then\n"
	"  date -u -s \"@$VMTEST_TIME\" >/dev/null 2>&1 || date -u -s \"@$VMTEST_TIME_S\" >/dev/null 2>&1\n"
	"fi\n"
	"mnt() {\n"
	"  mkdir -p \"$2\" || exit 1\n"
	"  i=0\n"
	"  until err=$(mount -t 9p -o \"trans=virtio,version=9p2000.L,msize=$MSIZE,$3\" \"$1\" \"$2\" 2>&1); do\n"
	"    i=$((i + 1))\n"
	"    if [ $i -ge 50 ]; then echo \"cannot mount 9p on $2: $err\" >&2; exit 1; fi\n"
	"    modprobe -q 9pnet_virtio 2>/dev/null; modprobe -q 9p 2>/dev/null; sleep 0.2\n"
	"  done\n"
	"}\n"
	"while [ $# -gt 0 ]; do mnt \"$1\" \"$2\" \"$3\"; shift 3; done\n";

static const char *const image_env[] = {
	"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root",
	"TERM=dumb", NULL,
};

static int image_check_agent(struct qga *qga, int64_t deadline, struct error *err)
{
	static const char *const needed[] = { "guest-exec", "guest-exec-status" };

	for (size_t i = 0; i < sizeof(needed) / sizeof(needed[0]); i++) {
		bool enabled;
		int r = qga_command_enabled(qga, needed[i], deadline, &enabled, err);

		if (r < 0)
			return r;
		if (!enabled)
			return error_set(err, EPERM,
					 "the image's qemu-ga has %s disabled, and vmtest runs commands with it; "
					 "allow it in the image (RHEL, Fedora: remove it from the block list in "
					 "/etc/sysconfig/qemu-ga, see docs/image-targets.md)", needed[i]);
	}
	return 0;
}

/* The mounts; with set_clock, the host's time first. */
static int image_mount(struct qga *qga, const struct target *t, bool set_clock, int64_t deadline,
		       struct error *err)
{
	struct strv args = { 0 };
	struct qga_exec_status st = { 0 };
	char time_env[64] = "VMTEST_TIME=", seconds_env[64] = "VMTEST_TIME_S=";
	const char *env[] = { "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
			      "MSIZE=" "512000", time_env, seconds_env, NULL };
	struct qga_exec_request req = { .path = "/bin/sh", .envp = env,
					.capture = QGA_CAPTURE_SEPARATE };
	int64_t pid;
	int r;

	if (set_clock) {
		struct timespec now;

		clock_gettime(CLOCK_REALTIME, &now);
		snprintf(time_env, sizeof(time_env), "VMTEST_TIME=%lld.%09ld", (long long)now.tv_sec,
			 now.tv_nsec);
		snprintf(seconds_env, sizeof(seconds_env), "VMTEST_TIME_S=%lld",
			 (long long)now.tv_sec + (now.tv_nsec >= 500000000));
	}
	strv_add(&args, "-c");
	strv_add(&args, image_mount_script);
	strv_add(&args, "vmtest-mount");
	strv_add(&args, GUEST_TAG_SHARED);
	strv_add(&args, GUEST_SHARED_PATH);
	strv_add(&args, "cache=mmap");
	for (size_t i = 0; i < t->vm.n_mounts; i++) {
		strv_addf(&args, GUEST_TAG_MOUNT_PREFIX "%zu", i);
		strv_add(&args, t->vm.mounts[i].guest_path);
		strv_add(&args, t->vm.mounts[i].writable ? "cache=mmap" : "cache=loose,ro");
	}
	if (args.oom) {
		strv_clear(&args);
		return error_set(err, ENOMEM, "out of memory");
	}
	req.argv = (const char *const *)args.items;
	r = qga_exec_start(qga, &req, deadline, &pid, err);
	if (r >= 0)
		r = qga_exec_wait(qga, pid, deadline, &st, err);
	strv_clear(&args);
	if (r >= 0 && (st.signal || st.exitcode != 0)) {
		char *msg = st.err_data ? st.err_data : "the mount script failed";

		msg[strcspn(msg, "\n")] = '\0';
		r = error_set(err, EIO, "%s (does the image's kernel have 9p over virtio?)", msg);
	}
	qga_exec_status_clear(&st);
	return r;
}

static int image_sync(struct qga *qga, int64_t deadline, struct error *err)
{
	const char *argv[] = { "-c", "sync", NULL };
	struct qga_exec_request req = { .path = "/bin/sh", .argv = argv, .envp = image_env,
					.capture = QGA_CAPTURE_SEPARATE };
	struct qga_exec_status st = { 0 };
	int64_t pid;
	int r;

	r = qga_exec_start(qga, &req, deadline, &pid, err);
	if (r >= 0)
		r = qga_exec_wait(qga, pid, deadline, &st, err);
	qga_exec_status_clear(&st);
	return r;
}

/* Finds the ports by name: images rarely have udev's /dev/virtio-ports links. */
static const char image_probe_script[] =
	"for d in /sys/class/virtio-ports/*; do\n"
	"  case \"$(cat \"$d/name\" 2>/dev/null)\" in\n"
	"  " GUEST_PORT_OUTPUT ") out=/dev/${d##*/} ;;\n"
	"  " GUEST_PORT_ERROR ") err=/dev/${d##*/} ;;\n"
	"  esac\n"
	"done\n"
	"[ -c \"$out\" ] && [ -c \"$err\" ] && echo \"$out $err\"\n";

/*
 * $1 command, $2 stdout port, $3 stderr port, $4 marker.  The command's
 * stdout and stderr are pipes (as on a host), copied by cat into the ports;
 * its status goes through a file since a pipeline keeps only the last one.
 */
static const char image_stream_script[] =
	"cd " GUEST_SHARED_PATH " || exit 1\n"
	"if command -v bash >/dev/null 2>&1; then sh=bash; else sh=sh; fi\n"
	"st=$(mktemp 2>/dev/null) || st=/tmp/vmtest-status.$$\n"
	"{ { \"$sh\" -c \"$1\"; echo $? > \"$st\"; } 2>&1 1>&3 3>&- | cat > \"$3\"; } 3>&1 | cat > \"$2\"\n"
	"printf '\\001vmtest-end-%s\\001' \"$4\" > \"$2\"\n"
	"printf '\\001vmtest-end-%s\\001' \"$4\" > \"$3\"\n"
	"s=$(cat \"$st\" 2>/dev/null); rm -f \"$st\"; exit \"${s:-1}\"\n";

static int image_probe(struct qga *qga, int64_t deadline, char ports[2][64],
		       struct error *err)
{
	const char *argv[] = { "-c", image_probe_script, NULL };
	struct qga_exec_request req = { .path = "/bin/sh", .argv = argv, .envp = image_env,
					.capture = QGA_CAPTURE_SEPARATE };
	struct qga_exec_status st = { 0 };
	int64_t pid;
	int r, found = 0;

	r = qga_exec_start(qga, &req, deadline, &pid, err);
	if (r >= 0)
		r = qga_exec_wait(qga, pid, deadline, &st, err);
	if (r >= 0 && st.exitcode == 0 && st.out_data)
		found = sscanf(st.out_data, "%63s %63s", ports[0], ports[1]);
	qga_exec_status_clear(&st);
	return r < 0 ? r : found == 2;
}

/*
 * Copy both ports to their destinations until each has shown the marker.
 * Bytes that may be the start of a marker split across reads are held
 * back; so is a partial line when both streams go to one place, so that
 * stdout and stderr interleave by whole lines, not mid-line.
 */
struct image_pending {
	char buf[2 * 65536];
	size_t len;
	bool done;
};

/* How many bytes at the end of buf could be the start of the marker. */
static size_t image_marker_prefix(const char *buf, size_t len, const char *marker,
				  size_t mlen)
{
	for (size_t k = len < mlen - 1 ? len : mlen - 1; k > 0; k--)
		if (memcmp(buf + len - k, marker, k) == 0)
			return k;
	return 0;
}

static int image_flush(struct image_pending *p, const struct image_streams *io, int stream,
		       size_t keep_at_least, bool whole_lines, struct error *err)
{
	int fd = io->out_fds[stream - 1], copy_fd = io->copy_fd;
	int r;

	size_t n = p->len > keep_at_least ? p->len - keep_at_least : 0;

	if (whole_lines && p->len < sizeof(p->buf) / 2) {
		char *nl = n ? memrchr(p->buf, '\n', n) : NULL;

		n = nl ? (size_t)(nl - p->buf) + 1 : 0;
	}
	/* The spool first: it stays whole when the user's stream fails. */
	r = output_copy(copy_fd, p->buf, n, err);
	output_tell(io->listener, stream, p->buf, n);
	if (r >= 0)
		r = output_to_user(fd, p->buf, n, err);
	memmove(p->buf, p->buf + n, p->len - n);
	p->len -= n;
	return r;
}

static int image_relay_with(const struct image_streams *io, const char *marker,
			    int64_t deadline, struct image_pending pending[2],
			    struct error *err)
{
	/* By whole lines when the streams meet (in one place, or the spool). */
	bool shared = io->out_fds[0] == io->out_fds[1] || io->copy_fd >= 0;
	size_t mlen = strlen(marker);

	pending[0].len = pending[1].len = 0;
	pending[0].done = pending[1].done = false;
	while (!pending[0].done || !pending[1].done) {
		struct pollfd p[2];
		int r;

		for (int i = 0; i < 2; i++)
			p[i] = (struct pollfd){ .fd = pending[i].done ? -1 : io->port_fds[i],
						.events = POLLIN };
		r = clock_poll(p, 2, deadline, err);
		if (r < 0)
			return r;
		for (int i = 0; i < 2; i++) {
			struct image_pending *q = &pending[i];
			ssize_t n;
			char *hit;

			if (q->done || !(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			n = read(io->port_fds[i], q->buf + q->len, sizeof(q->buf) - q->len);
			if (n < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (n <= 0)
				return error_set(err, EPIPE, "the VM went away while the command ran");
			q->len += (size_t)n;
			hit = memmem(q->buf, q->len, marker, mlen);
			if (hit) {
				q->len = (size_t)(hit - q->buf);
				q->done = true;
				if (image_flush(q, io, i + 1, 0, false, err) < 0)
					return -err->code;
				continue;
			}
			if (image_flush(q, io, i + 1,
					      image_marker_prefix(q->buf, q->len, marker, mlen),
					      shared, err) < 0)
				return -err->code;
		}
	}
	return 0;
}

/* Each relay its own buffers: targets may run in parallel threads. */
static int image_relay(const struct image_streams *io, const char *marker,
		       int64_t deadline, struct error *err)
{
	struct image_pending *pending = calloc(2, sizeof(*pending));
	int r;

	if (!pending)
		return error_set(err, ENOMEM, "out of memory");
	r = image_relay_with(io, marker, deadline, pending, err);
	free(pending);
	return r;
}

static int image_stream(struct qga *qga, const struct target *t,
			const struct image_streams *io, char ports[2][64],
			int64_t deadline, struct qga_exec_status *ret_status,
			struct error *err)
{
	char token[33], marker[64];
	const char *argv[] = { "-c", image_stream_script, "vmtest", t->command, ports[0],
			       ports[1], token, NULL };
	struct qga_exec_request req = { .path = "/bin/sh", .argv = argv, .envp = io->envp,
					.capture = QGA_CAPTURE_NONE };
	uint64_t random[2];
	int64_t pid;
	int r;

	/* Unguessable, so no output can end the stream early. */
	if (getrandom(random, sizeof(random), 0) != sizeof(random))
		return error_set_errno(err, errno, "getrandom");
	snprintf(token, sizeof(token), "%016llx%016llx", (unsigned long long)random[0],
		 (unsigned long long)random[1]);
	snprintf(marker, sizeof(marker), "\001vmtest-end-%s\001", token);
	r = qga_exec_start(qga, &req, deadline, &pid, err);
	if (r >= 0)
		r = image_relay(io, marker, deadline, err);
	if (r >= 0)
		r = qga_exec_wait(qga, pid, deadline, ret_status, err);
	return r;
}

static int image_run(struct qga *qga, const struct target *t, const struct image_streams *io,
		     int64_t deadline, struct qga_exec_status *ret_status, struct error *err)
{
	/* The image's shell, in the shared directory; bash when it has one. */
	const char *argv[] = { "-c",
			       "cd " GUEST_SHARED_PATH " || exit 1; if command -v bash >/dev/null 2>&1; then exec bash -c \"$1\"; else exec sh -c \"$1\"; fi",
			       "vmtest", t->command, NULL };
	struct qga_exec_request req = { .path = "/bin/sh", .argv = argv, .envp = io->envp,
					.capture = QGA_CAPTURE_SEPARATE };
	char ports[2][64];
	int64_t pid;
	int r;

	r = image_probe(qga, clock_deadline(IMAGE_PROBE_TIMEOUT_MS), ports, err);
	if (r < 0)
		return r;
	if (r == 1)
		return image_stream(qga, t, io, ports, deadline, ret_status, err);
	r = qga_exec_start(qga, &req, deadline, &pid, err);
	if (r >= 0)
		r = qga_exec_wait(qga, pid, deadline, ret_status, err);
	if (r < 0)
		return r;
	r = output_copy(io->copy_fd, ret_status->out_data, ret_status->out_len, err);
	if (r >= 0)
		r = output_copy(io->copy_fd, ret_status->err_data, ret_status->err_len, err);
	output_tell(io->listener, 1, ret_status->out_data, ret_status->out_len);
	output_tell(io->listener, 2, ret_status->err_data, ret_status->err_len);
	if (r >= 0)
		r = output_to_user(io->out_fds[0], ret_status->out_data, ret_status->out_len, err);
	if (r >= 0)
		r = output_to_user(io->out_fds[1], ret_status->err_data, ret_status->err_len, err);
	return r < 0 ? r : 0;
}

/* --- the kind ------------------------------------------------------------- */

static struct image_boot *image_boot(const struct target_run *run)
{
	return run->kind_data;
}

/* The VARS template into the run's copy (made anew). */
static int image_fill_firmware_vars(const struct image_boot *b, struct error *err)
{
	_cleanup_close_ int in = open(b->firmware.vars, O_RDONLY | O_CLOEXEC);
	_cleanup_close_ int out = open(b->firmware_vars, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
				       0600);
	int r = in < 0 || out < 0 ? -errno : io_copy_all(in, out);

	if (r < 0)
		return error_set_errno(err, -r, "copy %s to %s", b->firmware.vars, b->firmware_vars);
	return 0;
}

/* UEFI writes its variables: each run gets its own copy of the template. */
static int image_copy_firmware_vars(struct target_run *run, struct image_boot *b,
				    struct error *err)
{
	if (!b->firmware.vars)
		return 0;
	/* A dry run shows where the copy would go. */
	b->firmware_vars = run->run_dir ? target_run_path(run, "vars.fd")
					: strdup("/tmp/vmtest-XXXXXX/vars.fd");
	if (!b->firmware_vars)
		return error_set(err, ENOMEM, "out of memory");
	return run->run_dir ? image_fill_firmware_vars(b, err) : 0;
}

/* Where a warm start's disk layer goes, and the qemu-img that makes it. */
static int image_warm_prepare(struct target_run *run, struct image_boot *b, struct error *err)
{
	if (!run->run_dir || run->target->vm.persist)
		return 0;
	b->disk_layer = target_run_path(run, "disk.qcow2");
	if (!b->disk_layer)
		return error_set(err, ENOMEM, "out of memory");
	b->qemu_img = exec_path_beside(run->target->qemu_command, "qemu-img");
	return 0;
}

/* The image's format and, for UEFI, the firmware (vm.bios overrides). */
static int image_prepare(struct target_run *run, struct error *err)
{
	const struct target *t = run->target;
	struct image_boot *b = calloc(1, sizeof(*b));
	int r;

	if (!b)
		return error_set(err, ENOMEM, "out of memory");
	b->error_fd = -1;
	run->kind_data = b;
	r = disk_image_detect(t->image, &b->format, err);
	if (r < 0)
		return r;
	record_log(run->record, 1, "image %s: %s", t->image, disk_format_name(b->format));
	r = image_warm_prepare(run, b, err);
	if (r < 0 || !t->uefi)
		return r;
	if (t->vm.bios)
		b->firmware.combined = t->vm.bios;
	else
		r = firmware_find("", &b->firmware, err);
	return r < 0 ? r : image_copy_firmware_vars(run, b, err);
}

static void image_plan(const struct target_run *run, struct qemu_plan *plan)
{
	const struct image_boot *b = image_boot(run);

	plan->disk_format = disk_format_name(b->format);
	plan->firmware_code = b->firmware.code;
	plan->firmware_vars = b->firmware_vars ? b->firmware_vars : b->firmware.vars;
	plan->firmware_bios = b->firmware.combined;
	/* A snapshot's key names the template: the run's copy changes with each run. */
	if (plan->for_key)
		plan->firmware_vars = b->firmware.vars;
	else if (run->warm)
		plan->disk_layer = b->disk_layer;
}

static const char *image_warm_off(const struct target_run *run)
{
	const struct image_boot *b = image_boot(run);

	if (run->target->vm.persist)
		return "vm.persist = true: the guest writes the image itself, so no boot of it is "
		       "like another";
	if (!b->qemu_img)
		return "no qemu-img (Debian's qemu-utils) to make the disk layer a snapshot of an "
		       "image needs";
	return NULL;
}

static void image_warm_files(const struct target_run *run, struct snapshot_files *files)
{
	files->disk = image_boot(run)->disk_layer;
	files->vars = image_boot(run)->firmware_vars;
}

/* A cold boot's layer over the image, and the template's variables. */
static int image_warm_fresh(struct target_run *run, struct error *err)
{
	const struct image_boot *b = image_boot(run);
	int r = disk_image_layer_create(b->qemu_img, run->target->image, b->format, b->disk_layer,
					err);

	if (r >= 0 && b->firmware_vars)
		r = image_fill_firmware_vars(b, err);
	return r;
}

/* The second output port: the command's stderr. */
static int image_started(struct target_run *run, int64_t deadline, struct error *err)
{
	_cleanup_free_ char *path = target_run_path(run, QEMU_SOCKET_ERROR);
	int fd;

	if (!path)
		return error_set(err, ENOMEM, "out of memory");
	fd = unix_socket_connect(path, deadline, false, err);
	if (fd < 0)
		return fd;
	image_boot(run)->error_fd = fd;
	return 0;
}

static int image_setup(struct target_run *run, struct error *err)
{
	int64_t deadline = clock_deadline(run->setup_ms);
	int r = image_check_agent(run->qga, deadline, err);

	if (r >= 0)
		r = image_mount(run->qga, run->target, warm_start_restoring(run), deadline, err);
	return target_run_check(run, r, err);
}

/* The image's fixed environment, and a retry's (VMTEST_FAILED_TESTS); malloc'd. */
static const char **image_environment(const struct target_run *run)
{
	size_t n = ARRAY_SIZE(image_env) - 1, extra = 0;
	const char **envp;

	while (run->extra_env && run->extra_env[extra])
		extra++;
	envp = calloc(n + extra + 1, sizeof(*envp));
	if (!envp)
		return NULL;
	memcpy(envp, image_env, n * sizeof(*envp));
	for (size_t i = 0; i < extra; i++)
		envp[n + i] = run->extra_env[i];
	return envp;
}

static int image_exec(struct target_run *run, struct qga_exec_status *ret_status,
		      struct error *err)
{
	_cleanup_free_ const char **envp = image_environment(run);
	const struct image_streams streams = {
		.port_fds = { run->output_fd, image_boot(run)->error_fd },
		.out_fds = { run->options->out_fd, run->options->err_fd },
		.copy_fd = run->record->output_fd,
		.listener = &run->listener,
		.envp = envp,
	};
	int r = envp ? 0 : error_set(err, ENOMEM, "out of memory");

	if (r >= 0)
		r = image_run(run->qga, run->target, &streams,
			      clock_deadline(run->timeout_s ? run->timeout_s * 1000LL : -1),
			      ret_status, err);

	if (r == -ETIMEDOUT && run->timeout_s) {
		run->timed_out = run->timeout_s;
		return r;
	}
	return target_run_check(run, r, err);
}

/*
 * An image on a throw-away overlay keeps nothing the guest writes, so QEMU
 * simply quits.  A persistent one is shut down properly: sync through the
 * agent, guest-shutdown (which never answers when it works, and fails on
 * images without /sbin/shutdown), then ACPI power-down through QMP, and
 * quit when the guest ignores that too.  Each step is bounded in time.
 */
static void image_shutdown(struct target_run *run)
{
	struct error e = { 0 };

	if (run->target->vm.persist && run->qga) {
		if (image_sync(run->qga, clock_deadline(IMAGE_SYNC_TIMEOUT_MS), &e) < 0)
			record_log(run->record, 1, "sync in the guest: %s", e.msg);
		if (qga_shutdown(run->qga, "powerdown", clock_deadline(IMAGE_SYNC_TIMEOUT_MS), &e) < 0)
			record_log(run->record, 1, "%s", e.msg);
		else if (qemu_process_wait(&run->qemu, IMAGE_POWEROFF_TIMEOUT_MS))
			return;
		record_log(run->record, 1, "powering off through ACPI (QMP system_powerdown)");
		if (run->qmp && qmp_execute(run->qmp, "system_powerdown", NULL,
					    clock_deadline(1000), NULL, &e) >= 0 &&
		    qemu_process_wait(&run->qemu, IMAGE_ACPI_TIMEOUT_MS))
			return;
		record_log(run->record, 1, "the guest did not power off; stopping QEMU");
	}
	target_run_stop_qemu(run);
}

static void image_clear(struct target_run *run)
{
	struct image_boot *b = image_boot(run);

	if (!b)
		return;
	if (b->error_fd >= 0)
		close(b->error_fd);
	free(b->firmware_vars);
	free(b->disk_layer);
	free(b->qemu_img);
	free(b);
	run->kind_data = NULL;
}

const struct target_kind_ops target_image_ops = {
	.name = "image",
	.warm_start = true,
	.warm_off = image_warm_off,
	.warm_files = image_warm_files,
	.warm_fresh = image_warm_fresh,
	.prepare = image_prepare,
	.plan = image_plan,
	.started = image_started,
	.silent_agent_hint = " (is qemu-ga installed and enabled in the image?)",
	.setup = image_setup,
	.exec = image_exec,
	.shutdown = image_shutdown,
	.clear = image_clear,
};
