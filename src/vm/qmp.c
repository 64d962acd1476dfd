// SPDX-License-Identifier: MIT
#include "vm/qmp.h"

#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "cleanup.h"

/* QEMU's replies are small, query-qmp-schema the biggest (under 1 MiB). */
#define QMP_MAX_MESSAGE (16u << 20)

struct qmp {
	struct json_io io;
	int64_t next_id;
	unsigned seen;		/* 1 << enum qmp_event, for each seen */
	qmp_event_fn on_event;
	void *userdata;
	int version;
};

static const struct {
	const char *name;
	enum qmp_event event;
} qmp_events[] = {
	{ "SHUTDOWN", QMP_EVENT_SHUTDOWN },
	{ "GUEST_PANICKED", QMP_EVENT_GUEST_PANICKED },
	{ "STOP", QMP_EVENT_STOP },
	{ "RESET", QMP_EVENT_RESET },
	{ "DUMP_COMPLETED", QMP_EVENT_DUMP_COMPLETED },
};

static enum qmp_event qmp_event_from_name(const char *name)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(qmp_events); i++)
		if (strcmp(qmp_events[i].name, name) == 0)
			return qmp_events[i].event;
	return QMP_EVENT_OTHER;
}

struct qmp *qmp_free(struct qmp *qmp)
{
	if (qmp) {
		json_io_close(&qmp->io);
		free(qmp);
	}
	return NULL;
}

void qmp_on_event(struct qmp *qmp, qmp_event_fn fn, void *userdata)
{
	qmp->on_event = fn;
	qmp->userdata = userdata;
}

void qmp_event_handler(const struct qmp *qmp, qmp_event_fn *ret_fn, void **ret_userdata)
{
	*ret_fn = qmp->on_event;
	*ret_userdata = qmp->userdata;
}

bool qmp_event_seen(const struct qmp *qmp, enum qmp_event event)
{
	return qmp->seen & (1u << event);
}

int qmp_version(const struct qmp *qmp)
{
	return qmp->version;
}

/* An event: remember it and hand it on; 1 when msg was one. */
static int qmp_handle_event(struct qmp *qmp, const struct json_value *msg)
{
	const char *name = json_io_get_string(msg, "event");
	enum qmp_event event;

	if (!name)
		return 0;
	event = qmp_event_from_name(name);
	qmp->seen |= 1u << event;
	if (qmp->on_event)
		qmp->on_event(event, name, json_io_get(msg, "data"), qmp->userdata);
	return 1;
}

/* The next message that is not an event. */
static int qmp_recv(struct qmp *qmp, int64_t deadline, struct json_value **ret,
		    struct error *err)
{
	for (;;) {
		_cleanup_json_ struct json_value *msg = NULL;
		int r = json_io_recv(&qmp->io, deadline, &msg, err);

		if (r < 0)
			return r;
		if (!qmp_handle_event(qmp, msg)) {
			*ret = TAKE_PTR(msg);
			return 0;
		}
	}
}

/* Wait for the reply with this id; others answer commands that timed out. */
static int qmp_await(struct qmp *qmp, int64_t id, int64_t deadline,
		     struct json_value **ret_return, struct error *err)
{
	for (;;) {
		_cleanup_json_ struct json_value *reply = NULL;
		int64_t got;
		int r = qmp_recv(qmp, deadline, &reply, err);

		if (r < 0)
			return r;
		if (json_io_get_int(reply, "id", &got) && got == id)
			return json_io_command_result(reply, ret_return, err);
	}
}

int qmp_execute(struct qmp *qmp, const char *command, const struct json_value *args,
		int64_t deadline, struct json_value **ret_return, struct error *err)
{
	int64_t id = qmp->next_id++;
	int r;

	r = json_io_send_command(&qmp->io, command, args, id, deadline, err);
	if (r >= 0)
		r = qmp_await(qmp, id, deadline, ret_return, err);
	if (r < 0)
		return error_prefix(err, "QMP command '%s'", command);
	return 0;
}

int qmp_getfd(struct qmp *qmp, const char *name, int fd, int64_t deadline, struct error *err)
{
	int64_t id = qmp->next_id++;
	char line[256];
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} control = { 0 };
	struct iovec iov;
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
			      .msg_controllen = sizeof(control.buf) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	int n = snprintf(line, sizeof(line),
			 "{\"execute\": \"getfd\", \"arguments\": {\"fdname\": \"%s\"}, "
			 "\"id\": %lld}\n", name, (long long)id);
	int r = 0;

	if (n < 0 || (size_t)n >= sizeof(line) || strpbrk(name, "\"\\"))
		return error_set(err, EINVAL, "QMP getfd: a bad name");
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	iov = (struct iovec){ line, (size_t)n };
	/* The descriptor goes with the first byte; what is left, as usual. */
	for (;;) {
		ssize_t sent = sendmsg(qmp->io.fd, &msg, MSG_NOSIGNAL);

		if (sent < 0 && errno == EINTR)
			continue;
		if (sent < 0 && errno == EAGAIN && clock_now_ms() < deadline) {
			clock_sleep(5, deadline);
			continue;
		}
		if (sent < 0)
			return error_set(err, errno, "QMP getfd: %s", strerror(errno));
		if (sent < n)
			r = json_io_send_bytes(&qmp->io, line + sent, (size_t)(n - sent), deadline, err);
		break;
	}
	if (r >= 0)
		r = qmp_await(qmp, id, deadline, NULL, err);
	return r < 0 ? error_prefix(err, "QMP command 'getfd'") : 0;
}

/* {"QMP": {"version": {"qemu": {"major": 7, "minor": 2, "micro": 0}, ...}}} */
static int qmp_read_greeting(struct qmp *qmp, int64_t deadline, struct error *err)
{
	_cleanup_json_ struct json_value *msg = NULL;
	struct json_value *qemu;
	int64_t major = 0, minor = 0, micro = 0;
	int r;

	r = qmp_recv(qmp, deadline, &msg, err);
	if (r < 0)
		return error_prefix(err, "no greeting from QEMU");
	if (!json_io_get(msg, "QMP"))
		return error_set(err, EPROTO, "the peer is not QMP: it did not greet with \"QMP\"");
	qemu = json_io_get(json_io_get(json_io_get(msg, "QMP"), "version"), "qemu");
	json_io_get_int(qemu, "major", &major);
	json_io_get_int(qemu, "minor", &minor);
	json_io_get_int(qemu, "micro", &micro);
	qmp->version = (int)(major * 10000 + minor * 100 + micro);
	return 0;
}

int qmp_connect(const char *path, int64_t deadline, struct qmp **ret, struct error *err)
{
	_cleanup_qmp_ struct qmp *qmp = calloc(1, sizeof(*qmp));
	int r;

	if (!qmp)
		return error_set(err, ENOMEM, "out of memory");
	qmp->io.fd = -1;
	qmp->next_id = 1;
	r = json_io_connect(&qmp->io, path, QMP_MAX_MESSAGE, deadline, err);
	qmp->io.peer = "QEMU";
	if (r >= 0)
		r = qmp_read_greeting(qmp, deadline, err);
	if (r >= 0)
		r = qmp_execute(qmp, "qmp_capabilities", NULL, deadline, NULL, err);
	if (r < 0)
		return error_prefix(err, "QMP %s", path);
	*ret = TAKE_PTR(qmp);
	return 0;
}

int qmp_fd(const struct qmp *qmp)
{
	return qmp->io.fd;
}

int qmp_pump(struct qmp *qmp, struct error *err)
{
	for (;;) {
		_cleanup_json_ struct json_value *msg = NULL;
		/* A deadline already past: what has come, and no wait. */
		int r = json_io_recv(&qmp->io, clock_now_ms(), &msg, err);

		if (r == -ETIMEDOUT)
			return 0;
		if (r < 0)
			return r;
		qmp_handle_event(qmp, msg);
	}
}

int qmp_wait_event(struct qmp *qmp, enum qmp_event event, int64_t deadline,
		   struct error *err)
{
	/* Message by message: qmp_recv would hold on to the next reply, and
	 * none may come.  A late reply to a command that timed out is dropped. */
	while (!qmp_event_seen(qmp, event)) {
		_cleanup_json_ struct json_value *msg = NULL;
		int r = json_io_recv(&qmp->io, deadline, &msg, err);

		if (r < 0)
			return error_prefix(err, "waiting for a QMP event");
		qmp_handle_event(qmp, msg);
	}
	return 0;
}

/* After quit, QEMU closes the socket as it exits; wait for that. */
static int qmp_wait_close(struct qmp *qmp, int64_t deadline, struct error *err)
{
	for (;;) {
		_cleanup_json_ struct json_value *msg = NULL;
		int r = qmp_recv(qmp, deadline, &msg, err);

		if (r == -ECONNRESET)
			return 0;
		if (r < 0)
			return r;
	}
}

int qmp_quit(struct qmp *qmp, int64_t deadline, struct error *err)
{
	int64_t id = qmp->next_id++;
	int r;

	r = json_io_send_command(&qmp->io, "quit", NULL, id, deadline, err);
	if (r >= 0)
		r = qmp_await(qmp, id, deadline, NULL, err);
	if (r >= 0 || r == -ECONNRESET)
		r = qmp_wait_close(qmp, deadline, err);
	if (r < 0)
		return error_prefix(err, "QMP command 'quit'");
	return 0;
}
