// SPDX-License-Identifier: MIT
#include "image_guest.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "guest_proto.h"
#include "qemu_argv.h"
#include "strv.h"

/*
 * Arguments after the script: triples of tag, directory, extra options.
 * 9p may still be loading when qemu-ga answers (udev starts both), so each
 * mount is retried for a while before its error counts.
 */
static const char image_guest_mount_script[] =
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

static void image_guest_output(int fd, const char *data, size_t len)
{
	while (data && len) {
		ssize_t n = write(fd, data, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		data += n;
		len -= (size_t)n;
	}
}

int image_guest_mount(struct qga *qga, const struct target *t, int64_t deadline,
		      struct error *err)
{
	struct strv args = { 0 };
	struct qga_exec_status st = { 0 };
	const char *env[] = { "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
			      "MSIZE=" "512000", NULL };
	struct qga_exec_request req = { .path = "/bin/sh", .envp = env,
					.capture = QGA_CAPTURE_SEPARATE };
	int64_t pid;
	int r;

	strv_add(&args, "-c");
	strv_add(&args, image_guest_mount_script);
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

int image_guest_run(struct qga *qga, const struct target *t, int out_fd, int err_fd,
		    int64_t deadline, struct qga_exec_status *ret_status, struct error *err)
{
	/* The image's shell, in the shared directory; bash when it has one. */
	const char *argv[] = { "-c",
			       "cd " GUEST_SHARED_PATH " || exit 1; if command -v bash >/dev/null 2>&1; then exec bash -c \"$1\"; else exec sh -c \"$1\"; fi",
			       "vmtest", t->command, NULL };
	const char *env[] = { "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
			      "HOME=/root", "TERM=dumb", NULL };
	struct qga_exec_request req = { .path = "/bin/sh", .argv = argv, .envp = env,
					.capture = QGA_CAPTURE_SEPARATE };
	int64_t pid;
	int r;

	r = qga_exec_start(qga, &req, deadline, &pid, err);
	if (r >= 0)
		r = qga_exec_wait(qga, pid, deadline, ret_status, err);
	if (r < 0)
		return r;
	image_guest_output(out_fd, ret_status->out_data, ret_status->out_len);
	image_guest_output(err_fd, ret_status->err_data, ret_status->err_len);
	return 0;
}
