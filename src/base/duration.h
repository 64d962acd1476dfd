/* SPDX-License-Identifier: MIT */
/* duration: "90", "90s", "5m", "1h": seconds, for timeouts. */
#pragma once

#include <stdbool.h>

/* At least 1 s and at most a week; false for anything else. */
bool duration_parse(const char *text, unsigned *ret_seconds);
