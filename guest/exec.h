/* SPDX-License-Identifier: MIT */
/*
 * exec: the commands the host starts with guest-exec, their output and
 * their exit status.  PID 1 reaps every process; the ones started here are
 * remembered until guest-exec-status has reported them, as qemu-ga does.
 */
#pragma once

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define EXEC_MAX_JOBS 16
/* As qemu-ga: captured output is capped per stream. */
#define EXEC_CAPTURE_MAX (16 * 1024 * 1024)

struct exec_request {
	const char *path;
	char **argv;		/* NULL-terminated, argv[0] included */
	char **envp;		/* NULL-terminated */
	const char *cwd;	/* NULL or missing in the guest: / */
	const char *input;	/* stdin contents, may be NULL */
	size_t input_len;
	bool capture;		/* keep output for guest-exec-status */
	bool stream;		/* relay output over the output port */
	bool tty;		/* on a pty, fed by the host's records */
	unsigned short rows, cols;	/* its first window size */
};

struct exec_status {
	bool exited;
	int exit_code;		/* when exited normally */
	int signal;		/* when killed, else 0 */
	char *out, *err;	/* captured output (malloc'd, caller frees) */
	size_t out_len, err_len;
	bool out_truncated, err_truncated;
};

/* The output port, or -1 when there is none. */
void exec_set_output_fd(int fd);

/* 0 with *ret_pid, or -1 with a message in err. */
int exec_start(const struct exec_request *req, pid_t *ret_pid, char *err, size_t err_len);

/* 0 and the status (forgetting the job once it has exited), or -ESRCH. */
int exec_status(pid_t pid, struct exec_status *ret);

/* For the main loop: the pipes to watch, then what to do with them. */
size_t exec_fill_pollfds(struct pollfd *pfds, size_t max);
void exec_handle_pollfds(const struct pollfd *pfds, size_t n);

/* Whether a command on a pty runs, so the output port must be read. */
bool exec_has_tty(void);

/* Records from the host on the output port: keystrokes, window sizes. */
void exec_handle_port_input(int port_fd);

/* A child has been reaped (PID 1 reaps all). */
void exec_child_exited(pid_t pid, int wstatus);
