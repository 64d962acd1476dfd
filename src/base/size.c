// SPDX-License-Identifier: MIT
#include "base/size.h"

#include <ctype.h>
#include <math.h>
#include <string.h>

static int size_suffix_shift(char c)
{
	static const char suffixes[] = "BKMGTPE";
	const char *hit = c ? strchr(suffixes, toupper((unsigned char)c)) : NULL;

	return hit ? (int)(hit - suffixes) * 10 : -1;
}

bool size_parse(const char *text, uint64_t default_unit, uint64_t *ret_bytes)
{
	const char *p = text;
	long double number = 0, scale = 1;
	uint64_t unit = default_unit;
	bool digits = false;

	for (; isdigit((unsigned char)*p); p++, digits = true)
		number = number * 10 + (*p - '0');
	if (*p == '.') {
		for (p++; isdigit((unsigned char)*p); p++, digits = true) {
			scale /= 10;
			number += (*p - '0') * scale;
		}
	}
	if (!digits)
		return false;
	if (*p) {
		int shift = size_suffix_shift(*p);

		if (shift < 0 || p[1])
			return false;
		unit = (uint64_t)1 << shift;
	}
	number *= unit;
	if (number < 1 || number >= 18446744073709551616.0L)
		return false;
	*ret_bytes = (uint64_t)number;
	return true;
}
