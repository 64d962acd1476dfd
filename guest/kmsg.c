// SPDX-License-Identifier: MIT
#include "kmsg.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "io.h"
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

			io_write_all(kmsg_port, lost, sizeof(lost) - 1);
			continue;
		}
		if (n <= 0)
			return;
		if (io_write_all(kmsg_port, record, (size_t)n) < 0) {
			log_msg("write to the kmsg port: %s", strerror(errno));
			close(kmsg_dev);
			kmsg_dev = -1;
		}
	}
}
