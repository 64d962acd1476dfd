/* SPDX-License-Identifier: MIT */
/*
 * output: the command's output as it arrives from the guest's output port
 * (records, see guest_proto.h), copied to vmtest's own stdout and stderr.
 * Memory stays bounded whatever the amount: one record at a time.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

/*
 * The command's output to the user's stream fd (vmtest's stdout or stderr;
 * nothing when fd < 0), as a host command writes it: a write that fails
 * (a full disk, a closed terminal) is an error naming the stream, status
 * 69, and the caller ends the command.  A closed pipe is SIGPIPE's
 * (vm/interrupt.h): -EINTR then, and the run ends by that signal.
 */
int output_to_user(int fd, const void *buf, size_t len, struct error *err);

/* "stdout", "stderr" or "file descriptor N", for messages. */
const char *output_stream_name(int fd, char *buf, size_t size);

/*
 * Append to the view's spool (nothing when fd < 0).  Unlike the terminal,
 * a spool that cannot take the output (its file system is full) is an
 * error naming its directory: the whole block, the reports and the log
 * would otherwise miss output without a word.
 */
int output_copy(int fd, const void *buf, size_t len, struct error *err);

/* The directory of the spool file fd, for messages ("its directory" if unknown). */
void output_spool_dir(int fd, char *where, size_t size);

/*
 * Who else reads the command's output as it arrives, after the spool took
 * it: the test results' parser (results/).  stream: 1 stdout, 2 stderr.
 * It must not fail nor wait.
 */
struct output_listener {
	void (*heard)(void *data, int stream, const void *buf, size_t len);
	void *data;
};

/* Tell the listener, if any. */
void output_tell(const struct output_listener *listener, int stream, const void *buf, size_t len);

struct output_relay {
	int port_fd;		/* the output port's socket */
	uint32_t exec_id;	/* the command's pid in the guest */
	int out_fd, err_fd;	/* where its stdout and stderr go (-1: nowhere) */
	int copy_fd;		/* and both, in order (the view's spool); -1: none */
	const struct output_listener *listener;	/* NULL: none */
	int64_t deadline;	/* base/clock.h; CLOCK_NO_DEADLINE: none */
	/* A command on a pty: keystrokes from in_fd, window changes when
	 * winch_fd is readable (sizes read from the terminal on tty_fd). */
	int in_fd;		/* -1: none */
	int winch_fd;		/* -1: none */
	int tty_fd;
	/* Processes the guest depends on (pidfds, ended by -1; NULL: none):
	 * when one exits, the relay gives up with -ECHILD. */
	const int *watch_fds;
};

/*
 * Copy the command's records to the spool and then to out_fd and err_fd
 * until its END record.  Gives up at the deadline with -ETIMEDOUT, with
 * -EPIPE when the guest side closes (QEMU is gone), or at the first write
 * the user's stream refuses (output_to_user).
 */
int output_relay(const struct output_relay *relay, struct error *err);
