// SPDX-License-Identifier: MIT
/*
 * The QMP client, against a real QEMU (no machine, no guest: just its
 * monitor) and against a fake one for what QEMU will not do on demand.
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
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "peer.h"
#include "base/clock.h"
#include "vm/json_io.h"
#include "vm/qmp.h"

static struct {
	char dir[64];
	char sock[128];
	char qemu[256];
} env;

struct vm {
	pid_t pid;
	struct qmp *qmp;
};

struct events {
	int count;
	char names[16][32];
	char reason[64];
};

static void events_record(enum qmp_event event, const char *name,
			  const struct json_value *data, void *userdata)
{
	struct events *ev = userdata;
	const char *reason = json_io_get_string(data, "reason");

	if (ev->count < 16)
		snprintf(ev->names[ev->count++], sizeof(ev->names[0]), "%s", name);
	if (event == QMP_EVENT_SHUTDOWN && reason)
		snprintf(ev->reason, sizeof(ev->reason), "%s", reason);
}

static bool events_has(const struct events *ev, const char *name)
{
	for (int i = 0; i < ev->count; i++)
		if (strcmp(ev->names[i], name) == 0)
			return true;
	return false;
}

static bool qemu_find(void)
{
	return peer_find("VMTEST_QEMU", "qemu-system-x86_64", env.qemu, sizeof(env.qemu));
}

static int group_setup(void **state)
{
	if (!peer_dir_make(env.dir, sizeof(env.dir), "qmp"))
		return -1;
	snprintf(env.sock, sizeof(env.sock), "%s/qmp.sock", env.dir);
	qemu_find();
	return 0;
}

static int group_teardown(void **state)
{
	return peer_dir_remove(env.dir);
}

static pid_t qemu_start(void)
{
	char qmp_arg[192], log[96];
	char *argv[] = {
		env.qemu, "-nodefaults", "-no-user-config", "-display", "none",
		"-machine", "none", "-qmp", qmp_arg, "-S", NULL,
	};

	snprintf(qmp_arg, sizeof(qmp_arg), "unix:%s,server=on,wait=off", env.sock);
	snprintf(log, sizeof(log), "%s/qemu.log", env.dir);
	unlink(env.sock);
	return peer_start(argv, log);
}

/* A fresh QEMU for each test, connected and past qmp_capabilities. */
static int vm_setup(void **state)
{
	struct vm *vm = calloc(1, sizeof(*vm));
	struct error err = { 0 };

	*state = vm;
	if (!vm)
		return -1;
	vm->pid = -1;
	if (!env.qemu[0]) {
		print_error("qemu-system-x86_64 not found: install qemu-system-x86, or set VMTEST_QEMU\n");
		return -1;
	}
	vm->pid = qemu_start();
	if (vm->pid < 0)
		return -1;
	/* Short attempts, so that a QEMU that died at once fails at once. */
	for (int i = 0; i < 100; i++) {
		if (qmp_connect(env.sock, clock_deadline(100), &vm->qmp, &err) == 0)
			return 0;
		if (waitpid(vm->pid, NULL, WNOHANG) != 0) {
			vm->pid = -1;
			break;
		}
	}
	print_error("%s (see %s/qemu.log)\n", err.msg, env.dir);
	return -1;
}

static int vm_teardown(void **state)
{
	struct vm *vm = *state;

	if (!vm)
		return 0;
	qmp_free(vm->qmp);
	if (vm->pid > 0) {
		kill(vm->pid, SIGKILL);
		waitpid(vm->pid, NULL, 0);
	}
	free(vm);
	return 0;
}

static void test_qmp_query(void **state)
{
	struct vm *vm = *state;
	struct json_value *status = NULL, *version = NULL, *args, *text = NULL;
	struct error err = { 0 };
	int64_t major, minor, micro;
	char want[32];

	assert_int_equal(qmp_execute(vm->qmp, "query-status", NULL, clock_deadline(5000), &status, &err), 0);
	assert_string_equal(json_io_get_string(status, "status"), "prelaunch");
	assert_false(json_io_get_bool(status, "running", true));
	json_io_unref(status);

	assert_int_equal(qmp_execute(vm->qmp, "query-version", NULL, clock_deadline(5000), &version, &err), 0);
	assert_true(json_io_get_int(json_io_get(version, "qemu"), "major", &major));
	assert_true(json_io_get_int(json_io_get(version, "qemu"), "minor", &minor));
	assert_true(json_io_get_int(json_io_get(version, "qemu"), "micro", &micro));
	assert_int_equal(qmp_version(vm->qmp), major * 10000 + minor * 100 + micro);
	print_message("# QEMU %lld.%lld.%lld\n", (long long)major, (long long)minor, (long long)micro);
	json_io_unref(version);

	/* A command with arguments. */
	args = json_io_new_object();
	assert_int_equal(json_io_set_string(args, "command-line", "info version"), 0);
	assert_int_equal(qmp_execute(vm->qmp, "human-monitor-command", args, clock_deadline(5000),
				     &text, &err), 0);
	json_io_unref(args);
	snprintf(want, sizeof(want), "\"%lld.%lld.%lld", (long long)major, (long long)minor, (long long)micro);
	{
		char *dump = json_io_dump(text);

		assert_non_null(dump);
		assert_true(strncmp(dump, want, strlen(want)) == 0);
		free(dump);
	}
	json_io_unref(text);
}

static void test_qmp_errors(void **state)
{
	struct vm *vm = *state;
	struct error err = { 0 };
	struct json_value *args = json_io_new_object();

	assert_int_equal(qmp_execute(vm->qmp, "vmtest-no-such-command", NULL, clock_deadline(5000),
				     NULL, &err), -EREMOTEIO);
	assert_string_equal(err.msg, "QMP command 'vmtest-no-such-command': CommandNotFound: "
			    "The command vmtest-no-such-command has not been found");
	assert_int_equal(json_io_set_int(args, "bogus", 1), 0);
	assert_int_equal(qmp_execute(vm->qmp, "query-status", args, clock_deadline(5000), NULL, &err),
			 -EREMOTEIO);
	json_io_unref(args);
	assert_non_null(strstr(err.msg, "QMP command 'query-status': GenericError: "));
	assert_non_null(strstr(err.msg, "bogus"));
	/* Still in step. */
	assert_int_equal(qmp_execute(vm->qmp, "query-status", NULL, clock_deadline(5000), NULL, &err), 0);
}

static void test_qmp_events(void **state)
{
	struct vm *vm = *state;
	struct events ev = { 0 };
	struct error err = { 0 };

	qmp_on_event(vm->qmp, events_record, &ev);
	assert_int_equal(qmp_execute(vm->qmp, "cont", NULL, clock_deadline(5000), NULL, &err), 0);
	assert_int_equal(qmp_execute(vm->qmp, "stop", NULL, clock_deadline(5000), NULL, &err), 0);
	assert_int_equal(qmp_wait_event(vm->qmp, QMP_EVENT_STOP, clock_deadline(5000), &err), 0);
	assert_true(qmp_event_seen(vm->qmp, QMP_EVENT_STOP));
	assert_true(qmp_event_seen(vm->qmp, QMP_EVENT_OTHER));	/* RESUME */
	assert_false(qmp_event_seen(vm->qmp, QMP_EVENT_SHUTDOWN));
	assert_true(events_has(&ev, "RESUME"));
	assert_true(events_has(&ev, "STOP"));
	/* Nothing more comes: waiting for another event times out. */
	assert_int_equal(qmp_wait_event(vm->qmp, QMP_EVENT_RESET, clock_deadline(100), &err), -ETIMEDOUT);
}

static int wait_exit(pid_t pid, int timeout_ms)
{
	int status;

	for (int i = 0; i < timeout_ms / 10; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return status;
		usleep(10 * 1000);
	}
	return -1;
}

static void test_qmp_quit(void **state)
{
	struct vm *vm = *state;
	struct events ev = { 0 };
	struct error err = { 0 };
	int status;

	qmp_on_event(vm->qmp, events_record, &ev);
	assert_int_equal(qmp_quit(vm->qmp, clock_deadline(5000), &err), 0);
	status = wait_exit(vm->pid, 5000);
	assert_true(status >= 0);
	vm->pid = -1;
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_true(qmp_event_seen(vm->qmp, QMP_EVENT_SHUTDOWN));
	assert_string_equal(ev.reason, "host-qmp-quit");
}

static void test_qmp_connect_deadline(void **state)
{
	struct error err = { 0 };
	struct qmp *qmp = NULL;
	int64_t start = clock_now_ms(), took;
	char path[160];

	snprintf(path, sizeof(path), "%s/nobody.sock", env.dir);
	assert_true(qmp_connect(path, clock_deadline(200), &qmp, &err) < 0);
	took = clock_now_ms() - start;
	assert_true(took >= 195 && took < 1000);
	assert_null(qmp);
	assert_non_null(strstr(err.msg, "before the deadline: No such file or directory"));
}

/* A fake QEMU on a listening socket: the child accepts and plays script. */
static pid_t fake_start(const char *path, int (*script)(int fd))
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	pid_t parent = getpid(), pid;
	int lfd, fd;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	unlink(path);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(lfd >= 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 1), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		_exit(getppid() == parent && fd >= 0 ? script(fd) : 1);
	}
	close(lfd);
	return pid;
}

static void fake_finish(pid_t pid)
{
	int status;

	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static int fake_read(int fd, char *buf, size_t size)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	size_t n = 0;

	while (n + 1 < size) {
		if (poll(&p, 1, 5000) <= 0 || read(fd, buf + n, 1) != 1)
			return -1;
		if (buf[n] == '\n') {
			buf[n] = '\0';
			return 0;
		}
		n++;
	}
	return -1;
}

static long long fake_id(const char *req)
{
	const char *p = strstr(req, "\"id\":");

	return p ? strtoll(p + 5, NULL, 10) : -1;
}

static int fake_printf(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fake_printf(int fd, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return send(fd, buf, n, MSG_NOSIGNAL) == n ? 0 : -1;
}

/* An event and a late reply to an older command come before the answer. */
static int fake_qemu(int fd)
{
	char req[512];

	if (fake_printf(fd, "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 3, \"minor\": 1, "
			"\"major\": 9}, \"package\": \"\"}, \"capabilities\": []}}\r\n") < 0)
		return 1;
	if (fake_read(fd, req, sizeof(req)) < 0 || !strstr(req, "qmp_capabilities") ||
	    fake_printf(fd, "{\"return\": {}, \"id\": %lld}\r\n", fake_id(req)) < 0)
		return 1;
	if (fake_read(fd, req, sizeof(req)) < 0 || !strstr(req, "query-status"))
		return 1;
	if (fake_printf(fd, "{\"timestamp\": {\"seconds\": 1, \"microseconds\": 2}, "
			"\"event\": \"GUEST_PANICKED\", \"data\": {\"action\": \"pause\"}}\r\n"
			"{\"return\": {\"status\": \"old\"}, \"id\": %lld}\r\n"
			"{\"return\": {\"status\": \"guest-panicked\"}, \"id\": %lld}\r\n",
			fake_id(req) - 1, fake_id(req)) < 0)
		return 1;
	/* quit: no reply at all, just gone, as QEMU may be. */
	if (fake_read(fd, req, sizeof(req)) < 0 || !strstr(req, "\"quit\""))
		return 1;
	return 0;
}

static void test_qmp_fake_stale_reply_and_event(void **state)
{
	struct json_value *status = NULL;
	struct events ev = { 0 };
	struct error err = { 0 };
	struct qmp *qmp = NULL;
	char path[160];
	pid_t pid;

	snprintf(path, sizeof(path), "%s/fake.sock", env.dir);
	pid = fake_start(path, fake_qemu);
	assert_int_equal(qmp_connect(path, clock_deadline(5000), &qmp, &err), 0);
	assert_int_equal(qmp_version(qmp), 90103);
	qmp_on_event(qmp, events_record, &ev);
	assert_int_equal(qmp_execute(qmp, "query-status", NULL, clock_deadline(5000), &status, &err), 0);
	assert_string_equal(json_io_get_string(status, "status"), "guest-panicked");
	json_io_unref(status);
	assert_true(qmp_event_seen(qmp, QMP_EVENT_GUEST_PANICKED));
	assert_true(events_has(&ev, "GUEST_PANICKED"));
	assert_int_equal(qmp_quit(qmp, clock_deadline(5000), &err), 0);
	qmp_free(qmp);
	fake_finish(pid);
}

/* A detached dump: its reply at once, its DUMP_COMPLETED later, and then
 * nothing more (QEMU waits for the next command). */
static int fake_qemu_dump(int fd)
{
	char req[512];

	if (fake_printf(fd, "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 2, "
			"\"major\": 7}, \"package\": \"\"}, \"capabilities\": []}}\r\n") < 0)
		return 1;
	if (fake_read(fd, req, sizeof(req)) < 0 || !strstr(req, "qmp_capabilities") ||
	    fake_printf(fd, "{\"return\": {}, \"id\": %lld}\r\n", fake_id(req)) < 0)
		return 1;
	if (fake_read(fd, req, sizeof(req)) < 0 || !strstr(req, "dump-guest-memory") ||
	    fake_printf(fd, "{\"return\": {}, \"id\": %lld}\r\n", fake_id(req)) < 0)
		return 1;
	usleep(200 * 1000);
	if (fake_printf(fd, "{\"timestamp\": {\"seconds\": 1, \"microseconds\": 2}, "
			"\"event\": \"DUMP_COMPLETED\", \"data\": {\"result\": {\"total\": 8, "
			"\"status\": \"failed\", \"completed\": 4}, \"error\": \"disk full\"}}\r\n") < 0)
		return 1;
	/* Held open: an answer that waits for a reply would wait for ever. */
	return fake_read(fd, req, sizeof(req)) < 0 || !strstr(req, "\"quit\"");
}

static void dump_error(enum qmp_event event, const char *name, const struct json_value *data,
		       void *userdata)
{
	if (event == QMP_EVENT_DUMP_COMPLETED && data && json_io_get_string(data, "error"))
		snprintf(userdata, 64, "%s", json_io_get_string(data, "error"));
}

/* qmp_wait_event returns on the event itself, with no reply after it. */
static void test_qmp_fake_event_after_reply(void **state)
{
	struct error err = { 0 };
	struct qmp *qmp = NULL;
	char path[160], failure[64] = "";
	pid_t pid;

	snprintf(path, sizeof(path), "%s/fake.sock", env.dir);
	pid = fake_start(path, fake_qemu_dump);
	assert_int_equal(qmp_connect(path, clock_deadline(5000), &qmp, &err), 0);
	qmp_on_event(qmp, dump_error, failure);
	assert_int_equal(qmp_execute(qmp, "dump-guest-memory", NULL, clock_deadline(5000), NULL,
				     &err), 0);
	assert_false(qmp_event_seen(qmp, QMP_EVENT_DUMP_COMPLETED));
	assert_int_equal(qmp_wait_event(qmp, QMP_EVENT_DUMP_COMPLETED, clock_deadline(3000), &err),
			 0);
	assert_string_equal(failure, "disk full");
	assert_int_equal(qmp_quit(qmp, clock_deadline(5000), &err), 0);
	qmp_free(qmp);
	fake_finish(pid);
}

static int fake_not_qmp(int fd)
{
	return fake_printf(fd, "{\"hello\": \"world\"}\n") < 0;
}

static void test_qmp_fake_not_qmp(void **state)
{
	struct error err = { 0 };
	struct qmp *qmp = NULL;
	char path[160], want[256];
	pid_t pid;

	snprintf(path, sizeof(path), "%s/fake.sock", env.dir);
	pid = fake_start(path, fake_not_qmp);
	assert_int_equal(qmp_connect(path, clock_deadline(5000), &qmp, &err), -EPROTO);
	snprintf(want, sizeof(want), "QMP %s: the peer is not QMP: it did not greet with \"QMP\"", path);
	assert_string_equal(err.msg, want);
	assert_null(qmp);
	fake_finish(pid);
}

#define vm_test(fn) cmocka_unit_test_setup_teardown(fn, vm_setup, vm_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_qmp_connect_deadline),
		cmocka_unit_test(test_qmp_fake_stale_reply_and_event),
		cmocka_unit_test(test_qmp_fake_event_after_reply),
		cmocka_unit_test(test_qmp_fake_not_qmp),
		vm_test(test_qmp_query),
		vm_test(test_qmp_errors),
		vm_test(test_qmp_events),
		vm_test(test_qmp_quit),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
