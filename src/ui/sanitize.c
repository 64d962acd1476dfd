// SPDX-License-Identifier: MIT
#include "ui/sanitize.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/utf8.h"

#define ESC 0x1b
#define TAB_STOP 8

struct sanitize_buf {
	char *p;
	size_t len, cap;
	bool oom;
};

static void sanitize_put(struct sanitize_buf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = (b->len + n + 1) * 2;
		char *p = realloc(b->p, cap);

		if (!p) {
			b->oom = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

/* The length of the UTF-8 sequence at s and its code point; 0 when it is
 * not valid UTF-8, cut short included. */
static size_t sanitize_utf8(const unsigned char *s, size_t n, uint32_t *ret)
{
	int len = utf8_decode(s, n, ret);

	return len > 0 ? (size_t)len : 0;
}

/*
 * Columns a code point takes; -1 for one never to show (C1 controls).
 * A small table rather than wcwidth(3), which depends on the locale: the
 * combining marks and zero-width characters take none, the wide East Asian
 * ranges and emoji two.
 */
static int sanitize_columns(uint32_t c)
{
	static const uint32_t zero[][2] = {
		{ 0x0300, 0x036f }, { 0x0483, 0x0489 }, { 0x0591, 0x05bd }, { 0x0610, 0x061a },
		{ 0x064b, 0x065f }, { 0x200b, 0x200f }, { 0x202a, 0x202e }, { 0x2060, 0x2064 },
		{ 0x20d0, 0x20ff }, { 0xfe00, 0xfe0f }, { 0xfe20, 0xfe2f }, { 0xfeff, 0xfeff },
	};
	static const uint32_t wide[][2] = {
		{ 0x1100, 0x115f }, { 0x2e80, 0x303e }, { 0x3041, 0x33ff }, { 0x3400, 0x4dbf },
		{ 0x4e00, 0x9fff }, { 0xa000, 0xa4cf }, { 0xac00, 0xd7a3 }, { 0xf900, 0xfaff },
		{ 0xfe30, 0xfe4f }, { 0xff00, 0xff60 }, { 0xffe0, 0xffe6 }, { 0x1f300, 0x1f64f },
		{ 0x1f900, 0x1f9ff }, { 0x20000, 0x3fffd },
	};

	if (c >= 0x80 && c < 0xa0)
		return -1;
	for (size_t i = 0; i < sizeof(zero) / sizeof(zero[0]); i++)
		if (c >= zero[i][0] && c <= zero[i][1])
			return 0;
	for (size_t i = 0; i < sizeof(wide) / sizeof(wide[0]); i++)
		if (c >= wide[i][0] && c <= wide[i][1])
			return 2;
	return 1;
}

/*
 * The length of the escape sequence at s (s[0] is ESC), all of it when it
 * is cut short.  *ret_sgr says whether it is a CSI ending in 'm'.
 */
static size_t sanitize_escape(const unsigned char *s, size_t n, bool *ret_sgr)
{
	size_t i = 2;

	*ret_sgr = false;
	if (n < 2)
		return n;
	switch (s[1]) {
	case '[': /* CSI: parameters, intermediates, one final byte */
		while (i < n && s[i] >= 0x30 && s[i] <= 0x3f)
			i++;
		while (i < n && s[i] >= 0x20 && s[i] <= 0x2f)
			i++;
		if (i < n && s[i] >= 0x40 && s[i] <= 0x7e) {
			*ret_sgr = s[i] == 'm';
			return i + 1;
		}
		return i < n ? i : n; /* malformed: drop what was read */
	case ']': /* OSC, DCS, SOS, PM, APC: strings up to BEL or ESC \ */
	case 'P':
	case 'X':
	case '^':
	case '_':
		for (; i < n; i++) {
			if (s[i] == 0x07)
				return i + 1;
			if (s[i] == ESC && i + 1 < n && s[i + 1] == '\\')
				return i + 2;
		}
		return n;
	default: /* ESC, intermediates, one final byte (ESC c, ESC ( B, ...) */
		i = 1;
		while (i < n && s[i] >= 0x20 && s[i] <= 0x2f)
			i++;
		return i < n ? i + 1 : n;
	}
}

char *sanitize_line(const char *in, size_t len, const struct sanitize_options *o,
		    unsigned *ret_columns)
{
	const unsigned char *s = (const unsigned char *)in;
	struct sanitize_buf b = { 0 };
	unsigned col = 0;
	size_t i = 0;

	/* A carriage return starts the line over: keep what follows the last
	 * one that something follows ("\r\n" line ends are no such thing). */
	while (len && s[len - 1] == '\r')
		len--;
	for (size_t k = len; k > 0; k--)
		if (s[k - 1] == '\r') {
			i = k;
			break;
		}
	sanitize_put(&b, "", 0);
	while (i < len) {
		uint32_t c;
		size_t n;
		int w;

		if (s[i] == ESC) {
			bool sgr;

			n = sanitize_escape(s + i, len - i, &sgr);
			if (sgr && o->keep_sgr) {
				sanitize_put(&b, in + i, n);
				if (o->after_sgr)
					sanitize_put(&b, o->after_sgr, strlen(o->after_sgr));
			}
			i += n;
			continue;
		}
		if (s[i] == '\t') {
			unsigned next = (col / TAB_STOP + 1) * TAB_STOP;

			if (o->width && next > o->width)
				next = o->width;
			while (col < next) {
				sanitize_put(&b, " ", 1);
				col++;
			}
			i++;
			continue;
		}
		if (s[i] < 0x20 || s[i] == 0x7f) {
			i++;
			continue;
		}
		n = sanitize_utf8(s + i, len - i, &c);
		if (!n) {
			c = '?';
			w = 1;
			n = 1;
		} else {
			w = sanitize_columns(c);
		}
		if (w < 0) {
			i += n;
			continue;
		}
		if (o->width && col + (unsigned)w > o->width)
			break;
		sanitize_put(&b, c == '?' ? "?" : in + i, c == '?' ? 1 : n);
		col += (unsigned)w;
		i += n;
	}
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	if (ret_columns)
		*ret_columns = col;
	return b.p;
}
