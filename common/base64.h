/* SPDX-License-Identifier: MIT */
/*
 * base64 (RFC 4648), as the guest agent protocol carries bytes: guest-exec's
 * input-data and guest-exec-status's out-data and err-data.  Compiled into
 * vmtest and into the guest init alike.
 */
#pragma once

#include <stddef.h>

/* malloc'd, NUL-terminated; NULL when out of memory. */
char *base64_encode(const void *data, size_t len);

/*
 * Decode text into a malloc'd buffer with a NUL after the data (*ret_len
 * excludes it); trailing '=' padding is optional.  -EPROTO for a character
 * outside the alphabet or a length no encoding has, -ENOMEM.
 */
int base64_decode(const char *text, char **ret, size_t *ret_len);
