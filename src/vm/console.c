// SPDX-License-Identifier: MIT
#include "vm/console.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cleanup.h"

#define CONSOLE_KEEP (256 * 1024)
#define CONSOLE_PANIC "Kernel panic"
/* The most of a panic's line that an error message carries. */
#define CONSOLE_PANIC_LINE_MAX 512

struct console {
	int listen_fd;
	int stop_fd;		/* eventfd: the main thread wants us to end */
	int log_fd;
	int log_errno;		/* why the spool stopped taking the console, or 0 */
	bool stopped;		/* the thread is joined */
	pthread_t thread;
	pthread_mutex_t lock;
	char *keep;		/* the last CONSOLE_KEEP bytes */
	size_t keep_len;
	bool panic_seen;	/* "Kernel panic" has been on the console */
};

/* The console's bytes into the ring; whether "Kernel panic" came, even
 * across two reads. */
static void console_keep(struct console *c, const char *data, size_t len)
{
	size_t plen = strlen(CONSOLE_PANIC), from;

	pthread_mutex_lock(&c->lock);
	if (len > CONSOLE_KEEP) {
		data += len - CONSOLE_KEEP;
		len = CONSOLE_KEEP;
	}
	if (c->keep_len + len > CONSOLE_KEEP) {
		size_t drop = c->keep_len + len - CONSOLE_KEEP;

		memmove(c->keep, c->keep + drop, c->keep_len - drop);
		c->keep_len -= drop;
	}
	from = c->keep_len > plen - 1 ? c->keep_len - (plen - 1) : 0;
	memcpy(c->keep + c->keep_len, data, len);
	c->keep_len += len;
	if (!c->panic_seen)
		c->panic_seen = memmem(c->keep + from, c->keep_len - from, CONSOLE_PANIC, plen) != NULL;
	pthread_mutex_unlock(&c->lock);
}

void console_feed(struct console *c, const char *data, size_t len)
{
	console_keep(c, data, len);
}

/* Wait for fd or for the stop request; false when asked to stop. */
static bool console_wait(struct console *c, int fd)
{
	struct pollfd p[2] = { { .fd = fd, .events = POLLIN }, { .fd = c->stop_fd, .events = POLLIN } };

	while (poll(p, 2, -1) < 0)
		if (errno != EINTR)
			return false;
	return !(p[1].revents & POLLIN) || (p[0].revents & POLLIN);
}

static void *console_thread(void *arg)
{
	struct console *c = arg;
	char buf[16384];
	int fd;

	if (!console_wait(c, c->listen_fd))
		return NULL;
	fd = accept4(c->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return NULL;
	while (console_wait(c, fd)) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		errno = 0;
		if (c->log_fd >= 0 && write(c->log_fd, buf, n) != n) {
			/* A short write is a full file system, as for the command's output. */
			pthread_mutex_lock(&c->lock);
			c->log_errno = errno ? errno : ENOSPC;
			pthread_mutex_unlock(&c->lock);
			close(c->log_fd);
			c->log_fd = -1;
		}
		console_keep(c, buf, n);
	}
	close(fd);
	return NULL;
}

static int console_listen(const char *path, struct error *err)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(addr.sun_path))
		return error_set(err, ENAMETOOLONG, "socket path too long (%zu bytes, at most %zu): %s",
				 strlen(path), sizeof(addr.sun_path) - 1, path);
	strcpy(addr.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return error_set_errno(err, errno, "socket");
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(fd, 1) < 0) {
		int e = errno;

		close(fd);
		return error_set_errno(err, e, "listen on %s", path);
	}
	return fd;
}

struct console *console_new_unattached(void)
{
	struct console *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->listen_fd = c->stop_fd = c->log_fd = -1;
	c->stopped = true;
	pthread_mutex_init(&c->lock, NULL);
	c->keep = malloc(CONSOLE_KEEP);
	if (!c->keep) {
		free(c);
		return NULL;
	}
	return c;
}

int console_start(const char *socket_path, int log_fd, struct console **ret,
		  struct error *err)
{
	struct console *c = calloc(1, sizeof(*c));
	int r;

	if (!c)
		return error_set(err, ENOMEM, "out of memory");
	c->stop_fd = c->log_fd = -1;
	pthread_mutex_init(&c->lock, NULL);
	c->keep = malloc(CONSOLE_KEEP);
	c->listen_fd = console_listen(socket_path, err);
	if (c->listen_fd < 0 || !c->keep) {
		r = c->listen_fd < 0 ? c->listen_fd : error_set(err, ENOMEM, "out of memory");
		goto fail;
	}
	c->stop_fd = eventfd(0, EFD_CLOEXEC);
	c->log_fd = fcntl(log_fd, F_DUPFD_CLOEXEC, 3);
	if (c->stop_fd < 0 || c->log_fd < 0) {
		r = error_set_errno(err, errno, "start the console");
		goto fail;
	}
	r = -pthread_create(&c->thread, NULL, console_thread, c);
	if (r < 0) {
		error_set_errno(err, -r, "start the console thread");
		goto fail;
	}
	*ret = c;
	return 0;
fail:
	if (c->listen_fd >= 0)
		close(c->listen_fd);
	if (c->stop_fd >= 0)
		close(c->stop_fd);
	if (c->log_fd >= 0)
		close(c->log_fd);
	free(c->keep);
	free(c);
	return r;
}

int console_stop(struct console *c)
{
	uint64_t one = 1;

	if (!c->stopped) {
		if (write(c->stop_fd, &one, sizeof(one)) < 0)
			pthread_cancel(c->thread);
		pthread_join(c->thread, NULL);
		c->stopped = true;
	}
	return c->log_errno;
}

struct console *console_free(struct console *c)
{
	if (!c)
		return NULL;
	console_stop(c);
	if (c->listen_fd >= 0)
		close(c->listen_fd);
	if (c->stop_fd >= 0)
		close(c->stop_fd);
	if (c->log_fd >= 0)
		close(c->log_fd);
	pthread_mutex_destroy(&c->lock);
	free(c->keep);
	free(c);
	return NULL;
}

bool console_spool_whole(struct console *c)
{
	bool whole;

	pthread_mutex_lock(&c->lock);
	whole = c->log_errno == 0;
	pthread_mutex_unlock(&c->lock);
	return whole;
}

bool console_panicked(struct console *c)
{
	bool panicked;

	pthread_mutex_lock(&c->lock);
	panicked = c->panic_seen;
	pthread_mutex_unlock(&c->lock);
	return panicked;
}

/* The last line holding "Kernel panic", from those words to its end. */
char *console_panic_line(struct console *c)
{
	size_t plen = strlen(CONSOLE_PANIC), len;
	const char *hit = NULL, *p, *end;
	char *out = NULL;

	pthread_mutex_lock(&c->lock);
	end = c->keep + c->keep_len;
	for (p = c->keep; p < end;) {
		const char *next = memmem(p, (size_t)(end - p), CONSOLE_PANIC, plen);

		if (!next)
			break;
		hit = next;
		p = next + plen;
	}
	if (hit) {
		len = (size_t)(end - hit) < CONSOLE_PANIC_LINE_MAX ? (size_t)(end - hit)
								     : CONSOLE_PANIC_LINE_MAX;
		for (size_t i = 0; i < len; i++)
			if (hit[i] == '\n' || hit[i] == '\r' || hit[i] == '\0') {
				len = i;
				break;
			}
		out = strndup(hit, len);
	}
	pthread_mutex_unlock(&c->lock);
	return out;
}

char *console_lines_with(struct console *c, const char *prefix)
{
	size_t plen = strlen(prefix), used = 0;
	char *out = NULL;
	const char *p, *end;

	pthread_mutex_lock(&c->lock);
	p = c->keep;
	end = c->keep + c->keep_len;
	while (p < end) {
		const char *hit = memmem(p, end - p, prefix, plen), *eol;
		size_t len;
		char *grown;

		if (!hit)
			break;
		hit += plen;
		eol = memchr(hit, '\n', end - hit);
		if (!eol)
			eol = end;
		len = eol - hit;
		while (len && hit[len - 1] == '\r')
			len--;
		grown = realloc(out, used + len + 3);
		if (!grown)
			break;
		out = grown;
		if (used) {
			memcpy(out + used, "; ", 2);
			used += 2;
		}
		memcpy(out + used, hit, len);
		used += len;
		out[used] = '\0';
		p = eol;
	}
	pthread_mutex_unlock(&c->lock);
	return out;
}
