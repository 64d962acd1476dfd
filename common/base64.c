// SPDX-License-Identifier: MIT
#include "base64.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char base64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *base64_encode(const void *data, size_t len)
{
	const uint8_t *in = data;
	char *out, *o;

	if (len > (SIZE_MAX - 1) / 4 * 3 - 2)
		return NULL;
	out = malloc(4 * ((len + 2) / 3) + 1);
	if (!out)
		return NULL;
	o = out;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;

		if (i + 1 < len)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < len)
			v |= in[i + 2];
		*o++ = base64_alphabet[(v >> 18) & 63];
		*o++ = base64_alphabet[(v >> 12) & 63];
		*o++ = i + 1 < len ? base64_alphabet[(v >> 6) & 63] : '=';
		*o++ = i + 2 < len ? base64_alphabet[v & 63] : '=';
	}
	*o = '\0';
	return out;
}

static int base64_value(char c)
{
	const char *p = c ? strchr(base64_alphabet, c) : NULL;

	return p ? (int)(p - base64_alphabet) : -1;
}

int base64_decode(const char *text, char **ret, size_t *ret_len)
{
	size_t len = strlen(text), n = 0;
	uint32_t acc = 0;
	int bits = 0;
	char *out;

	for (int pad = 0; pad < 2 && len > 0 && text[len - 1] == '='; pad++)
		len--;
	if (len % 4 == 1)
		return -EPROTO;
	out = malloc(len / 4 * 3 + 3);
	if (!out)
		return -ENOMEM;
	for (size_t i = 0; i < len; i++) {
		int v = base64_value(text[i]);

		if (v < 0) {
			free(out);
			return -EPROTO;
		}
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[n++] = (char)(acc >> bits & 0xff);
		}
	}
	out[n] = '\0';
	*ret = out;
	*ret_len = n;
	return 0;
}
