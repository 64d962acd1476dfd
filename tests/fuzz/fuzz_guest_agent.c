/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the guest init's agent: the bytes the host sends on
 * org.qemu.guest_agent.0, through a real socket in pieces of 1-64 bytes
 * (the first input byte), framed into requests (the 0xFF reset, objects
 * split across reads, garbage between them) and answered.
 *
 * The commands that act on the guest (guest-exec, guest-exec-status,
 * vmtest-setup) are the agent's own argument handling down to the calls
 * into exec.c and setup.c; those two are replaced below by functions that
 * check what they were given, so a fuzzer never starts processes or mounts
 * file systems on the machine that runs it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent.h"
#include "kmsg.h"
#include "exec.h"
#include "setup.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FAKE_PID 4242

static volatile size_t sink;

/* --- what agent.c calls in exec.c and setup.c ------------------------------ */

int exec_start(const struct exec_request *req, pid_t *ret_pid, char *err, size_t err_len)
{
	if (!req->path || !req->argv || !req->envp)
		abort();	/* the agent must have refused the request */
	for (char **a = req->argv; *a; a++)
		sink += strlen(*a);
	for (char **e = req->envp; *e; e++)
		sink += strlen(*e);
	for (size_t i = 0; i < req->input_len; i++)
		sink += (unsigned char)req->input[i];
	if (req->path[0] != '/') {
		snprintf(err, err_len, "%s: No such file or directory", req->path);
		return -1;
	}
	*ret_pid = FAKE_PID;
	return 0;
}

int exec_status(pid_t pid, struct exec_status *ret)
{
	static const char out[] = "out\n\xff\x00 binary";

	if (pid != FAKE_PID)
		return -1;
	*ret = (struct exec_status){ .exited = true, .exit_code = 3 };
	ret->out = malloc(sizeof(out));
	if (ret->out) {
		memcpy(ret->out, out, sizeof(out));
		ret->out_len = sizeof(out);
	}
	return 0;
}

void kmsg_start(void)
{
}

int setup_run(struct setup_request *req, char *err, size_t err_len)
{
	for (size_t i = 0; i < req->n_mounts; i++)
		if (!req->mounts[i].tag || !req->mounts[i].path)
			abort();	/* the agent checks both */
	if (req->shared_host_path)
		sink += strlen(req->shared_host_path);
	if (req->msize == 0) {
		snprintf(err, err_len, "bad msize");
		return -1;
	}
	return 0;
}

/* --- the target ----------------------------------------------------------- */

static void drain(int fd)
{
	char buf[65536];
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0)
		sink += (size_t)n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct agent *agent;
	size_t piece, off = 1;
	int sv[2];

	if (size < 1)
		return 0;
	piece = (size_t)(data[0] % 64) + 1;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return 0;
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	agent = agent_new(sv[0]);
	if (!agent)
		abort();
	while (off < size) {
		size_t n = size - off < piece ? size - off : piece;

		if (write(sv[1], data + off, n) != (ssize_t)n)
			abort();
		off += n;
		/* Each piece is read and answered before the next: at most a
		 * few dozen short replies, far below the socket's buffer. */
		agent_handle_input(agent);
		drain(sv[1]);
	}
	agent_free(agent);
	close(sv[0]);
	close(sv[1]);
	return 0;
}
