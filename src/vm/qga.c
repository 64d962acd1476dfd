// SPDX-License-Identifier: MIT
#include "vm/qga.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "base64.h"
#include "cleanup.h"
#include "base/clock.h"

/*
 * guest-exec-status carries up to 16 MiB of each stream, base64-encoded
 * (4/3 of that): about 45 MB in all.  Anything past 64 MiB is not an agent.
 */
#define QGA_MAX_MESSAGE (64u << 20)
#define QGA_DELIMITER 0xff
#define QGA_WAIT_FIRST_MS 5
#define QGA_WAIT_MAX_MS 50

struct qga {
	struct json_io io;
	int64_t next_id;
	bool need_sync;		/* the stream may hold stale replies or junk */
	char *version;		/* from guest-info, once asked */
};

/* A positive 31-bit id: what every agent can take as its integer. */
static int64_t qga_random_id(void)
{
	uint32_t v;

	if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != sizeof(v))
		v = (uint32_t)clock_now_ms() * 2654435761u ^ (uint32_t)getpid();
	v &= 0x7fffffff;
	return v ? v : 1;
}

int qga_open_fd(int fd, struct qga **ret, struct error *err)
{
	struct qga *qga = calloc(1, sizeof(*qga));
	int r;

	if (!qga) {
		close(fd);
		return error_set(err, ENOMEM, "out of memory");
	}
	r = json_io_open_fd(&qga->io, fd, QGA_MAX_MESSAGE, err);
	if (r < 0) {
		free(qga);
		return r;
	}
	qga->io.peer = "the guest agent";
	qga->next_id = qga_random_id();
	*ret = qga;
	return 0;
}

int qga_connect(const char *path, int64_t deadline, struct qga **ret, struct error *err)
{
	struct json_io io;
	int r;

	r = json_io_connect(&io, path, QGA_MAX_MESSAGE, deadline, err);
	if (r < 0)
		return error_prefix(err, "guest agent");
	/* The buffer is still empty: only the socket changes hands. */
	return qga_open_fd(io.fd, ret, err);
}

struct qga *qga_free(struct qga *qga)
{
	if (qga) {
		json_io_close(&qga->io);
		free(qga->version);
		free(qga);
	}
	return NULL;
}

/*
 * The reply to request id.  A reply with another id answers an earlier
 * request that timed out: dropped.  One without an id comes from an agent
 * that does not echo ids, or is qemu-ga's complaint about bytes it could
 * not parse, which may come several at a time: taken as the answer, but
 * an error of that kind leaves the stream suspect until the next sync.
 */
static int qga_await(struct qga *qga, int64_t id, int64_t deadline,
		     struct json_value **ret_return, struct error *err)
{
	for (;;) {
		_cleanup_json_ struct json_value *reply = NULL;
		int64_t got;
		int r = json_io_recv(&qga->io, deadline, &reply, err);

		if (r < 0) {
			qga->need_sync = true;
			return r;
		}
		if (!json_io_get(reply, "id")) {
			if (json_io_get(reply, "error"))
				qga->need_sync = true;
			return json_io_command_result(reply, ret_return, err);
		}
		if (json_io_get_int(reply, "id", &got) && got == id)
			return json_io_command_result(reply, ret_return, err);
	}
}

/* Replies until one returns id; stale and complaining ones are skipped. */
static int qga_await_sync(struct qga *qga, int64_t id, int64_t deadline, struct error *err)
{
	for (;;) {
		_cleanup_json_ struct json_value *reply = NULL;
		int64_t got;
		int r = json_io_recv(&qga->io, deadline, &reply, err);

		if (r < 0)
			return r;
		if (json_io_get_int(reply, "return", &got) && got == id)
			return 0;
	}
}

static int qga_sync_args(int64_t id, struct json_value **ret, struct error *err)
{
	struct json_value *args = json_io_new_object();

	if (!args || json_io_set_int(args, "id", id) < 0) {
		json_io_unref(args);
		return error_set(err, ENOMEM, "out of memory");
	}
	*ret = args;
	return 0;
}

/*
 * The 0xFF we send is invalid JSON: it makes the agent drop whatever half
 * request an interrupted attempt left in its parser.  qemu-ga answers it
 * with a parse error, then sends its own 0xFF right before the reply, so
 * everything up to that byte is old and can go.
 */
int qga_sync_delimited(struct qga *qga, int64_t deadline, struct error *err)
{
	static const unsigned char delim = QGA_DELIMITER;
	_cleanup_json_ struct json_value *args = NULL;
	int64_t id = qga_random_id();
	int r;

	r = qga_sync_args(id, &args, err);
	if (r >= 0)
		r = json_io_send_bytes(&qga->io, &delim, 1, deadline, err);
	if (r >= 0)
		r = json_io_send_command(&qga->io, "guest-sync-delimited", args, -1, deadline, err);
	if (r >= 0)
		r = json_io_skip_past(&qga->io, QGA_DELIMITER, deadline, err);
	if (r >= 0)
		r = qga_await_sync(qga, id, deadline, err);
	if (r < 0)
		return error_prefix(err, "guest-sync-delimited");
	qga->need_sync = false;
	return 0;
}

int qga_sync(struct qga *qga, int64_t deadline, struct error *err)
{
	_cleanup_json_ struct json_value *args = NULL;
	int64_t id = qga_random_id();
	int r;

	r = qga_sync_args(id, &args, err);
	if (r >= 0)
		r = json_io_send_command(&qga->io, "guest-sync", args, -1, deadline, err);
	if (r >= 0)
		r = qga_await_sync(qga, id, deadline, err);
	if (r < 0)
		return error_prefix(err, "guest-sync");
	qga->need_sync = false;
	return 0;
}

/* One request and its reply, after a resync if the stream is suspect. */
static int qga_call(struct qga *qga, const char *command, const struct json_value *args,
		    int64_t deadline, struct json_value **ret_return, struct error *err)
{
	int64_t id;
	int r;

	if (qga->need_sync) {
		r = qga_sync_delimited(qga, deadline, err);
		if (r < 0)
			return error_prefix(err, "%s", command);
	}
	id = qga->next_id++;
	r = json_io_send_command(&qga->io, command, args, id, deadline, err);
	if (r >= 0)
		r = qga_await(qga, id, deadline, ret_return, err);
	if (r < 0)
		return error_prefix(err, "%s", command);
	return 0;
}

int qga_execute(struct qga *qga, const char *command, const struct json_value *args,
		int64_t deadline, struct json_value **ret_return, struct error *err)
{
	return qga_call(qga, command, args, deadline, ret_return, err);
}

int qga_ping(struct qga *qga, int64_t deadline, struct error *err)
{
	return qga_call(qga, "guest-ping", NULL, deadline, NULL, err);
}

int qga_info(struct qga *qga, int64_t deadline, char **ret_version, struct error *err)
{
	_cleanup_json_ struct json_value *info = NULL;
	const char *version;
	char *copy;
	int r;

	r = qga_call(qga, "guest-info", NULL, deadline, &info, err);
	if (r < 0)
		return r;
	version = json_io_get_string(info, "version");
	if (!version)
		return error_set(err, EPROTO, "guest-info: no version in the reply");
	copy = strdup(version);
	if (!copy || (ret_version && !(*ret_version = strdup(version)))) {
		free(copy);
		return error_set(err, ENOMEM, "out of memory");
	}
	free(qga->version);
	qga->version = copy;
	return 0;
}

int qga_command_enabled(struct qga *qga, const char *command, int64_t deadline,
			bool *ret_enabled, struct error *err)
{
	_cleanup_json_ struct json_value *info = NULL;
	struct json_value *list;
	int r;

	r = qga_call(qga, "guest-info", NULL, deadline, &info, err);
	if (r < 0)
		return r;
	list = json_io_get(info, "supported_commands");
	*ret_enabled = true;
	for (size_t i = 0; i < json_io_array_len(list); i++) {
		struct json_value *c = json_io_array_get(list, i);
		const char *name = json_io_get_string(c, "name");

		if (name && strcmp(name, command) == 0)
			*ret_enabled = json_io_get_bool(c, "enabled", true);
	}
	return 0;
}

bool qga_version_at_least(const char *version, unsigned major, unsigned minor)
{
	unsigned long got_major, got_minor = 0;
	char *end;

	if (!isdigit((unsigned char)version[0]))
		return false;
	got_major = strtoul(version, &end, 10);
	if (end[0] == '.' && isdigit((unsigned char)end[1]))
		got_minor = strtoul(end + 1, NULL, 10);
	return got_major > major || (got_major == major && got_minor >= minor);
}

/* strv as a JSON array; what names an element in the error ("argument 2"). */
static int qga_strv_to_json(const char *const *strv, const char *what,
			    struct json_value **ret, struct error *err)
{
	_cleanup_json_ struct json_value *arr = json_io_new_array();
	size_t i;
	int r;

	if (!arr)
		return error_set(err, ENOMEM, "out of memory");
	for (i = 0; strv[i]; i++) {
		r = json_io_append_string(arr, strv[i]);
		if (r == -EILSEQ)
			return error_set(err, EILSEQ,
					 "%s %zu is not valid UTF-8; the guest agent carries text only",
					 what, i + 1);
		if (r < 0)
			return error_set(err, ENOMEM, "out of memory");
	}
	*ret = TAKE_PTR(arr);
	return 0;
}

static int qga_exec_set_list(struct json_value *args, const char *key,
			     const char *const *strv, const char *what, struct error *err)
{
	struct json_value *arr = NULL;
	int r;

	if (!strv)
		return 0;
	r = qga_strv_to_json(strv, what, &arr, err);
	if (r < 0)
		return r;
	if (json_io_set(args, key, arr) < 0)
		return error_set(err, ENOMEM, "out of memory");
	return 0;
}

static int qga_exec_set_input(struct json_value *args, const struct qga_exec_request *req,
			      struct error *err)
{
	_cleanup_free_ char *b64 = NULL;

	if (!req->input)
		return 0;
	b64 = base64_encode(req->input, req->input_len);
	if (!b64 || json_io_set_string(args, "input-data", b64) < 0)
		return error_set(err, ENOMEM, "out of memory");
	return 0;
}

static int qga_exec_set_capture(struct json_value *args, enum qga_capture capture,
				struct error *err)
{
	int r;

	switch (capture) {
	case QGA_CAPTURE_NONE:
		return 0;
	case QGA_CAPTURE_SEPARATE:
		r = json_io_set_bool(args, "capture-output", true);
		break;
	case QGA_CAPTURE_MERGED:
		r = json_io_set_string(args, "capture-output", "merged");
		break;
	default:
		return error_set(err, EINVAL, "unknown capture mode %d", (int)capture);
	}
	return r < 0 ? error_set(err, ENOMEM, "out of memory") : 0;
}

static int qga_exec_args(const struct qga_exec_request *req, struct json_value **ret,
			 struct error *err)
{
	_cleanup_json_ struct json_value *args = json_io_new_object();
	int r;

	if (!args)
		return error_set(err, ENOMEM, "out of memory");
	r = json_io_set_string(args, "path", req->path);
	if (r == -EILSEQ)
		return error_set(err, EILSEQ, "the path is not valid UTF-8; the guest agent carries text only");
	if (r < 0)
		return error_set(err, ENOMEM, "out of memory");
	r = qga_exec_set_list(args, "arg", req->argv, "argument", err);
	if (r >= 0)
		r = qga_exec_set_list(args, "env", req->envp, "environment entry", err);
	if (r >= 0)
		r = qga_exec_set_input(args, req, err);
	if (r >= 0)
		r = qga_exec_set_capture(args, req->capture, err);
	if (r >= 0 && req->vmtest_cwd && json_io_set_string(args, "vmtest-cwd", req->vmtest_cwd) < 0)
		r = error_set(err, EILSEQ, "the working directory is not valid UTF-8");
	if (r >= 0 && req->vmtest_stream && json_io_set_bool(args, "vmtest-stream", true) < 0)
		r = error_set(err, ENOMEM, "out of memory");
	if (r >= 0 && req->vmtest_tty &&
	    (json_io_set_bool(args, "vmtest-tty", true) < 0 ||
	     json_io_set_int(args, "vmtest-rows", req->vmtest_rows) < 0 ||
	     json_io_set_int(args, "vmtest-cols", req->vmtest_cols) < 0))
		r = error_set(err, ENOMEM, "out of memory");
	if (r < 0)
		return r;
	*ret = TAKE_PTR(args);
	return 0;
}

/* "merged" is an error to agents before 8.1: ask first, fail clearly. */
static int qga_exec_check_merged(struct qga *qga, int64_t deadline, struct error *err)
{
	int r;

	if (!qga->version) {
		r = qga_info(qga, deadline, NULL, err);
		if (r < 0)
			return r;
	}
	if (!qga_version_at_least(qga->version, 8, 1))
		return error_set(err, EOPNOTSUPP,
				 "merged output needs qemu-ga 8.1 or later; the agent is version %s",
				 qga->version);
	return 0;
}

int qga_exec_start(struct qga *qga, const struct qga_exec_request *req, int64_t deadline,
		   int64_t *ret_pid, struct error *err)
{
	_cleanup_json_ struct json_value *args = NULL, *value = NULL;
	int64_t pid;
	int r;

	r = qga_exec_args(req, &args, err);
	if (r >= 0 && req->capture == QGA_CAPTURE_MERGED)
		r = qga_exec_check_merged(qga, deadline, err);
	if (r < 0)
		return error_prefix(err, "guest-exec");
	r = qga_call(qga, "guest-exec", args, deadline, &value, err);
	if (r < 0)
		return r;
	if (!json_io_get_int(value, "pid", &pid))
		return error_set(err, EPROTO, "guest-exec: no pid in the reply");
	*ret_pid = pid;
	return 0;
}

void qga_exec_status_clear(struct qga_exec_status *st)
{
	free(st->out_data);
	free(st->err_data);
	*st = (struct qga_exec_status){ .exitcode = -1 };
}

static int qga_exec_decode(const struct json_value *v, const char *key, char **ret,
			   size_t *ret_len, struct error *err)
{
	const char *b64 = json_io_get_string(v, key);
	int r;

	if (!b64)
		return 0;
	r = base64_decode(b64, ret, ret_len);
	if (r == -EPROTO)
		return error_set(err, EPROTO, "%s is not valid base64", key);
	if (r < 0)
		return error_set(err, ENOMEM, "out of memory");
	return 0;
}

/* {"exited": true, "exitcode": 0, "signal": 9, "out-data": "...", ...} */
static int qga_exec_status_parse(const struct json_value *v, struct qga_exec_status *st,
				 struct error *err)
{
	int64_t n;
	int r;

	if (!json_io_is_object(v) || !json_io_get(v, "exited"))
		return error_set(err, EPROTO, "no exited in the reply");
	st->exited = json_io_get_bool(v, "exited", false);
	st->exitcode = json_io_get_int(v, "exitcode", &n) ? (int)n : -1;
	st->signal = json_io_get_int(v, "signal", &n) ? (int)n : 0;
	st->out_truncated = json_io_get_bool(v, "out-truncated", false);
	st->err_truncated = json_io_get_bool(v, "err-truncated", false);
	r = qga_exec_decode(v, "out-data", &st->out_data, &st->out_len, err);
	if (r >= 0)
		r = qga_exec_decode(v, "err-data", &st->err_data, &st->err_len, err);
	return r;
}

int qga_exec_get_status(struct qga *qga, int64_t pid, int64_t deadline,
			struct qga_exec_status *ret, struct error *err)
{
	_cleanup_json_ struct json_value *args = json_io_new_object(), *value = NULL;
	struct qga_exec_status st = { .exitcode = -1 };
	int r;

	if (!args || json_io_set_int(args, "pid", pid) < 0)
		return error_set(err, ENOMEM, "out of memory");
	r = qga_call(qga, "guest-exec-status", args, deadline, &value, err);
	if (r < 0)
		return r;
	r = qga_exec_status_parse(value, &st, err);
	if (r < 0) {
		qga_exec_status_clear(&st);
		return error_prefix(err, "guest-exec-status");
	}
	*ret = st;
	return 0;
}

int qga_exec_wait(struct qga *qga, int64_t pid, int64_t deadline,
		  struct qga_exec_status *ret, struct error *err)
{
	int64_t delay = QGA_WAIT_FIRST_MS;
	struct qga_exec_status st;
	int r;

	for (;;) {
		r = qga_exec_get_status(qga, pid, deadline, &st, err);
		if (r < 0)
			return r;
		if (st.exited) {
			*ret = st;
			return 0;
		}
		/* qemu-ga sends no output before the end; another agent's goes. */
		qga_exec_status_clear(&st);
		if (clock_now_ms() >= deadline)
			return error_set(err, ETIMEDOUT,
					 "guest-exec: pid %lld still running at the deadline",
					 (long long)pid);
		clock_sleep(delay, deadline);
		delay = delay * 2 > QGA_WAIT_MAX_MS ? QGA_WAIT_MAX_MS : delay * 2;
	}
}

int qga_shutdown(struct qga *qga, const char *mode, int64_t deadline, struct error *err)
{
	_cleanup_json_ struct json_value *args = NULL;
	int64_t id;
	int r;

	if (mode && (!(args = json_io_new_object()) || json_io_set_string(args, "mode", mode) < 0))
		return error_set(err, ENOMEM, "guest-shutdown: cannot build the request");
	if (qga->need_sync) {
		r = qga_sync_delimited(qga, deadline, err);
		if (r < 0)
			return error_prefix(err, "guest-shutdown");
	}
	id = qga->next_id++;
	r = json_io_send_command(&qga->io, "guest-shutdown", args, id, deadline, err);
	if (r < 0)
		return error_prefix(err, "guest-shutdown");
	r = qga_await(qga, id, deadline, NULL, err);
	/* Going down without a word is how the agent says yes. */
	if (r == -ECONNRESET || r == -ETIMEDOUT)
		return 0;
	if (r < 0)
		return error_prefix(err, "guest-shutdown");
	return 0;
}
