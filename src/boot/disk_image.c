// SPDX-License-Identifier: MIT
#include "boot/disk_image.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"

/* Magic bytes at an offset, per format.  A sparse VMDK starts "KDMV"; a
 * monolithic VMDK descriptor (what OVA exports hold) is text. */
static const struct {
	enum disk_format format;
	size_t offset;
	const char *magic;
	size_t len;
} disk_magics[] = {
	{ DISK_QCOW2, 0, "QFI\xfb", 4 },
	{ DISK_QED, 0, "QED\0", 4 },
	{ DISK_VMDK, 0, "KDMV", 4 },
	{ DISK_VMDK, 0, "# Disk DescriptorFile", 21 },
	{ DISK_VHDX, 0, "vhdxfile", 8 },
	{ DISK_VDI, 0x40, "\x7f\x10\xda\xbe", 4 },
};

const char *disk_format_name(enum disk_format format)
{
	static const char *const names[] = {
		[DISK_RAW] = "raw", [DISK_QCOW2] = "qcow2", [DISK_VMDK] = "vmdk",
		[DISK_VDI] = "vdi", [DISK_VHDX] = "vhdx",   [DISK_QED] = "qed",
	};

	return names[format];
}

enum disk_format disk_image_detect_bytes(const unsigned char *buf, size_t len)
{
	for (size_t i = 0; i < ARRAY_SIZE(disk_magics); i++) {
		size_t end = disk_magics[i].offset + disk_magics[i].len;

		if (len >= end &&
		    memcmp(buf + disk_magics[i].offset, disk_magics[i].magic, disk_magics[i].len) == 0)
			return disk_magics[i].format;
	}
	return DISK_RAW;
}

int disk_image_detect(const char *path, enum disk_format *ret_format, struct error *err)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	unsigned char buf[512];
	ssize_t n;

	if (fd < 0)
		return error_set_errno(err, errno, "%s", path);
	do
		n = pread(fd, buf, sizeof(buf), 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return error_set_errno(err, errno, "read %s", path);
	if (n == 0)
		return error_set(err, EINVAL, "%s: the image is empty", path);
	*ret_format = disk_image_detect_bytes(buf, (size_t)n);
	return 0;
}

int disk_image_layer_create(const char *qemu_img, const char *image, enum disk_format format,
			    const char *layer, struct error *err)
{
	char backing[PATH_MAX], said[1024];
	const char *argv[] = { qemu_img, "create", "-q", "-f", "qcow2", "-F",
			       disk_format_name(format), "-b", backing, layer, NULL };
	posix_spawn_file_actions_t actions;
	int pipe_fds[2], status = 0, r;
	size_t len = 0;
	ssize_t n;
	pid_t pid;

	if (!realpath(image, backing))
		return error_set_errno(err, errno, "%s", image);
	if (pipe2(pipe_fds, O_CLOEXEC) < 0)
		return error_set_errno(err, errno, "pipe");
	/* Its words on stderr (and stdout) come back for the error. */
	posix_spawn_file_actions_init(&actions);
	posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
	posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDERR_FILENO);
	unlink(layer);
	r = posix_spawn(&pid, qemu_img, &actions, NULL, (char *const *)argv, NULL);
	posix_spawn_file_actions_destroy(&actions);
	close(pipe_fds[1]);
	if (r != 0) {
		close(pipe_fds[0]);
		return error_set_errno(err, r, "run %s", qemu_img);
	}
	/* Read to the end, keeping the start: a full pipe would stall it. */
	for (char buf[4096]; (n = read(pipe_fds[0], buf, sizeof(buf))) != 0;) {
		size_t keep;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		keep = (size_t)n < sizeof(said) - 1 - len ? (size_t)n : sizeof(said) - 1 - len;
		memcpy(said + len, buf, keep);
		len += keep;
	}
	said[len] = '\0';
	close(pipe_fds[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	said[strcspn(said, "\n")] = '\0';
	return error_set(err, EIO, "%s could not make a disk layer over %s: %s", qemu_img, image,
			 said[0] ? said : "it failed without a word");
}
