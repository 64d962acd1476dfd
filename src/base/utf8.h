/* SPDX-License-Identifier: MIT */
/*
 * utf8: one decoder of UTF-8 for everything that takes guest text apart
 * (the JSON the agent carries, the sanitizer of the terminal, the XML of
 * the reports, the test results): overlong forms, UTF-16 surrogates and
 * code points beyond U+10FFFF are not UTF-8, whoever asks.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

/*
 * The sequence at s, with n bytes there: its length (1 to 4), and its
 * code point in *ret; 0 when it is not valid UTF-8; -1 when the n bytes
 * hold only the start of a valid one (text cut between two reads).  A NUL
 * is never a continuation byte: a NUL-terminated string may pass n = 4.
 */
int utf8_decode(const unsigned char *s, size_t n, uint32_t *ret);
