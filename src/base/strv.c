// SPDX-License-Identifier: MIT
#include "base/strv.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Appending takes ownership of s (which may be NULL after a failed copy). */
static void strv_take(struct strv *v, char *s)
{
	if (!s || v->oom) {
		v->oom = 1;
		free(s);
		return;
	}
	if (v->len + 2 > v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 16;
		char **grown = realloc(v->items, cap * sizeof(*grown));

		if (!grown) {
			v->oom = 1;
			free(s);
			return;
		}
		v->items = grown;
		v->cap = cap;
	}
	v->items[v->len++] = s;
	v->items[v->len] = NULL;
}

void strv_add(struct strv *v, const char *s)
{
	strv_take(v, strdup(s));
}

void strv_addf(struct strv *v, const char *fmt, ...)
{
	char *s = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	strv_take(v, s);
}

void strv_clear(struct strv *v)
{
	for (size_t i = 0; i < v->len; i++)
		free(v->items[i]);
	free(v->items);
	*v = (struct strv){ 0 };
}
