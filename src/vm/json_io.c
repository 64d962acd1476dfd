// SPDX-License-Identifier: MIT
#include "base/clock.h"
#include "base/unix_socket.h"
#include "base/utf8.h"
#include "vm/json_io.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define JSON_IO_MIN_BUF 4096
/* A buffer grown for one big message is given back above this. */
#define JSON_IO_KEEP_BUF (64 * 1024)

/* struct json_value is jansson's json_t under a name of ours. */
static json_t *json_io_j(const struct json_value *v)
{
	return (json_t *)v;
}

static struct json_value *json_io_v(json_t *j)
{
	return (struct json_value *)j;
}

static const char *json_io_peer(const struct json_io *io)
{
	return io->peer ? io->peer : "the peer";
}

/* Wait for events on the socket; a spurious wake-up is the caller's to retry. */
static int json_io_wait(struct json_io *io, short events, int64_t deadline, struct error *err)
{
	struct pollfd p = { .fd = io->fd, .events = events };
	int r = clock_poll(&p, 1, deadline, err);

	if (r == -ETIMEDOUT)
		return error_set(err, ETIMEDOUT, "timed out waiting %s %s",
				 events == POLLOUT ? "to write to" : "for", json_io_peer(io));
	return r < 0 ? r : 0;
}

int json_io_open_fd(struct json_io *io, int fd, size_t max, struct error *err)
{
	int flags;

	*io = (struct json_io){ .fd = fd, .max = max };
	flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
		int e = errno;

		json_io_close(io);
		return error_set_errno(err, e, "cannot set up the socket");
	}
	return 0;
}

int json_io_connect(struct json_io *io, const char *path, size_t max, int64_t deadline,
		    struct error *err)
{
	int fd = unix_socket_connect(path, deadline, true, err);

	return fd < 0 ? fd : json_io_open_fd(io, fd, max, err);
}

void json_io_close(struct json_io *io)
{
	if (io->fd >= 0)
		close(io->fd);
	free(io->buf);
	*io = (struct json_io){ .fd = -1 };
}

int json_io_send_bytes(struct json_io *io, const void *buf, size_t n, int64_t deadline,
		       struct error *err)
{
	const char *p = buf;
	ssize_t w;
	int r;

	while (n > 0) {
		w = send(io->fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w >= 0) {
			p += w;
			n -= w;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno == EPIPE || errno == ECONNRESET)
			return error_set(err, ECONNRESET, "connection closed by %s", json_io_peer(io));
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return error_set_errno(err, errno, "send");
		r = json_io_wait(io, POLLOUT, deadline, err);
		if (r < 0)
			return r;
	}
	return 0;
}

int json_io_send(struct json_io *io, const struct json_value *msg, int64_t deadline,
		 struct error *err)
{
	_cleanup_free_ char *text = json_dumps(json_io_j(msg), JSON_COMPACT);
	size_t n;

	if (!text)
		return error_set(err, ENOMEM, "cannot encode the request");
	/* A newline ends each request: agents that read lines need it. */
	n = strlen(text);
	text[n] = '\n';
	return json_io_send_bytes(io, text, n + 1, deadline, err);
}

static void json_io_scan_reset(struct json_io *io)
{
	io->scan_pos = 0;
	io->depth = 0;
	io->in_string = false;
	io->escape = false;
}

/* Drop n bytes from the front of the buffer. */
static void json_io_consume(struct json_io *io, size_t n)
{
	memmove(io->buf, io->buf + n, io->len - n);
	io->len -= n;
	json_io_scan_reset(io);
	if (io->cap > JSON_IO_KEEP_BUF && io->len <= JSON_IO_KEEP_BUF) {
		char *small = realloc(io->buf, JSON_IO_KEEP_BUF);

		if (small) {
			io->buf = small;
			io->cap = JSON_IO_KEEP_BUF;
		}
	}
}

/* Room for more input, doubling up to the cap. */
static int json_io_reserve(struct json_io *io, struct error *err)
{
	size_t cap = io->cap ? io->cap : JSON_IO_MIN_BUF;
	char *buf;

	if (io->len < io->cap)
		return 0;
	while (cap <= io->len)
		cap *= 2;
	if (cap > io->max)
		cap = io->max;
	buf = realloc(io->buf, cap);
	if (!buf)
		return error_set(err, ENOMEM, "out of memory");
	io->buf = buf;
	io->cap = cap;
	return 0;
}

/* Read what the peer has sent, waiting for something until deadline. */
static int json_io_fill(struct json_io *io, int64_t deadline, struct error *err)
{
	ssize_t n;
	int r;

	if (io->len >= io->max)
		return error_set(err, EMSGSIZE, "a message from %s longer than %zu bytes",
				 json_io_peer(io), io->max);
	r = json_io_reserve(io, err);
	if (r < 0)
		return r;
	for (;;) {
		n = read(io->fd, io->buf + io->len, io->cap - io->len);
		if (n > 0) {
			io->len += n;
			return 0;
		}
		if (n == 0 && io->len > 0)
			return error_set(err, ECONNRESET,
					 "connection closed by %s in the middle of a message (%zu bytes)",
					 json_io_peer(io), io->len);
		if (n == 0 || errno == ECONNRESET)
			return error_set(err, ECONNRESET, "connection closed by %s", json_io_peer(io));
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return error_set_errno(err, errno, "read");
		r = json_io_wait(io, POLLIN, deadline, err);
		if (r < 0)
			return r;
	}
}

static bool json_io_is_separator(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == 0xff;
}

/* Drop whitespace and QGA delimiters before a message; then it must be an object. */
static int json_io_scan_start(struct json_io *io, struct error *err)
{
	size_t i = 0;

	while (i < io->len && json_io_is_separator(io->buf[i]))
		i++;
	if (i > 0)
		json_io_consume(io, i);
	if (io->len > 0 && io->buf[0] != '{')
		return error_set(err, EPROTO, "expected a JSON object from %s, got byte 0x%02x",
				 json_io_peer(io), (unsigned char)io->buf[0]);
	return 0;
}

/*
 * Where the object at the front of the buffer ends: 1 and *ret_end when it
 * is complete, 0 when more is needed.  Only brackets outside strings count,
 * so the scan keeps its state between reads and never looks at a byte twice.
 */
static int json_io_scan(struct json_io *io, size_t *ret_end, struct error *err)
{
	size_t i;
	int r;

	if (io->scan_pos == 0) {
		r = json_io_scan_start(io, err);
		if (r < 0)
			return r;
	}
	for (i = io->scan_pos; i < io->len; i++) {
		char c = io->buf[i];

		if (io->in_string) {
			if (io->escape)
				io->escape = false;
			else if (c == '\\')
				io->escape = true;
			else if (c == '"')
				io->in_string = false;
			continue;
		}
		if (c == '"') {
			io->in_string = true;
		} else if (c == '{' || c == '[') {
			io->depth++;
		} else if ((c == '}' || c == ']') && --io->depth == 0) {
			*ret_end = i + 1;
			return 1;
		}
	}
	io->scan_pos = io->len;
	return 0;
}

static int json_io_parse(struct json_io *io, size_t end, struct json_value **ret,
			 struct error *err)
{
	json_error_t jerr;
	json_t *v = json_loadb(io->buf, end, 0, &jerr);

	json_io_consume(io, end);
	if (!v)
		return error_set(err, EPROTO, "invalid JSON from %s: %s", json_io_peer(io), jerr.text);
	*ret = json_io_v(v);
	return 0;
}

int json_io_recv(struct json_io *io, int64_t deadline, struct json_value **ret,
		 struct error *err)
{
	size_t end;
	int r;

	for (;;) {
		r = json_io_scan(io, &end, err);
		if (r < 0)
			return r;
		if (r > 0)
			return json_io_parse(io, end, ret, err);
		r = json_io_fill(io, deadline, err);
		if (r < 0)
			return r;
	}
}

int json_io_skip_past(struct json_io *io, unsigned char delim, int64_t deadline,
		      struct error *err)
{
	char *p;
	int r;

	json_io_scan_reset(io);
	for (;;) {
		p = io->len ? memchr(io->buf, delim, io->len) : NULL;
		if (p) {
			json_io_consume(io, p - io->buf + 1);
			return 0;
		}
		io->len = 0;
		r = json_io_fill(io, deadline, err);
		if (r < 0)
			return r;
	}
}

struct json_value *json_io_ref(struct json_value *v)
{
	return json_io_v(json_incref(json_io_j(v)));
}

struct json_value *json_io_unref(struct json_value *v)
{
	json_decref(json_io_j(v));
	return NULL;
}

bool json_io_is_object(const struct json_value *v)
{
	return json_is_object(json_io_j(v));
}

bool json_io_utf8_valid(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		uint32_t c;
		int n = utf8_decode(p, 4, &c);

		if (n <= 0)
			return false;
		p += n;
	}
	return true;
}

struct json_value *json_io_get(const struct json_value *v, const char *key)
{
	return json_io_v(json_object_get(json_io_j(v), key));
}

const char *json_io_get_string(const struct json_value *v, const char *key)
{
	return json_string_value(json_object_get(json_io_j(v), key));
}

struct json_value *json_io_parse_text(const char *text, size_t len)
{
	json_error_t jerr;

	return json_io_v(json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr));
}

bool json_io_get_real(const struct json_value *v, const char *key, double *ret)
{
	json_t *m = json_object_get(json_io_j(v), key);

	if (!json_is_number(m))
		return false;
	*ret = json_number_value(m);
	return true;
}

size_t json_io_string_len(const struct json_value *v, const char *key)
{
	json_t *m = json_object_get(json_io_j(v), key);

	return json_is_string(m) ? json_string_length(m) : 0;
}

bool json_io_get_int(const struct json_value *v, const char *key, int64_t *ret)
{
	json_t *m = json_object_get(json_io_j(v), key);

	if (!json_is_integer(m))
		return false;
	*ret = json_integer_value(m);
	return true;
}

bool json_io_get_bool(const struct json_value *v, const char *key, bool def)
{
	json_t *m = json_object_get(json_io_j(v), key);

	return json_is_boolean(m) ? json_is_true(m) : def;
}

size_t json_io_array_len(const struct json_value *v)
{
	return json_array_size(json_io_j(v));
}

struct json_value *json_io_array_get(const struct json_value *v, size_t i)
{
	return (struct json_value *)json_array_get(json_io_j(v), i);
}

char *json_io_dump(const struct json_value *v)
{
	return json_dumps(json_io_j(v), JSON_COMPACT | JSON_ENCODE_ANY);
}

char *json_io_dump_pretty(const struct json_value *v)
{
	char *text = json_dumps(json_io_j(v), JSON_INDENT(2) | JSON_REAL_PRECISION(6));
	char *with_newline = NULL;

	if (text && asprintf(&with_newline, "%s\n", text) < 0)
		with_newline = NULL;
	free(text);
	return with_newline;
}

struct json_value *json_io_new_object(void)
{
	return json_io_v(json_object());
}

struct json_value *json_io_new_array(void)
{
	return json_io_v(json_array());
}

int json_io_set(struct json_value *obj, const char *key, struct json_value *steal)
{
	if (!steal || json_object_set_new(json_io_j(obj), key, json_io_j(steal)) < 0)
		return -ENOMEM;
	return 0;
}

int json_io_set_string(struct json_value *obj, const char *key, const char *s)
{
	if (!json_io_utf8_valid(s))
		return -EILSEQ;
	return json_io_set(obj, key, json_io_v(json_string(s)));
}

int json_io_set_int(struct json_value *obj, const char *key, int64_t n)
{
	return json_io_set(obj, key, json_io_v(json_integer(n)));
}

int json_io_set_bool(struct json_value *obj, const char *key, bool b)
{
	return json_io_set(obj, key, json_io_v(json_boolean(b)));
}

int json_io_set_real(struct json_value *obj, const char *key, double d)
{
	return json_io_set(obj, key, json_io_v(json_real(d)));
}

struct json_value *json_io_new_null(void)
{
	return json_io_v(json_null());
}

int json_io_append_string(struct json_value *arr, const char *s)
{
	if (!json_io_utf8_valid(s))
		return -EILSEQ;
	if (json_array_append_new(json_io_j(arr), json_string(s)) < 0)
		return -ENOMEM;
	return 0;
}

int json_io_append(struct json_value *arr, struct json_value *steal)
{
	if (!steal || json_array_append_new(json_io_j(arr), json_io_j(steal)) < 0)
		return -ENOMEM;
	return 0;
}

/*
 * QMP and the guest agent share one wire format for commands and replies:
 * {"execute", "arguments", "id"} out, {"return"} or {"error"} back.
 */
int json_io_send_command(struct json_io *io, const char *command, const struct json_value *args,
			 int64_t id, int64_t deadline, struct error *err)
{
	_cleanup_json_ struct json_value *req = json_io_new_object();

	if (!req || json_io_set_string(req, "execute", command) < 0 ||
	    (id >= 0 && json_io_set_int(req, "id", id) < 0) ||
	    (args && json_io_set(req, "arguments", json_io_ref((struct json_value *)args)) < 0))
		return error_set(err, ENOMEM, "cannot build the request");
	return json_io_send(io, req, deadline, err);
}

int json_io_command_result(const struct json_value *reply, struct json_value **ret_return,
			   struct error *err)
{
	struct json_value *value = json_io_get(reply, "return");
	struct json_value *error = json_io_get(reply, "error");
	const char *class, *desc;

	if (error) {
		class = json_io_get_string(error, "class");
		desc = json_io_get_string(error, "desc");
		return error_set(err, EREMOTEIO, "%s: %s", class ? class : "error",
				 desc ? desc : "(no description)");
	}
	if (!value)
		return error_set(err, EPROTO, "reply with neither return nor error");
	if (ret_return)
		*ret_return = json_io_ref(value);
	return 0;
}
