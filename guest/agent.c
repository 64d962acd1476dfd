// SPDX-License-Identifier: MIT
#include "agent.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "base64.h"
#include "exec.h"
#include "kmsg.h"
#include "log.h"
#include "setup.h"

#define AGENT_VERSION "vmtest-init-1"
#define AGENT_DELIMITER 0xFF

struct agent {
	int fd;
	char *buf;		/* bytes of requests not yet complete */
	size_t len, cap;
	bool discarding;	/* over-long request: skip until the next reset */
	bool shutdown;
};

typedef json_t *(*agent_command_fn)(struct agent *a, json_t *args, char *err, size_t err_len);

struct agent_command {
	const char *name;
	agent_command_fn run;
	bool delimited;		/* reply preceded by 0xFF */
};

/* --- replies ------------------------------------------------------------- */

static void agent_send(struct agent *a, json_t *reply, bool delimited)
{
	char *text = json_dumps(reply, JSON_COMPACT);
	static const char delimiter = (char)AGENT_DELIMITER;
	int r;

	if (!text) {
		/* The host waits for an answer: give it one it can read. */
		static const char oom[] = "{\"error\":{\"class\":\"GenericError\",\"desc\":"
					  "\"out of memory in the guest's agent\"}}\n";

		log_msg("out of memory for a reply");
		r = io_write_all(a->fd, oom, sizeof(oom) - 1);
		if (r < 0)
			log_msg("write to the agent port: %s", strerror(-r));
		return;
	}
	r = delimited ? io_write_all(a->fd, &delimiter, 1) : 0;
	if (r >= 0)
		r = io_write_all(a->fd, text, strlen(text));
	if (r >= 0)
		r = io_write_all(a->fd, "\n", 1);
	if (r < 0)
		log_msg("write to the agent port: %s", strerror(-r));
	free(text);
}

static void agent_reply(struct agent *a, json_t *id, json_t *ret, bool delimited)
{
	json_t *reply = json_pack("{s:o}", "return", ret);

	if (id)
		json_object_set(reply, "id", id);
	agent_send(a, reply, delimited);
	json_decref(reply);
}

static void agent_error(struct agent *a, json_t *id, const char *class, const char *desc)
{
	json_t *reply = json_pack("{s:{s:s,s:s}}", "error", "class", class, "desc", desc);

	if (id)
		json_object_set(reply, "id", id);
	agent_send(a, reply, false);
	json_decref(reply);
}

/* --- commands ------------------------------------------------------------ */

static json_t *agent_sync(struct agent *a, json_t *args, char *err, size_t err_len)
{
	json_t *id = json_object_get(args, "id");

	if (!json_is_integer(id)) {
		snprintf(err, err_len, "guest-sync needs an integer 'id'");
		return NULL;
	}
	return json_incref(id);
}

static json_t *agent_ping(struct agent *a, json_t *args, char *err, size_t err_len)
{
	return json_object();
}

static json_t *agent_info(struct agent *a, json_t *args, char *err, size_t err_len);

/* A JSON array of strings as a NULL-terminated vector (strings borrowed). */
static char **agent_strings(json_t *array, const char *first, char *err, size_t err_len)
{
	size_t n = json_array_size(array), k = 0;
	char **v = calloc(n + 2, sizeof(*v));

	if (!v) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	if (first)
		v[k++] = (char *)first;
	for (size_t i = 0; i < n; i++) {
		const char *s = json_string_value(json_array_get(array, i));

		if (!s) {
			snprintf(err, err_len, "expected an array of strings");
			free(v);
			return NULL;
		}
		v[k++] = (char *)s;
	}
	return v;
}

static char *default_env[] = {
	"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	"HOME=/root",
	"TERM=linux",
	NULL,
};

static json_t *agent_exec(struct agent *a, json_t *args, char *err, size_t err_len)
{
	struct exec_request req = { 0 };
	json_t *env = json_object_get(args, "env"), *capture = json_object_get(args, "capture-output");
	const char *input = json_string_value(json_object_get(args, "input-data"));
	char *decoded = NULL;
	pid_t pid;
	int r;

	req.path = json_string_value(json_object_get(args, "path"));
	if (!req.path) {
		snprintf(err, err_len, "guest-exec needs a 'path'");
		return NULL;
	}
	req.cwd = json_string_value(json_object_get(args, "vmtest-cwd"));
	req.capture = json_is_true(capture) || json_is_string(capture);
	req.stream = json_is_true(json_object_get(args, "vmtest-stream"));
	req.tty = json_is_true(json_object_get(args, "vmtest-tty"));
	req.rows = (unsigned short)json_integer_value(json_object_get(args, "vmtest-rows"));
	req.cols = (unsigned short)json_integer_value(json_object_get(args, "vmtest-cols"));
	req.argv = agent_strings(json_object_get(args, "arg"), req.path, err, err_len);
	req.envp = env ? agent_strings(env, NULL, err, err_len) : default_env;
	if (input && base64_decode(input, &decoded, &req.input_len) == 0)
		req.input = decoded;
	if (!req.argv || !req.envp || (input && !decoded)) {
		if (input && !decoded)
			snprintf(err, err_len, "input-data is not valid base64");
		r = -1;
	} else {
		r = exec_start(&req, &pid, err, err_len);
	}
	free(req.argv);
	if (req.envp != default_env)
		free(req.envp);
	free(decoded);
	return r < 0 ? NULL : json_pack("{s:i}", "pid", (json_int_t)pid);
}

static void agent_put_output(json_t *ret, const char *key, const char *trunc_key,
			     const char *data, size_t len, bool truncated)
{
	char *b64;

	if (!data)
		return;
	b64 = base64_encode(data, len);
	if (b64)
		json_object_set_new(ret, key, json_string(b64));
	free(b64);
	/* Output that could not be encoded is output the host does not get. */
	if (truncated || !b64)
		json_object_set_new(ret, trunc_key, json_true());
}

static json_t *agent_exec_status(struct agent *a, json_t *args, char *err, size_t err_len)
{
	json_t *pid = json_object_get(args, "pid"), *ret;
	struct exec_status st;

	if (!json_is_integer(pid) || exec_status((pid_t)json_integer_value(pid), &st) < 0) {
		snprintf(err, err_len, "Invalid parameter 'pid'");
		return NULL;
	}
	ret = json_pack("{s:b}", "exited", st.exited);
	if (!ret) {
		snprintf(err, err_len, "out of memory in the guest's agent");
		free(st.out);
		free(st.err);
		return NULL;
	}
	if (!st.exited)
		return ret;
	if (st.signal)
		json_object_set_new(ret, "signal", json_integer(st.signal));
	else
		json_object_set_new(ret, "exitcode", json_integer(st.exit_code));
	agent_put_output(ret, "out-data", "out-truncated", st.out, st.out_len, st.out_truncated);
	agent_put_output(ret, "err-data", "err-truncated", st.err, st.err_len, st.err_truncated);
	free(st.out);
	free(st.err);
	return ret;
}

/* As qemu-ga: success is silence; the caller powers off. */
static json_t *agent_shutdown(struct agent *a, json_t *args, char *err, size_t err_len)
{
	a->shutdown = true;
	return NULL;
}

static json_t *agent_setup(struct agent *a, json_t *args, char *err, size_t err_len)
{
	json_t *mounts = json_object_get(args, "mounts");
	struct setup_request req = { .msize = 512000 };
	size_t n = json_array_size(mounts);
	const char *entropy_b64, *filesystem;
	char *entropy = NULL;
	int r;

	if (json_is_integer(json_object_get(args, "msize")))
		req.msize = (unsigned)json_integer_value(json_object_get(args, "msize"));
	req.has_shared = json_is_true(json_object_get(args, "shared"));
	req.network = json_is_true(json_object_get(args, "network"));
	filesystem = json_string_value(json_object_get(args, "filesystem"));
	req.virtiofs = filesystem && strcmp(filesystem, "virtiofs") == 0;
	req.virtiofs_or_9p = filesystem && strcmp(filesystem, "auto") == 0;
	req.shared_host_path = json_string_value(json_object_get(args, "shared-host-path"));
	req.usr_image_serial = json_string_value(json_object_get(args, "usr-image"));
	req.mounts = calloc(n + 1, sizeof(*req.mounts));
	if (!req.mounts) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		json_t *m = json_array_get(mounts, i);

		req.mounts[i].tag = json_string_value(json_object_get(m, "tag"));
		req.mounts[i].path = json_string_value(json_object_get(m, "path"));
		req.mounts[i].writable = json_is_true(json_object_get(m, "writable"));
		if (!req.mounts[i].tag || !req.mounts[i].path) {
			snprintf(err, err_len, "each mount needs a 'tag' and a 'path'");
			free(req.mounts);
			return NULL;
		}
	}
	req.n_mounts = n;
	if (json_is_integer(json_object_get(args, "realtime-ns")))
		req.realtime_ns = json_integer_value(json_object_get(args, "realtime-ns"));
	entropy_b64 = json_string_value(json_object_get(args, "entropy"));
	if (entropy_b64 && base64_decode(entropy_b64, &entropy, &req.entropy_len) == 0)
		req.entropy = (const unsigned char *)entropy;
	/* The kernel's log from its first record, the boot's included. */
	kmsg_start();
	r = setup_run(&req, err, err_len);
	free(entropy);
	free(req.mounts);
	if (r < 0)
		return NULL;
	/* What it mounted: the host watches virtiofs's daemons only when used.
	 * The kernel's version (uname -v), which a dump's header carries and
	 * nothing else in QEMU's dump says. */
	struct utsname uts;
	json_t *ret;

	if (uname(&uts) < 0)
		uts.version[0] = '\0';
	ret = json_pack("{s:s, s:s, s:b}", "filesystem", req.virtiofs ? "virtiofs" : "9p",
			"kernel-version", uts.version, "usr-image", req.usr_image_used);
	if (ret && req.usr_image_serial && !req.usr_image_used)
		json_object_set_new(ret, "usr-image-error", json_string(req.usr_image_error));
	return ret;
}

static const struct agent_command agent_commands[] = {
	{ "guest-sync-delimited", agent_sync, true },
	{ "guest-sync", agent_sync, false },
	{ "guest-ping", agent_ping, false },
	{ "guest-info", agent_info, false },
	{ "guest-exec", agent_exec, false },
	{ "guest-exec-status", agent_exec_status, false },
	{ "guest-shutdown", agent_shutdown, false },
	{ "vmtest-setup", agent_setup, false },
};

#define AGENT_N_COMMANDS (sizeof(agent_commands) / sizeof(agent_commands[0]))

static json_t *agent_info(struct agent *a, json_t *args, char *err, size_t err_len)
{
	json_t *list = json_array();

	for (size_t i = 0; i < AGENT_N_COMMANDS; i++)
		json_array_append_new(list, json_pack("{s:s,s:b,s:b}", "name", agent_commands[i].name,
						      "enabled", 1, "success-response",
						      agent_commands[i].run != agent_shutdown));
	return json_pack("{s:s,s:o}", "version", AGENT_VERSION, "supported_commands", list);
}

/* --- requests ------------------------------------------------------------ */

void agent_handle_request(struct agent *a, const char *buf, size_t len)
{
	json_error_t jerr;
	json_t *req = json_loadb(buf, len, 0, &jerr), *id, *args, *ret;
	const char *name;
	char err[512] = "";

	if (!json_is_object(req)) {
		agent_error(a, NULL, "GenericError", "the request is not a JSON object");
		json_decref(req);
		return;
	}
	id = json_object_get(req, "id");
	name = json_string_value(json_object_get(req, "execute"));
	args = json_object_get(req, "arguments");
	for (size_t i = 0; name && i < AGENT_N_COMMANDS; i++) {
		if (strcmp(name, agent_commands[i].name) != 0)
			continue;
		ret = agent_commands[i].run(a, args, err, sizeof(err));
		if (ret)
			agent_reply(a, id, ret, agent_commands[i].delimited);
		else if (!a->shutdown)
			agent_error(a, id, "GenericError", err);
		json_decref(req);
		return;
	}
	snprintf(err, sizeof(err), "The command %s has not been found", name ? name : "(none)");
	agent_error(a, id, "CommandNotFound", err);
	json_decref(req);
}

/* Length of the first complete JSON object in buf, or 0 if incomplete. */
static size_t agent_object_length(const char *buf, size_t len)
{
	int depth = 0;
	bool in_string = false, escaped = false;

	for (size_t i = 0; i < len; i++) {
		char c = buf[i];

		if (in_string) {
			if (escaped)
				escaped = false;
			else if (c == '\\')
				escaped = true;
			else if (c == '"')
				in_string = false;
			continue;
		}
		if (c == '"')
			in_string = true;
		else if (c == '{' || c == '[')
			depth++;
		else if ((c == '}' || c == ']') && --depth <= 0)
			return i + 1;
	}
	return 0;
}

static void agent_consume(struct agent *a)
{
	for (;;) {
		size_t skip = 0, n;

		while (skip < a->len && a->buf[skip] != '{')
			skip++;
		memmove(a->buf, a->buf + skip, a->len - skip);
		a->len -= skip;
		n = agent_object_length(a->buf, a->len);
		if (!n)
			return;
		agent_handle_request(a, a->buf, n);
		memmove(a->buf, a->buf + n, a->len - n);
		a->len -= n;
	}
}

static void agent_append(struct agent *a, const char *data, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		/* 0xFF never occurs in UTF-8 JSON: the host's reset. */
		if ((unsigned char)data[i] == AGENT_DELIMITER) {
			a->len = 0;
			a->discarding = false;
			continue;
		}
		if (a->discarding)
			continue;
		if (a->len == a->cap) {
			size_t cap = a->cap ? a->cap * 2 : 65536;
			char *grown = cap <= AGENT_MAX_REQUEST ? realloc(a->buf, cap) : NULL;

			if (!grown) {
				agent_error(a, NULL, "GenericError", "request too large");
				a->len = 0;
				a->discarding = true;
				continue;
			}
			a->buf = grown;
			a->cap = cap;
		}
		a->buf[a->len++] = data[i];
		if (data[i] == '}')
			agent_consume(a);
	}
}

bool agent_handle_input(struct agent *a)
{
	char chunk[65536];
	ssize_t n = read_some(a->fd, chunk, sizeof(chunk));

	if (n <= 0)
		return false;
	agent_append(a, chunk, n);
	return true;
}

bool agent_shutdown_requested(const struct agent *a)
{
	return a->shutdown;
}

struct agent *agent_new(int fd)
{
	struct agent *a = calloc(1, sizeof(*a));

	if (a)
		a->fd = fd;
	return a;
}

void agent_free(struct agent *a)
{
	if (!a)
		return;
	free(a->buf);
	free(a);
}
