/* SPDX-License-Identifier: MIT */
/* strv: a growable NULL-terminated vector of owned strings (an argv). */
#pragma once

#include <stddef.h>

struct strv {
	char **items;		/* NULL-terminated once anything was added */
	size_t len;
	size_t cap;
	int oom;		/* set by any failed addition; checked once at the end */
};

/* Append a copy; on ENOMEM set strv->oom and do nothing else. */
void strv_add(struct strv *v, const char *s);
void strv_addf(struct strv *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void strv_clear(struct strv *v);
