// SPDX-License-Identifier: MIT
#include "base/duration.h"

#include <ctype.h>
#include <string.h>

#define DURATION_MAX (7u * 24 * 3600)

bool duration_parse(const char *text, unsigned *ret_seconds)
{
	static const struct {
		char suffix;
		unsigned scale;
	} units[] = { { 's', 1 }, { 'm', 60 }, { 'h', 3600 } };
	unsigned long long n = 0;
	unsigned scale = 1;
	const char *p = text;

	if (!isdigit((unsigned char)*p))
		return false;
	for (; isdigit((unsigned char)*p); p++) {
		n = n * 10 + (unsigned)(*p - '0');
		if (n > DURATION_MAX)
			return false;
	}
	if (*p) {
		size_t i;

		for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
			if (*p == units[i].suffix)
				break;
		if (i == sizeof(units) / sizeof(units[0]) || p[1])
			return false;
		scale = units[i].scale;
	}
	n *= scale;
	if (n < 1 || n > DURATION_MAX)
		return false;
	*ret_seconds = (unsigned)n;
	return true;
}
