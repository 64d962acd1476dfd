/* SPDX-License-Identifier: MIT */
/*
 * qga: a client for the QEMU guest agent protocol, spoken by vmtest's own
 * guest init and by a real qemu-ga inside disk images.  docs/qga.md says
 * what it does and which qemu-ga quirks it copes with.
 *
 * Every request carries an id and a reply with another id is dropped (a
 * late answer to a request that timed out).  After a timeout or a garbled
 * reply the stream cannot be trusted, so the next request first resyncs
 * with guest-sync-delimited.
 *
 * Text only: JSON strings are UTF-8, and the agent turns them into the
 * guest's C strings, so bytes that are not UTF-8 cannot reach the guest
 * through a path, an argument or an environment entry.  Rather than send
 * something else than asked (U+FFFD, or the UTF-8 of each byte), the client
 * refuses such a request with -EILSEQ and a message naming the argument,
 * before anything is sent.  Binary data goes in as input (base64 on the
 * wire) or in a file.
 *
 * Time limits are deadlines on clock_now_ms()'s clock (clock_deadline()).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/clock.h"
#include "base/error.h"
#include "vm/json_io.h"

struct qga;

/* Connect to the agent's unix socket, waiting for it until deadline. */
int qga_connect(const char *path, int64_t deadline, struct qga **ret, struct error *err);

/* Speak to the agent on fd (a connected stream socket, taken over). */
int qga_open_fd(int fd, struct qga **ret, struct error *err);

/* Close the connection; returns NULL. */
struct qga *qga_free(struct qga *qga);

/*
 * Bring the stream into a known state: 0xFF to reset the agent's parser,
 * guest-sync-delimited with a random id, and everything before the agent's
 * 0xFF and every reply but the one returning that id thrown away.
 */
int qga_sync_delimited(struct qga *qga, int64_t deadline, struct error *err);

/* guest-sync with a random id: the same without the delimiters. */
int qga_sync(struct qga *qga, int64_t deadline, struct error *err);

int qga_ping(struct qga *qga, int64_t deadline, struct error *err);

/* guest-info: the agent's version ("7.2.22"), malloc'd when ret_version is set. */
int qga_info(struct qga *qga, int64_t deadline, char **ret_version, struct error *err);

/* Whether version ("8.1.0", "10.0.2-rc1") is at least major.minor, by number. */
/*
 * Whether the agent allows command (guest-info's supported_commands): an
 * agent started with --block-rpcs or --allow-rpcs lists it as disabled.
 * An agent that does not list it at all counts as allowing it.
 */
int qga_command_enabled(struct qga *qga, const char *command, int64_t deadline,
			bool *ret_enabled, struct error *err);

bool qga_version_at_least(const char *version, unsigned major, unsigned minor);

enum qga_capture {
	QGA_CAPTURE_NONE,	/* output goes nowhere */
	QGA_CAPTURE_SEPARATE,	/* stdout and stderr, each kept apart */
	QGA_CAPTURE_MERGED,	/* both in out_data; needs an agent >= 8.1 */
};

struct qga_exec_request {
	const char *path;
	const char *const *argv;	/* the arguments after argv[0], NULL-terminated, or NULL */
	const char *const *envp;	/* NAME=value, NULL-terminated; NULL keeps the agent's */
	const void *input;		/* stdin's whole content, or NULL for none */
	size_t input_len;
	enum qga_capture capture;
	/* vmtest's own guest init only (a real qemu-ga refuses them): */
	const char *vmtest_cwd;		/* the directory to run in; NULL: / */
	bool vmtest_stream;		/* relay output live over the output port */
	bool vmtest_tty;		/* run on a pty, keystrokes from the port */
	unsigned short vmtest_rows, vmtest_cols;	/* the pty's size */
};

/*
 * guest-exec: start the program and return its pid in the guest.  Merged
 * capture asks the agent's version first; an older agent gets -EOPNOTSUPP,
 * the caller picks another way.
 */
/*
 * Any command and its "return" value (may be NULL when not wanted), for
 * commands this client has no wrapper for, such as vmtest's vmtest-setup.
 */
int qga_execute(struct qga *qga, const char *command, const struct json_value *args,
		int64_t deadline, struct json_value **ret_return, struct error *err);

int qga_exec_start(struct qga *qga, const struct qga_exec_request *req, int64_t deadline,
		   int64_t *ret_pid, struct error *err);

struct qga_exec_status {
	bool exited;
	int exitcode;		/* -1 unless it exited normally */
	int signal;		/* the signal that killed it, or 0 */
	char *out_data;		/* decoded and NUL-terminated; NULL when none came */
	size_t out_len;
	char *err_data;
	size_t err_len;
	bool out_truncated;	/* the agent kept only the first 16 MiB */
	bool err_truncated;
};

/* Free the buffers of st and zero it. */
void qga_exec_status_clear(struct qga_exec_status *st);

/*
 * guest-exec-status, once.  qemu-ga hands the output over with the exit
 * status and then forgets the pid: asking again is an error.
 */
int qga_exec_get_status(struct qga *qga, int64_t pid, int64_t deadline,
			struct qga_exec_status *ret, struct error *err);

/*
 * Poll guest-exec-status, backing off from 5 to 50 ms, until it exited.
 * Output sent along with a "still running" status is dropped: qemu-ga
 * sends none, and an agent that streams wants qga_exec_get_status().
 */
int qga_exec_wait(struct qga *qga, int64_t pid, int64_t deadline,
		  struct qga_exec_status *ret, struct error *err);

/*
 * guest-shutdown with mode "powerdown", "reboot" or "halt" (NULL: the
 * agent's default).  A successful shutdown is never answered: the
 * connection closing, or silence until deadline, is success; an error
 * reply is an error.
 */
int qga_shutdown(struct qga *qga, const char *mode, int64_t deadline, struct error *err);

static inline void qga_freep(struct qga **qga)
{
	qga_free(*qga);
}

#define _cleanup_qga_ _cleanup_(qga_freep)
