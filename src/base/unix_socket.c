// SPDX-License-Identifier: MIT
#include "base/unix_socket.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cleanup.h"
#include "base/clock.h"

#define UNIX_SOCKET_RETRY_MS 10

/* The socket is not there yet, or nobody listens on it yet. */
static bool unix_socket_not_yet(int e)
{
	return e == ENOENT || e == ECONNREFUSED || e == EAGAIN || e == EINTR;
}

int unix_socket_connect(const char *path, int64_t deadline, bool nonblock, struct error *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	if (strlen(path) >= sizeof(sa.sun_path))
		return error_set(err, ENAMETOOLONG, "%s: socket path longer than %zu bytes", path,
				 sizeof(sa.sun_path) - 1);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	for (;;) {
		_cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC |
						    (nonblock ? SOCK_NONBLOCK : 0), 0);
		int e;

		if (fd < 0)
			return error_set_errno(err, errno, "socket");
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			return TAKE_FD(fd);
		e = errno;
		if (!unix_socket_not_yet(e))
			return error_set_errno(err, e, "cannot connect to %s", path);
		if (clock_now_ms() >= deadline)
			return error_set_errno(err, e, "cannot connect to %s before the deadline", path);
		clock_sleep(UNIX_SOCKET_RETRY_MS, deadline);
	}
}
