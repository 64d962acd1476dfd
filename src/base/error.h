/* SPDX-License-Identifier: MIT */
/*
 * error: how a failure travels up to main.
 *
 * As in crun: a function that can fail takes `struct error *err`, fills it
 * and returns a negative errno.  Callers add context on the way up with
 * error_prefix() ("vmtest.toml:3:10: target 'x': kernel: ..."); only main
 * prints it and picks the exit status, from err->status.
 */
#pragma once

#include <stdarg.h>

/* Exit statuses, documented in the README and the man page. */
enum exit_status {
	EXIT_STATUS_OK = 0,
	EXIT_STATUS_FAILED = 1,		/* several targets, not all passed */
	EXIT_STATUS_USAGE = 2,		/* bad command line or configuration */
	EXIT_STATUS_UNAVAILABLE = 69,	/* EX_UNAVAILABLE: the VM could not run the command */
	/* One kernel target whose command succeeded while its kernel warned (EX_OSERR). */
	EXIT_STATUS_KERNEL_WARNING = 71,
	EXIT_STATUS_TIMEOUT = 124,	/* as timeout(1): a command stopped for taking too long */
};

struct error {
	int code;			/* positive errno, or 0 */
	enum exit_status status;	/* what main exits with */
	char msg[2048];
};

/* Fill err (msg from fmt) with errno-style code; returns -code (or -1). */
int error_set(struct error *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* As error_set, with ": strerror(code)" appended. */
int error_set_errno(struct error *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Prepend context and ": " to the message already in err; returns -code. */
int error_prefix(struct error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Mark the failure as a usage/configuration error (exit status 2). */
int error_usage(struct error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
