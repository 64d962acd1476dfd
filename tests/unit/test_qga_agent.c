// SPDX-License-Identifier: MIT
/*
 * The guest agent client against the real qemu-ga, started on the host on
 * a unix socket: what a guest's agent answers, as vmtest asks it.
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

/* ---- the real qemu-ga, on the host, over a unix socket ---- */

static struct {
	char dir[64];
	char sock[128];
	char qemu_ga[256];
	pid_t pid;
} agent = { .pid = -1 };

/* qemu-ga lives in sbin, which is not on every user's PATH. */
static bool agent_find(void)
{
	return peer_find("VMTEST_QEMU_GA", "qemu-ga", agent.qemu_ga, sizeof(agent.qemu_ga));
}

static void agent_stop(void)
{
	if (agent.pid > 0) {
		kill(agent.pid, SIGKILL);
		waitpid(agent.pid, NULL, 0);
	}
	agent.pid = -1;
}

static bool agent_alive(void)
{
	if (agent.pid > 0 && waitpid(agent.pid, NULL, WNOHANG) == 0)
		return true;
	agent.pid = -1;
	return false;
}

/*
 * Commands that would touch the host are blocked, for safety.  The state
 * and pid files go to the temporary directory, so nothing needs /var/run.
 */
static bool agent_start(void)
{
	char statedir[96], pidfile[96], log[96];
	char *argv[] = {
		agent.qemu_ga, "--method=unix-listen", "--path", agent.sock,
		"--statedir", statedir, "--pidfile", pidfile,
		"--block-rpcs=guest-shutdown,guest-suspend-disk,guest-suspend-ram,"
		"guest-suspend-hybrid,guest-set-time,guest-set-user-password,guest-set-vcpus,"
		"guest-set-memory-blocks,guest-fsfreeze-freeze,guest-fsfreeze-freeze-list,"
		"guest-fstrim,guest-ssh-add-authorized-keys,guest-ssh-remove-authorized-keys",
		NULL,
	};

	snprintf(statedir, sizeof(statedir), "%s", agent.dir);
	snprintf(pidfile, sizeof(pidfile), "%s/qga.pid", agent.dir);
	snprintf(log, sizeof(log), "%s/qga.log", agent.dir);
	unlink(agent.sock);
	agent.pid = peer_start(argv, log);
	return agent.pid > 0;
}

static int agent_group_setup(void **state)
{
	if (!peer_dir_make(agent.dir, sizeof(agent.dir), "qga"))
		return -1;
	snprintf(agent.sock, sizeof(agent.sock), "%s/qga.sock", agent.dir);
	agent_find();
	return 0;
}

static int agent_group_teardown(void **state)
{
	agent_stop();
	return peer_dir_remove(agent.dir);
}

/* Each test gets its own connection; qemu-ga is (re)started when not running. */
static int agent_setup(void **state)
{
	struct error err = { 0 };
	struct qga *qga;

	if (!agent.qemu_ga[0]) {
		print_error("qemu-ga not found: install qemu-guest-agent, or set VMTEST_QEMU_GA\n");
		return -1;
	}
	if (!agent_alive() && !agent_start()) {
		print_error("cannot start %s\n", agent.qemu_ga);
		return -1;
	}
	/* Short attempts, so that an agent that died at once fails at once. */
	for (int i = 0; i < 50; i++) {
		if (qga_connect(agent.sock, clock_deadline(100), &qga, &err) == 0) {
			*state = qga;
			return 0;
		}
		if (!agent_alive())
			break;
	}
	print_error("%s (see %s/qga.log)\n", err.msg, agent.dir);
	return -1;
}

static int agent_teardown(void **state)
{
	qga_free(*state);
	return 0;
}

/* Run argv[0] with the rest as arguments and wait for its end. */
static int agent_run(struct qga *qga, const struct qga_exec_request *req,
		     struct qga_exec_status *st, struct error *err)
{
	int64_t deadline = clock_deadline(15000), pid;
	int r;

	r = qga_exec_start(qga, req, deadline, &pid, err);
	if (r < 0)
		return r;
	return qga_exec_wait(qga, pid, deadline, st, err);
}

static void test_agent_sync_ping_info(void **state)
{
	struct qga *qga = *state;
	struct error err = { 0 };
	char *version = NULL;

	assert_int_equal(qga_sync_delimited(qga, clock_deadline(5000), &err), 0);
	assert_int_equal(qga_sync(qga, clock_deadline(5000), &err), 0);
	assert_int_equal(qga_ping(qga, clock_deadline(5000), &err), 0);
	assert_int_equal(qga_info(qga, clock_deadline(5000), &version, &err), 0);
	print_message("# qemu-ga version %s\n", version);
	assert_true(qga_version_at_least(version, 2, 5));
	free(version);
	/* A second sync finds the stream clean again. */
	assert_int_equal(qga_sync_delimited(qga, clock_deadline(5000), &err), 0);
}

/* The agent blocks guest-shutdown (agent_start): guest-info says so. */
static void test_agent_command_enabled(void **state)
{
	struct qga *qga = *state;
	struct error err = { 0 };
	bool enabled = false;

	assert_int_equal(qga_command_enabled(qga, "guest-exec", clock_deadline(5000), &enabled,
					     &err), 0);
	assert_true(enabled);
	assert_int_equal(qga_command_enabled(qga, "guest-shutdown", clock_deadline(5000),
					     &enabled, &err), 0);
	assert_false(enabled);
	assert_int_equal(qga_command_enabled(qga, "guest-no-such-command", clock_deadline(5000),
					     &enabled, &err), 0);
	assert_true(enabled);
}

static void test_agent_exec_outputs(void **state)
{
	const char *argv[] = { "-c", "echo out; echo err >&2; exit 12", NULL };
	struct qga_exec_request req = { .path = "/bin/sh", .argv = argv, .capture = QGA_CAPTURE_SEPARATE };
	struct qga_exec_status st;
	struct error err = { 0 };

	assert_int_equal(agent_run(*state, &req, &st, &err), 0);
	assert_true(st.exited);
	assert_int_equal(st.exitcode, 12);
	assert_int_equal(st.signal, 0);
	assert_string_equal(st.out_data, "out\n");
	assert_string_equal(st.err_data, "err\n");
	assert_false(st.out_truncated);
	assert_false(st.err_truncated);
	qga_exec_status_clear(&st);
}

static void test_agent_exec_input_env(void **state)
{
	static const char input[] = "hello\0world\xff\n";
	const char *argv[] = { "-c", "printf '%s|' \"$FOO\"; cat", NULL };
	const char *envp[] = { "FOO=b a r", "PATH=/usr/bin:/bin", NULL };
	struct qga_exec_request req = {
		.path = "/bin/sh", .argv = argv, .envp = envp,
		.input = input, .input_len = sizeof(input) - 1, .capture = QGA_CAPTURE_SEPARATE,
	};
	struct qga_exec_status st;
	struct error err = { 0 };

	assert_int_equal(agent_run(*state, &req, &st, &err), 0);
	assert_int_equal(st.exitcode, 0);
	assert_int_equal(st.out_len, 6 + sizeof(input) - 1);
	assert_memory_equal(st.out_data, "b a r|hello\0world\xff\n", st.out_len);
	qga_exec_status_clear(&st);
}

static void test_agent_exec_signal(void **state)
{
	const char *argv[] = { "-c", "kill -9 $$", NULL };
	struct qga_exec_request req = { .path = "/bin/sh", .argv = argv, .capture = QGA_CAPTURE_SEPARATE };
	struct qga_exec_status st;
	struct error err = { 0 };

	assert_int_equal(agent_run(*state, &req, &st, &err), 0);
	assert_true(st.exited);
	assert_int_equal(st.signal, 9);
	assert_int_equal(st.exitcode, -1);
	qga_exec_status_clear(&st);
}

static void test_agent_exec_errors(void **state)
{
	struct qga_exec_request req = { .path = "/nonexistent/program", .capture = QGA_CAPTURE_SEPARATE };
	struct qga *qga = *state;
	struct error err = { 0 };
	int64_t pid;

	assert_int_equal(qga_exec_start(qga, &req, clock_deadline(5000), &pid, &err), -EREMOTEIO);
	assert_non_null(strstr(err.msg, "guest-exec: GenericError: "));
	assert_non_null(strstr(err.msg, "/nonexistent/program"));
	/* qemu-ga before 8.1 takes only a boolean: asking for "merged" fails here. */
	req.path = "/bin/true";
	req.capture = QGA_CAPTURE_MERGED;
	assert_int_equal(qga_exec_start(qga, &req, clock_deadline(5000), &pid, &err), -EOPNOTSUPP);
	assert_non_null(strstr(err.msg, "guest-exec: merged output needs qemu-ga 8.1 or later"));
}

/* The output comes once, with the exit status; then the pid is forgotten. */
static void test_agent_status_once(void **state)
{
	const char *argv[] = { "-c", "echo once", NULL };
	struct qga_exec_request req = { .path = "/bin/sh", .argv = argv, .capture = QGA_CAPTURE_SEPARATE };
	struct qga_exec_status st;
	struct qga *qga = *state;
	struct error err = { 0 };
	int64_t pid;

	assert_int_equal(qga_exec_start(qga, &req, clock_deadline(5000), &pid, &err), 0);
	assert_int_equal(qga_exec_wait(qga, pid, clock_deadline(5000), &st, &err), 0);
	assert_string_equal(st.out_data, "once\n");
	qga_exec_status_clear(&st);
	assert_int_equal(qga_exec_get_status(qga, pid, clock_deadline(5000), &st, &err), -EREMOTEIO);
	assert_string_equal(err.msg, "guest-exec-status: GenericError: Invalid parameter 'pid'");
	/* An error with our id leaves the stream usable. */
	assert_int_equal(qga_ping(qga, clock_deadline(5000), &err), 0);
}

/* The shell exits at once, but its child holds stdout: not exited till then. */
static void test_agent_daemon_holds_output(void **state)
{
	const char *argv[] = { "-c", "sleep 1 & echo hi", NULL };
	struct qga_exec_request req = { .path = "/bin/sh", .argv = argv, .capture = QGA_CAPTURE_SEPARATE };
	int64_t start = clock_now_ms(), pid;
	struct qga_exec_status st;
	struct qga *qga = *state;
	struct error err = { 0 };

	assert_int_equal(qga_exec_start(qga, &req, clock_deadline(5000), &pid, &err), 0);
	usleep(300 * 1000);
	assert_int_equal(qga_exec_get_status(qga, pid, clock_deadline(5000), &st, &err), 0);
	assert_false(st.exited);
	assert_null(st.out_data);
	assert_int_equal(qga_exec_wait(qga, pid, clock_deadline(5000), &st, &err), 0);
	assert_true(clock_now_ms() - start >= 950);
	assert_int_equal(st.exitcode, 0);
	assert_string_equal(st.out_data, "hi\n");
	qga_exec_status_clear(&st);
}

static void test_agent_output_cap(void **state)
{
	const char *argv[] = { "-c", "head -c 17825792 /dev/zero; echo err >&2", NULL };
	struct qga_exec_request req = { .path = "/bin/sh", .argv = argv, .capture = QGA_CAPTURE_SEPARATE };
	struct qga_exec_status st;
	struct error err = { 0 };

	assert_int_equal(agent_run(*state, &req, &st, &err), 0);
	assert_int_equal(st.exitcode, 0);
	assert_true(st.out_truncated);
	assert_int_equal(st.out_len, 16 * MiB);
	assert_false(st.err_truncated);
	assert_string_equal(st.err_data, "err\n");
	qga_exec_status_clear(&st);
}

/* Refused before anything is sent: the connection stays in step. */
static void test_agent_non_utf8_refused(void **state)
{
	const char *argv[] = { "-c", "echo \xff\xfe", NULL };
	const char *envp[] = { "A=1", "B=caf\xe9", NULL };
	struct qga_exec_request req = { .path = "/bin/sh", .argv = argv };
	struct qga *qga = *state;
	struct error err = { 0 };
	int64_t pid;

	assert_int_equal(qga_exec_start(qga, &req, clock_deadline(5000), &pid, &err), -EILSEQ);
	assert_string_equal(err.msg, "guest-exec: argument 2 is not valid UTF-8; the guest agent carries text only");
	argv[1] = "echo caf\xc3\xa9";
	req.envp = envp;
	assert_int_equal(qga_exec_start(qga, &req, clock_deadline(5000), &pid, &err), -EILSEQ);
	assert_string_equal(err.msg,
			    "guest-exec: environment entry 2 is not valid UTF-8; the guest agent carries text only");
	req.path = "/bin/\xc0\xafsh";
	assert_int_equal(qga_exec_start(qga, &req, clock_deadline(5000), &pid, &err), -EILSEQ);
	assert_string_equal(err.msg, "guest-exec: the path is not valid UTF-8; the guest agent carries text only");
	assert_int_equal(qga_ping(qga, clock_deadline(5000), &err), 0);
}

/* UTF-8 text, though, arrives as it was sent. */
static void test_agent_utf8_argument(void **state)
{
	const char *argv[] = { "-c", "printf '%s' \"$0\"", "caf\xc3\xa9 \xf0\x9f\x90\xa7", NULL };
	struct qga_exec_request req = { .path = "/bin/sh", .argv = argv, .capture = QGA_CAPTURE_SEPARATE };
	struct qga_exec_status st;
	struct error err = { 0 };

	assert_int_equal(agent_run(*state, &req, &st, &err), 0);
	assert_string_equal(st.out_data, "caf\xc3\xa9 \xf0\x9f\x90\xa7");
	qga_exec_status_clear(&st);
}

#define agent_test(fn) cmocka_unit_test_setup_teardown(fn, agent_setup, agent_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		agent_test(test_agent_sync_ping_info),
		agent_test(test_agent_command_enabled),
		agent_test(test_agent_exec_outputs),
		agent_test(test_agent_exec_input_env),
		agent_test(test_agent_exec_signal),
		agent_test(test_agent_exec_errors),
		agent_test(test_agent_status_once),
		agent_test(test_agent_daemon_holds_output),
		agent_test(test_agent_output_cap),
		agent_test(test_agent_non_utf8_refused),
		agent_test(test_agent_utf8_argument),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, agent_group_setup, agent_group_teardown);
}
