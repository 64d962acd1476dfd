// SPDX-License-Identifier: MIT
#include "base/error.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static int error_vset(struct error *err, int code, const char *fmt, va_list ap)
{
	err->code = code > 0 ? code : EINVAL;
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	return -err->code;
}

int error_set(struct error *err, int code, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = error_vset(err, code, fmt, ap);
	va_end(ap);
	err->status = EXIT_STATUS_UNAVAILABLE;
	return r;
}

int error_set_errno(struct error *err, int code, const char *fmt, ...)
{
	va_list ap;
	size_t n;
	int r;

	va_start(ap, fmt);
	r = error_vset(err, code, fmt, ap);
	va_end(ap);
	n = strlen(err->msg);
	snprintf(err->msg + n, sizeof(err->msg) - n, ": %s", strerror(err->code));
	err->status = EXIT_STATUS_UNAVAILABLE;
	return r;
}

int error_usage(struct error *err, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = error_vset(err, EINVAL, fmt, ap);
	va_end(ap);
	err->status = EXIT_STATUS_USAGE;
	return r;
}

int error_prefix(struct error *err, const char *fmt, ...)
{
	char joined[sizeof(err->msg)];
	size_t n;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(joined, sizeof(joined), fmt, ap);
	va_end(ap);
	n = strlen(joined);
	/* Truncation keeps the context, which says most about where. */
	if (n + 2 < sizeof(joined)) {
		memcpy(joined + n, ": ", 3);
		strncat(joined, err->msg, sizeof(joined) - n - 3);
	}
	memcpy(err->msg, joined, sizeof(err->msg));
	return -(err->code ? err->code : EINVAL);
}
