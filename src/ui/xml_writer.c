// SPDX-License-Identifier: MIT
#include "ui/xml_writer.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io.h"
#include "base/utf8.h"


static void xml_out(struct xml_writer *x, const char *s, size_t n)
{
	if (x->fd >= 0) {
		int r = x->error ? 0 : io_write_all(x->fd, s, n);

		if (r < 0)
			x->error = -r;
		return;
	}
	if (x->mem_len + n + 1 > x->mem_cap) {
		size_t cap = (x->mem_len + n + 1) * 2;
		char *p = realloc(x->mem, cap);

		if (!p)
			return;
		x->mem = p;
		x->mem_cap = cap;
	}
	memcpy(x->mem + x->mem_len, s, n);
	x->mem_len += n;
	x->mem[x->mem_len] = '\0';
}

void xml_put(struct xml_writer *x, const char *s, size_t n)
{
	if (x->len + n > sizeof(x->buf)) {
		xml_out(x, x->buf, x->len);
		x->len = 0;
	}
	if (n > sizeof(x->buf)) {
		xml_out(x, s, n);
		return;
	}
	memcpy(x->buf + x->len, s, n);
	x->len += n;
}

void xml_flush(struct xml_writer *x)
{
	xml_out(x, x->buf, x->len);
	x->len = 0;
}

/* XML 1.0's Char production. */
static bool xml_char_ok(uint32_t c)
{
	return c == 0x9 || c == 0xa || c == 0xd || (c >= 0x20 && c <= 0xd7ff) ||
	       (c >= 0xe000 && c <= 0xfffd) || (c >= 0x10000 && c <= 0x10ffff);
}

static void xml_char(struct xml_writer *x, const unsigned char *s, size_t n, uint32_t c)
{
	if (!xml_char_ok(c))
		return;
	if (!x->cdata) {
		const char *esc = c == '&' ? "&amp;" : c == '<' ? "&lt;" : c == '>' ? "&gt;"
				: c == '"' ? "&quot;" : NULL;

		if (esc)
			xml_put(x, esc, strlen(esc));
		else
			xml_put(x, (const char *)s, n);
		return;
	}
	/* "]]>" would end the section: end it between "]]" and ">". */
	if (c == '>' && x->brackets >= 2)
		xml_put(x, "]]><![CDATA[", 12);
	xml_put(x, (const char *)s, n);
	x->brackets = c == ']' ? x->brackets + 1 : 0;
}

void xml_write(struct xml_writer *x, const char *text, size_t len)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t i = 0;

	/* Complete the sequence the last piece cut. */
	while (x->n_carry && i < len) {
		uint32_t c;
		int k;

		x->carry[x->n_carry++] = s[i++];
		k = utf8_decode(x->carry, x->n_carry, &c);
		if (k > 0)
			xml_char(x, x->carry, (size_t)k, c);
		if (k >= 0 || x->n_carry == 4)
			x->n_carry = 0;
	}
	while (i < len) {
		uint32_t c;
		int k = utf8_decode(s + i, len - i, &c);

		if (k < 0) {
			memcpy(x->carry, s + i, len - i);
			x->n_carry = len - i;
			break;
		}
		if (k == 0) {
			i++; /* not UTF-8: dropped */
			continue;
		}
		xml_char(x, s + i, (size_t)k, c);
		i += (size_t)k;
	}
}

char *xml_text(const char *s, size_t len, size_t *ret_len)
{
	struct xml_writer x = { .fd = -1 };

	xml_write(&x, s, len);
	xml_flush(&x);
	if (!x.mem)
		x.mem = strdup("");
	if (x.mem && ret_len)
		*ret_len = x.mem_len;
	return x.mem;
}

void xml_attr(struct xml_writer *x, const char *name, const char *value)
{
	bool cdata = x->cdata;

	x->cdata = false;
	xml_put(x, " ", 1);
	xml_put(x, name, strlen(name));
	xml_put(x, "=\"", 2);
	xml_write(x, value, strlen(value));
	x->n_carry = 0;
	xml_put(x, "\"", 1);
	x->cdata = cdata;
}

void xml_raw(struct xml_writer *x, const char *fmt, ...)
{
	char *s = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n > 0)
		xml_put(x, s, (size_t)n);
	free(s);
}

/* A spool's content (its last max bytes) as a CDATA section. */
void xml_cdata_spool(struct xml_writer *x, int fd, size_t max)
{
	off_t size = lseek(fd, 0, SEEK_END), off = 0;
	char buf[65536];
	ssize_t n;

	if (size > 0 && (size_t)size > max)
		off = size - (off_t)max;
	xml_put(x, "<![CDATA[", 9);
	x->cdata = true;
	x->brackets = 0;
	x->n_carry = 0;
	while (size > 0 && (n = pread(fd, buf, sizeof(buf), off)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			/* Said as a failed write: the report would be cut short. */
			x->error = x->error ? x->error : errno;
			break;
		}
		xml_write(x, buf, (size_t)n);
		off += n;
	}
	x->cdata = false;
	xml_put(x, "]]>", 3);
}

/* Text as a CDATA section. */
void xml_cdata_text(struct xml_writer *x, const char *text)
{
	xml_put(x, "<![CDATA[", 9);
	x->cdata = true;
	x->brackets = 0;
	x->n_carry = 0;
	xml_write(x, text, strlen(text));
	x->cdata = false;
	xml_put(x, "]]>", 3);
}

