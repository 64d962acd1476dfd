// SPDX-License-Identifier: MIT
#include "vm/output.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "guest_proto.h"
#include "io.h"
#include "base/clock.h"
#include "base/terminal.h"
#include "vm/interrupt.h"

void output_spool_dir(int fd, char *where, size_t size)
{
	/* An unlinked file's link reads "/dir/#123 (deleted)". */
	char link[64];
	ssize_t k;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	k = readlink(link, where, size - 1);
	if (k > 0) {
		char *slash;

		where[k] = '\0';
		slash = strrchr(where, '/');
		if (slash)
			*(slash == where ? slash + 1 : slash) = '\0';
	} else {
		snprintf(where, size, "its directory");
	}
}

const char *output_stream_name(int fd, char *buf, size_t size)
{
	if (fd == STDOUT_FILENO)
		return "stdout";
	if (fd == STDERR_FILENO)
		return "stderr";
	snprintf(buf, size, "file descriptor %d", fd);
	return buf;
}

int output_to_user(int fd, const void *buf, size_t len, struct error *err)
{
	char name[32];
	int r;

	if (fd < 0 || !len)
		return 0;
	r = io_write_all(fd, buf, len);
	if (r == -EPIPE && interrupt_signal() == SIGPIPE)
		return error_set(err, EINTR, "interrupted");
	if (r < 0) {
		error_set_errno(err, -r, "cannot write the command's output to %s",
				output_stream_name(fd, name, sizeof(name)));
		err->status = EXIT_STATUS_UNAVAILABLE;
	}
	return r;
}

int output_copy(int fd, const void *buf, size_t len, struct error *err)
{
	const char *p = buf;
	char where[PATH_MAX];
	ssize_t n = 0;
	int saved;

	if (fd < 0)
		return 0;
	while (len) {
		n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		p += n;
		len -= (size_t)n;
	}
	if (!len)
		return 0;
	saved = n == 0 ? ENOSPC : errno;
	output_spool_dir(fd, where, sizeof(where));
	return error_set_errno(err, saved, "cannot keep the command's output in a spool file in %s",
			       where);
}

static int output_send_record(const struct output_relay *r, uint8_t type, const void *data,
			      uint32_t len)
{
	uint8_t header[GUEST_RECORD_HEADER_SIZE];

	guest_record_encode(header, type, r->exec_id, len);
	if (send(r->port_fd, header, sizeof(header), MSG_NOSIGNAL) != sizeof(header) ||
	    (len && send(r->port_fd, data, len, MSG_NOSIGNAL) != (ssize_t)len))
		return -errno;
	return 0;
}

static void output_send_winsize(const struct output_relay *r)
{
	unsigned short rows, cols;
	uint8_t size[4];

	terminal_winch_clear();
	terminal_size(r->tty_fd, &rows, &cols);
	size[0] = (uint8_t)rows;
	size[1] = (uint8_t)(rows >> 8);
	size[2] = (uint8_t)cols;
	size[3] = (uint8_t)(cols >> 8);
	output_send_record(r, GUEST_RECORD_WINSIZE, size, sizeof(size));
}

/* Keystrokes go to the guest as they come; at EOF we stop reading. */
static bool output_forward_input(const struct output_relay *r)
{
	char buf[4096];
	ssize_t n = read(r->in_fd, buf, sizeof(buf));

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return true;
	if (n <= 0)
		return false;
	output_send_record(r, GUEST_RECORD_STDIN, buf, (uint32_t)n);
	return true;
}

/*
 * Handle every whole record in buf: the bytes used, or < 0 with err set.
 * *ret_end tells that the command's END record came.
 */
static ssize_t output_consume(const struct output_relay *r, const uint8_t *buf, size_t len,
			      bool *ret_end, struct error *err)
{
	size_t at = 0;

	*ret_end = false;
	while (len - at >= GUEST_RECORD_HEADER_SIZE) {
		struct guest_record_header h;

		guest_record_decode(buf + at, &h);
		if (h.len > GUEST_RECORD_MAX_DATA)
			return error_set(err, EPROTO, "bad output record from the guest (%u bytes)",
					 h.len);
		if (len - at < GUEST_RECORD_HEADER_SIZE + h.len)
			break;
		at += GUEST_RECORD_HEADER_SIZE;
		if (h.exec_id == r->exec_id) {
			if (h.type == GUEST_RECORD_END) {
				*ret_end = true;
				return (ssize_t)at;
			}
			/* The spool first: it stays whole when the user's stream fails. */
			if (h.type == GUEST_RECORD_STDOUT || h.type == GUEST_RECORD_STDERR) {
				int c = output_copy(r->copy_fd, buf + at, h.len, err);

				output_tell(r->listener, h.type == GUEST_RECORD_STDOUT ? 1 : 2, buf + at,
					    h.len);
				if (c >= 0)
					c = output_to_user(h.type == GUEST_RECORD_STDOUT ? r->out_fd
										       : r->err_fd,
							   buf + at, h.len, err);
				if (c < 0)
					return c;
			}
		}
		at += h.len;
	}
	return (ssize_t)at;
}

void output_tell(const struct output_listener *listener, int stream, const void *buf, size_t len)
{
	if (listener && listener->heard && len)
		listener->heard(listener->data, stream, buf, len);
}

#define OUTPUT_BUF_SIZE (2 * (GUEST_RECORD_HEADER_SIZE + GUEST_RECORD_MAX_DATA))
#define OUTPUT_MAX_WATCH 32

static int output_relay_with(const struct output_relay *r, uint8_t *buf, struct error *err)
{
	size_t have = 0;
	bool input = r->in_fd >= 0, end;

	if (r->winch_fd >= 0)
		output_send_winsize(r);
	for (;;) {
		struct pollfd p[3 + OUTPUT_MAX_WATCH] = {
			{ .fd = r->port_fd, .events = POLLIN },
			{ .fd = input ? r->in_fd : -1, .events = POLLIN },
			{ .fd = r->winch_fd, .events = POLLIN },
		};
		nfds_t n_fds = 3;
		ssize_t n, used;
		int ready;

		for (const int *w = r->watch_fds; w && *w >= 0 && n_fds < ARRAY_SIZE(p); w++)
			p[n_fds++] = (struct pollfd){ .fd = *w, .events = POLLIN };
		ready = clock_poll(p, n_fds, r->deadline, err);
		if (ready < 0)
			return ready;
		for (nfds_t i = 3; i < n_fds; i++)
			if (p[i].revents & POLLIN)
				return error_set(err, ECHILD, "a process the guest depends on exited");
		if (p[2].revents & POLLIN)
			output_send_winsize(r);
		if (p[1].revents & (POLLIN | POLLHUP))
			input = output_forward_input(r);
		if (!(p[0].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		n = read(r->port_fd, buf + have, OUTPUT_BUF_SIZE - have);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return error_set_errno(err, errno, "read the command's output");
		if (n == 0)
			return error_set(err, EPIPE, "the VM went away while the command ran");
		have += (size_t)n;
		used = output_consume(r, buf, have, &end, err);
		if (used < 0)
			return (int)used;
		if (end)
			return 0;
		memmove(buf, buf + used, have - (size_t)used);
		have -= (size_t)used;
	}
}

/* Each relay its own buffer: targets may run in parallel threads. */
int output_relay(const struct output_relay *r, struct error *err)
{
	uint8_t *buf = malloc(OUTPUT_BUF_SIZE);
	int ret;

	if (!buf)
		return error_set(err, ENOMEM, "out of memory");
	ret = output_relay_with(r, buf, err);
	free(buf);
	return ret;
}
