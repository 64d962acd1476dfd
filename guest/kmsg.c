// SPDX-License-Identifier: MIT
#include "kmsg.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

/* The boot's records are some 100 kB; a chatty test's may be more. */
#define KMSG_BUFFER (512 * 1024)
/* A record is at most 1 kB of text, plus its dictionary. */
#define KMSG_RECORD 8192

static int kmsg_port = -1;
static int kmsg_dev = -1;
static char kmsg_buf[KMSG_BUFFER];
static size_t kmsg_len;		/* bytes waiting in kmsg_buf */
static bool kmsg_lost;		/* records overwritten: to be said once there is room */

void kmsg_set_port(int fd)
{
	kmsg_port = fd;
	if (fd >= 0)
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
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

static void kmsg_stop(void)
{
	if (kmsg_dev >= 0)
		close(kmsg_dev);
	kmsg_dev = -1;
	kmsg_len = 0;
}

/* Records into the buffer while they fit. */
static void kmsg_read(void)
{
	static const char lost[] = "vmtest;records lost: the kernel's ring buffer overflowed "
				   "before they were read\n";

	while (kmsg_dev >= 0 && kmsg_len + KMSG_RECORD + sizeof(lost) <= sizeof(kmsg_buf)) {
		ssize_t n;

		if (kmsg_lost) {
			memcpy(kmsg_buf + kmsg_len, lost, sizeof(lost) - 1);
			kmsg_len += sizeof(lost) - 1;
			kmsg_lost = false;
		}
		n = read(kmsg_dev, kmsg_buf + kmsg_len, KMSG_RECORD);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EPIPE) {
			kmsg_lost = true;
			continue;
		}
		if (n <= 0)
			return;
		kmsg_len += (size_t)n;
	}
}

/* What the port takes now; a port that is gone ends the forwarding, silently
 * (the guest powering off under the command: the console's last words are
 * the host's explanation). */
static void kmsg_send(void)
{
	while (kmsg_len) {
		ssize_t n = write(kmsg_port, kmsg_buf, kmsg_len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == ENOSPC))
			return;
		if (n <= 0) {
			kmsg_stop();
			return;
		}
		memmove(kmsg_buf, kmsg_buf + n, kmsg_len - (size_t)n);
		kmsg_len -= (size_t)n;
	}
}

void kmsg_pollfds(struct pollfd *p)
{
	bool room = kmsg_len + 2 * KMSG_RECORD <= sizeof(kmsg_buf);

	p[0] = (struct pollfd){ .fd = kmsg_dev >= 0 && room ? kmsg_dev : -1, .events = POLLIN };
	p[1] = (struct pollfd){ .fd = kmsg_dev >= 0 && kmsg_len ? kmsg_port : -1,
				.events = POLLOUT };
}

void kmsg_handle(const struct pollfd *p)
{
	if (p[0].revents & POLLIN)
		kmsg_read();
	if (kmsg_len && (p[1].revents & (POLLOUT | POLLERR | POLLHUP) || p[0].revents & POLLIN))
		kmsg_send();
}

void kmsg_drain(int timeout_ms)
{
	struct timespec start, now;

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		struct pollfd p[2];
		long waited;

		kmsg_read();
		kmsg_send();
		if (kmsg_dev < 0 || !kmsg_len)
			return;
		clock_gettime(CLOCK_MONOTONIC, &now);
		waited = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
		if (waited >= timeout_ms)
			return;
		kmsg_pollfds(p);
		poll(p + 1, 1, (int)(timeout_ms - waited));
	}
}
