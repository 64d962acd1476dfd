// SPDX-License-Identifier: MIT
#include "output.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "guest_proto.h"

static int64_t output_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

int output_connect(const char *path, int64_t deadline_ms, struct error *err)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };

	if (strlen(path) >= sizeof(addr.sun_path))
		return error_set(err, ENAMETOOLONG, "socket path too long: %s", path);
	strcpy(addr.sun_path, path);
	for (;;) {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (fd < 0)
			return error_set_errno(err, errno, "socket");
		if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0)
			return fd;
		close(fd);
		if ((errno != ENOENT && errno != ECONNREFUSED) || output_now_ms() >= deadline_ms)
			return error_set_errno(err, errno, "connect to %s", path);
		nanosleep(&(struct timespec){ .tv_nsec = 5 * 1000 * 1000 }, NULL);
	}
}

/* Read exactly len bytes, waiting until the deadline. */
static int output_read_exact(int fd, void *buf, size_t len, int64_t deadline_ms, struct error *err)
{
	char *p = buf;

	while (len) {
		int timeout = -1;
		ssize_t n;

		if (deadline_ms >= 0) {
			int64_t left = deadline_ms - output_now_ms();

			if (left <= 0)
				return error_set(err, ETIMEDOUT, "timed out");
			timeout = left > 60000 ? 60000 : (int)left;
		}
		int ready = poll(&(struct pollfd){ .fd = fd, .events = POLLIN }, 1, timeout);

		if (ready < 0 && errno == EINTR)
			continue;
		if (ready < 0)
			return error_set_errno(err, errno, "poll");
		if (ready == 0)
			continue;
		n = read(fd, p, len);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return error_set_errno(err, errno, "read the command's output");
		if (n == 0)
			return error_set(err, EPIPE, "the VM went away while the command ran");
		p += n;
		len -= n;
	}
	return 0;
}

/* A reader that went away (`vmtest ... | head`) is not our failure. */
static void output_write(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		p += n;
		len -= n;
	}
}

int output_relay(int port_fd, uint32_t exec_id, int out_fd, int err_fd, int64_t deadline_ms,
		 struct error *err)
{
	static char data[GUEST_RECORD_MAX_DATA];

	for (;;) {
		uint8_t raw[GUEST_RECORD_HEADER_SIZE];
		struct guest_record_header h;
		int r;

		r = output_read_exact(port_fd, raw, sizeof(raw), deadline_ms, err);
		if (r < 0)
			return r;
		guest_record_decode(raw, &h);
		if (h.len > GUEST_RECORD_MAX_DATA)
			return error_set(err, EPROTO, "bad output record from the guest (%u bytes)", h.len);
		r = output_read_exact(port_fd, data, h.len, deadline_ms, err);
		if (r < 0)
			return r;
		if (h.exec_id != exec_id)
			continue;
		if (h.type == GUEST_RECORD_END)
			return 0;
		if (h.type == GUEST_RECORD_STDOUT)
			output_write(out_fd, data, h.len);
		else if (h.type == GUEST_RECORD_STDERR)
			output_write(err_fd, data, h.len);
	}
}
