// SPDX-License-Identifier: MIT
#include "kmsg.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

static int kmsg_port = -1;
static int kmsg_dev = -1;

void kmsg_set_port(int fd)
{
	kmsg_port = fd;
}

void kmsg_start(void)
{
	if (kmsg_port < 0 || kmsg_dev >= 0)
		return;
	kmsg_dev = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (kmsg_dev < 0)
		log_msg("open /dev/kmsg: %s: kernel warnings will not reach the host",
			strerror(errno));
}

int kmsg_fd(void)
{
	return kmsg_dev;
}

/*
 * One record to the port.  A port whose queue is full (a burst: the whole
 * boot log at the set-up, under a loaded host) says EAGAIN even when
 * blocking: wait for room, a while.  0, or -1 when the port is gone (the
 * guest powering off under the command: nothing to say then, as the
 * console's last words are the host's explanation).
 */
static int kmsg_send(const char *buf, size_t len)
{
	int waited_ms = 0;

	while (len) {
		ssize_t n = write(kmsg_port, buf, len);

		if (n > 0) {
			buf += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == ENOSPC) && waited_ms < 5000) {
			poll(&(struct pollfd){ .fd = kmsg_port, .events = POLLOUT }, 1, 50);
			waited_ms += 50;
			continue;
		}
		return -1;
	}
	return 0;
}

void kmsg_forward(void)
{
	/* A record is at most 1 kB of text, plus its dictionary. */
	char record[8192];

	while (kmsg_dev >= 0) {
		ssize_t n = read(kmsg_dev, record, sizeof(record));

		if (n < 0 && errno == EINTR)
			continue;
		/* Records overwritten before they were read: say so in-band, go on. */
		if (n < 0 && errno == EPIPE) {
			static const char lost[] = "vmtest;records lost: the kernel's ring buffer "
						   "overflowed before they were read\n";

			if (kmsg_send(lost, sizeof(lost) - 1) < 0)
				break;
			continue;
		}
		if (n <= 0)
			return;
		if (kmsg_send(record, (size_t)n) < 0)
			break;
	}
	/* The port is gone: stop reading. */
	if (kmsg_dev >= 0)
		close(kmsg_dev);
	kmsg_dev = -1;
}
