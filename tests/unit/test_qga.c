// SPDX-License-Identifier: MIT
/*
 * The guest agent client against a fake agent (a forked child on a
 * socketpair) that sends the scripted bytes a broken or hostile peer
 * would; test_qga_agent.c has it against the real qemu-ga.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "peer.h"
#include "base/clock.h"
#include "vm/json_io.h"
#include "vm/qga.h"

#define MiB (1u << 20)

/* ---- the fake agent: a child process writing what each test scripts ---- */

struct fake {
	pid_t pid;
	struct qga *qga;
};

typedef int (*fake_fn)(int fd);

/* One request line from the client, 0xFF bytes before it dropped. */
static int fake_read(int fd, char *buf, size_t size)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	size_t n = 0;
	char c;

	while (n + 1 < size) {
		if (poll(&p, 1, 5000) <= 0 || read(fd, &c, 1) != 1)
			return -1;
		if (c == '\xff' && n == 0)
			continue;
		if (c == '\n') {
			buf[n] = '\0';
			return 0;
		}
		buf[n++] = c;
	}
	return -1;
}

/* The request's "id" (sync's is inside its arguments, the only one there). */
static long long fake_id(const char *req)
{
	const char *p = strstr(req, "\"id\":");

	return p ? strtoll(p + 5, NULL, 10) : -1;
}

static int fake_write(int fd, const void *buf, size_t n)
{
	const char *p = buf;
	ssize_t w;

	while (n > 0) {
		w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= w;
	}
	return 0;
}

static int fake_printf(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fake_printf(int fd, const char *fmt, ...)
{
	char buf[4096];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return fake_write(fd, buf, n);
}

/* Hold the connection open, silent, until the client closes it. */
static int fake_wait_eof(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char buf[256];

	while (poll(&p, 1, 10000) > 0)
		if (read(fd, buf, sizeof(buf)) <= 0)
			return 0;
	return 1;
}

/* Read a sync request and answer it properly. */
static int fake_sync(int fd)
{
	char req[512];

	if (fake_read(fd, req, sizeof(req)) < 0 || !strstr(req, "guest-sync-delimited"))
		return -1;
	return fake_printf(fd, "\xff{\"return\": %lld}\n", fake_id(req));
}

static void fake_start(struct fake *f, fake_fn fn)
{
	struct error err = { 0 };
	pid_t parent = getpid();
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	f->pid = fork();
	assert_true(f->pid >= 0);
	if (f->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(sv[0]);
		_exit(getppid() == parent ? fn(sv[1]) : 1);
	}
	close(sv[1]);
	assert_int_equal(qga_open_fd(sv[0], &f->qga, &err), 0);
}

/* Close our end; the child must have seen what it expected. */
static void fake_finish(struct fake *f)
{
	int status;

	f->qga = qga_free(f->qga);
	assert_int_equal(waitpid(f->pid, &status, 0), f->pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static int64_t elapsed_since(int64_t start)
{
	return clock_now_ms() - start;
}

static int fake_garbage_then_delimiter(int fd)
{
	char req[512];
	long long id;

	if (fake_read(fd, req, sizeof(req)) < 0)
		return 1;
	id = fake_id(req);
	if (fake_printf(fd, "garbage\n{\"return\": %lld}\n{{{ \"half", id) < 0 ||
	    fake_printf(fd, "\xff{\"return\": %lld}\n", id) < 0)
		return 1;
	if (fake_read(fd, req, sizeof(req)) < 0 || !strstr(req, "guest-ping"))
		return 1;
	return fake_printf(fd, "{\"return\": {}, \"id\": %lld}\n", fake_id(req));
}

static void test_fake_garbage_before_delimiter(void **state)
{
	struct error err = { 0 };
	struct fake f;

	fake_start(&f, fake_garbage_then_delimiter);
	assert_int_equal(qga_sync_delimited(f.qga, clock_deadline(5000), &err), 0);
	assert_int_equal(qga_ping(f.qga, clock_deadline(5000), &err), 0);
	fake_finish(&f);
}

/* Answers of earlier attempts, with other ids, come before the right ones. */
static int fake_stale_replies(int fd)
{
	char req[512];
	long long id;

	if (fake_read(fd, req, sizeof(req)) < 0)
		return 1;
	id = fake_id(req);
	if (fake_printf(fd, "\xff{\"return\": %lld}\n", id + 1) < 0 ||
	    fake_printf(fd, "{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error\"}}\n") < 0 ||
	    fake_printf(fd, "\xff{\"return\": %lld}\n", id) < 0)
		return 1;
	if (fake_read(fd, req, sizeof(req)) < 0)
		return 1;
	id = fake_id(req);
	return fake_printf(fd, "{\"return\": {\"pid\": 1}, \"id\": %lld}\n"
			   "{\"return\": {\"version\": \"9.0.0\"}, \"id\": %lld}\n", id - 1, id);
}

static void test_fake_stale_replies(void **state)
{
	struct error err = { 0 };
	char *version = NULL;
	struct fake f;

	fake_start(&f, fake_stale_replies);
	assert_int_equal(qga_sync_delimited(f.qga, clock_deadline(5000), &err), 0);
	assert_int_equal(qga_info(f.qga, clock_deadline(5000), &version, &err), 0);
	assert_string_equal(version, "9.0.0");
	free(version);
	fake_finish(&f);
}

/*
 * Byte by byte, with brackets and escapes inside the strings.  No newline
 * after it: the client must not need one (and may hang up before it).
 */
static int fake_split_reply(int fd)
{
	char req[512], reply[512];
	size_t i;
	int n;

	if (fake_sync(fd) < 0 || fake_read(fd, req, sizeof(req)) < 0)
		return 1;
	n = snprintf(reply, sizeof(reply),
		     "{\"return\": {\"version\": \"}{\\\"][\\\\\", \"x\": [{}]}, \"id\": %lld}",
		     fake_id(req));
	for (i = 0; i < (size_t)n; i++) {
		if (fake_write(fd, reply + i, 1) < 0)
			return 1;
		usleep(500);
	}
	return 0;
}

static void test_fake_split_reply(void **state)
{
	struct error err = { 0 };
	char *version = NULL;
	struct fake f;

	fake_start(&f, fake_split_reply);
	assert_int_equal(qga_sync_delimited(f.qga, clock_deadline(5000), &err), 0);
	assert_int_equal(qga_info(f.qga, clock_deadline(5000), &version, &err), 0);
	assert_string_equal(version, "}{\"][\\");
	free(version);
	fake_finish(&f);
}

static int fake_close_mid_reply(int fd)
{
	char req[512];

	if (fake_read(fd, req, sizeof(req)) < 0)
		return 1;
	return fake_printf(fd, "{\"return\": {\"pi");
}

static void test_fake_close_mid_reply(void **state)
{
	struct error err = { 0 };
	int64_t start = clock_now_ms();
	struct fake f;

	fake_start(&f, fake_close_mid_reply);
	assert_int_equal(qga_ping(f.qga, clock_deadline(5000), &err), -ECONNRESET);
	assert_string_equal(err.msg,
			    "guest-ping: connection closed by the guest agent in the middle of a message (15 bytes)");
	assert_true(elapsed_since(start) < 2000);
	fake_finish(&f);
}

static int fake_silent(int fd)
{
	char req[512];

	if (fake_read(fd, req, sizeof(req)) < 0)
		return 1;
	return fake_wait_eof(fd);
}

static void test_fake_never_answers(void **state)
{
	struct error err = { 0 };
	int64_t start = clock_now_ms(), took;
	struct fake f;

	fake_start(&f, fake_silent);
	assert_int_equal(qga_ping(f.qga, clock_deadline(300), &err), -ETIMEDOUT);
	took = elapsed_since(start);
	assert_true(took >= 295 && took < 1000);
	assert_non_null(strstr(err.msg, "guest-ping: timed out"));
	fake_finish(&f);
}

/* A reply that never ends: 'A's until the client hangs up. */
static int fake_endless_reply(int fd)
{
	static char chunk[MiB];
	char req[512];

	if (fake_read(fd, req, sizeof(req)) < 0 || fake_printf(fd, "{\"return\": \"") < 0)
		return 1;
	memset(chunk, 'A', sizeof(chunk));
	for (int i = 0; i < 1024; i++)
		if (fake_write(fd, chunk, sizeof(chunk)) < 0)
			return 0;
	return 1;
}

static void test_fake_overlong_message(void **state)
{
	struct error err = { 0 };
	struct fake f;

	fake_start(&f, fake_endless_reply);
	assert_int_equal(qga_ping(f.qga, clock_deadline(10000), &err), -EMSGSIZE);
	assert_string_equal(err.msg, "guest-ping: a message from the guest agent longer than 67108864 bytes");
	fake_finish(&f);
}

/* The client then resyncs by itself before the next request. */
static int fake_timeout_then_resync(int fd)
{
	char req[512];
	long long late;

	if (fake_read(fd, req, sizeof(req)) < 0)
		return 1;
	late = fake_id(req);
	if (fake_read(fd, req, sizeof(req)) < 0 || !strstr(req, "guest-sync-delimited"))
		return 1;
	/* The late answer to the ping, then the sync's. */
	if (fake_printf(fd, "{\"return\": {}, \"id\": %lld}\n", late) < 0 ||
	    fake_printf(fd, "\xff{\"return\": %lld}\n", fake_id(req)) < 0)
		return 1;
	if (fake_read(fd, req, sizeof(req)) < 0 || !strstr(req, "guest-ping"))
		return 1;
	return fake_printf(fd, "{\"return\": {}, \"id\": %lld}\n", fake_id(req));
}

static void test_fake_resync_after_timeout(void **state)
{
	struct error err = { 0 };
	struct fake f;

	fake_start(&f, fake_timeout_then_resync);
	assert_int_equal(qga_ping(f.qga, clock_deadline(100), &err), -ETIMEDOUT);
	assert_int_equal(qga_ping(f.qga, clock_deadline(5000), &err), 0);
	fake_finish(&f);
}

static int fake_shutdown_close(int fd)
{
	char req[512];

	if (fake_read(fd, req, sizeof(req)) < 0 || !strstr(req, "\"mode\":\"powerdown\""))
		return 1;
	return 0;
}

static int fake_shutdown_silent(int fd)
{
	char req[512];

	if (fake_read(fd, req, sizeof(req)) < 0 || !strstr(req, "guest-shutdown"))
		return 1;
	return fake_wait_eof(fd);
}

static int fake_shutdown_refused(int fd)
{
	char req[512];

	if (fake_read(fd, req, sizeof(req)) < 0)
		return 1;
	if (fake_printf(fd, "{\"error\": {\"class\": \"GenericError\", \"desc\": \"The command "
			"guest-shutdown has been disabled for this instance\"}, \"id\": %lld}\n",
			fake_id(req)) < 0)
		return 1;
	return fake_wait_eof(fd);
}

static void test_fake_shutdown(void **state)
{
	struct error err = { 0 };
	int64_t start;
	struct fake f;

	fake_start(&f, fake_shutdown_close);
	assert_int_equal(qga_shutdown(f.qga, "powerdown", clock_deadline(5000), &err), 0);
	fake_finish(&f);

	fake_start(&f, fake_shutdown_silent);
	start = clock_now_ms();
	assert_int_equal(qga_shutdown(f.qga, NULL, clock_deadline(200), &err), 0);
	assert_true(elapsed_since(start) >= 195);
	fake_finish(&f);

	fake_start(&f, fake_shutdown_refused);
	assert_int_equal(qga_shutdown(f.qga, "reboot", clock_deadline(5000), &err), -EREMOTEIO);
	assert_string_equal(err.msg, "guest-shutdown: GenericError: The command guest-shutdown "
			    "has been disabled for this instance");
	fake_finish(&f);
}

/* An agent at 10.0 must get "merged": "10" < "8" as strings, not as numbers. */
static int fake_merged_agent(int fd)
{
	char req[1024];

	if (fake_read(fd, req, sizeof(req)) < 0 || !strstr(req, "guest-info") ||
	    fake_printf(fd, "{\"return\": {\"version\": \"10.0.2\"}, \"id\": %lld}\n", fake_id(req)) < 0)
		return 1;
	if (fake_read(fd, req, sizeof(req)) < 0 || !strstr(req, "\"capture-output\":\"merged\"") ||
	    !strstr(req, "\"arg\":[\"-c\",\"echo hi >&2\"]") || !strstr(req, "\"input-data\":\"aGk=\""))
		return 1;
	if (fake_printf(fd, "{\"return\": {\"pid\": 42}, \"id\": %lld}\n", fake_id(req)) < 0)
		return 1;
	if (fake_read(fd, req, sizeof(req)) < 0 || !strstr(req, "\"pid\":42"))
		return 1;
	return fake_printf(fd, "{\"return\": {\"exited\": true, \"exitcode\": 0, "
			   "\"out-data\": \"aGkK\"}, \"id\": %lld}\n", fake_id(req));
}

static void test_fake_merged_capture(void **state)
{
	const char *argv[] = { "-c", "echo hi >&2", NULL };
	struct qga_exec_request req = {
		.path = "/bin/sh", .argv = argv, .input = "hi", .input_len = 2,
		.capture = QGA_CAPTURE_MERGED,
	};
	struct qga_exec_status st;
	struct error err = { 0 };
	int64_t pid;
	struct fake f;

	fake_start(&f, fake_merged_agent);
	assert_int_equal(qga_exec_start(f.qga, &req, clock_deadline(5000), &pid, &err), 0);
	assert_int_equal(pid, 42);
	assert_int_equal(qga_exec_wait(f.qga, pid, clock_deadline(5000), &st, &err), 0);
	assert_string_equal(st.out_data, "hi\n");
	assert_null(st.err_data);
	qga_exec_status_clear(&st);
	fake_finish(&f);
}

static int fake_bad_base64(int fd)
{
	char req[512];

	if (fake_read(fd, req, sizeof(req)) < 0)
		return 1;
	return fake_printf(fd, "{\"return\": {\"exited\": true, \"exitcode\": 0, "
			   "\"out-data\": \"a!==\"}, \"id\": %lld}\n", fake_id(req));
}

static void test_fake_bad_base64(void **state)
{
	struct qga_exec_status st;
	struct error err = { 0 };
	struct fake f;

	fake_start(&f, fake_bad_base64);
	assert_int_equal(qga_exec_get_status(f.qga, 7, clock_deadline(5000), &st, &err), -EPROTO);
	assert_string_equal(err.msg, "guest-exec-status: out-data is not valid base64");
	fake_finish(&f);
}

static void test_version_at_least(void **state)
{
	assert_true(qga_version_at_least("8.1.0", 8, 1));
	assert_true(qga_version_at_least("8.1", 8, 1));
	assert_true(qga_version_at_least("8.10.0", 8, 9));
	assert_true(qga_version_at_least("10.0.0", 8, 1));
	assert_true(qga_version_at_least("9.0.0-rc1", 8, 1));
	assert_false(qga_version_at_least("8.0.5", 8, 1));
	assert_false(qga_version_at_least("7.2.22", 8, 1));
	assert_false(qga_version_at_least("8", 8, 1));
	assert_false(qga_version_at_least("", 8, 1));
	assert_false(qga_version_at_least("v9", 8, 1));
}

static void test_utf8_valid(void **state)
{
	assert_true(json_io_utf8_valid(""));
	assert_true(json_io_utf8_valid("plain"));
	assert_true(json_io_utf8_valid("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\xa7 \xf4\x8f\xbf\xbf"));
	assert_false(json_io_utf8_valid("\xff"));
	assert_false(json_io_utf8_valid("caf\xe9"));
	assert_false(json_io_utf8_valid("\xc0\xaf"));		/* overlong '/' */
	assert_false(json_io_utf8_valid("\xe0\x80\xaf"));	/* overlong '/' */
	assert_false(json_io_utf8_valid("\xed\xa0\x80"));	/* a surrogate */
	assert_false(json_io_utf8_valid("\xf4\x90\x80\x80"));	/* past U+10FFFF */
	assert_false(json_io_utf8_valid("\xe2\x82"));		/* cut short */
	assert_false(json_io_utf8_valid("\x80"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_version_at_least),
		cmocka_unit_test(test_utf8_valid),
		cmocka_unit_test(test_fake_garbage_before_delimiter),
		cmocka_unit_test(test_fake_stale_replies),
		cmocka_unit_test(test_fake_split_reply),
		cmocka_unit_test(test_fake_close_mid_reply),
		cmocka_unit_test(test_fake_never_answers),
		cmocka_unit_test(test_fake_overlong_message),
		cmocka_unit_test(test_fake_resync_after_timeout),
		cmocka_unit_test(test_fake_shutdown),
		cmocka_unit_test(test_fake_merged_capture),
		cmocka_unit_test(test_fake_bad_base64),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
