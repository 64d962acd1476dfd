/* SPDX-License-Identifier: MIT */
/* base64: guest-exec's input-data and out-data are base64 (RFC 4648). */
#pragma once

#include <stddef.h>

/* malloc'd, NUL-terminated; NULL on ENOMEM. */
char *base64_encode(const void *data, size_t len);

/* malloc'd; NULL on bad input or ENOMEM. */
void *base64_decode(const char *text, size_t *ret_len);
