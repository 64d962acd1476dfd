/* SPDX-License-Identifier: MIT */
/* size: QEMU's notation for sizes ("4G", "512M", "1.5G", "4096"). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/*
 * Parse a size as QEMU's -m does: a decimal number, optionally with a
 * fraction, then an optional suffix B, K, M, G, T, P or E (either case,
 * powers of 1024).  A number without suffix means default_unit bytes (QEMU's
 * -m counts in MiB).  Returns false for anything QEMU would refuse, zero, or
 * a size that does not fit in 64 bits.
 */
bool size_parse(const char *text, uint64_t default_unit, uint64_t *ret_bytes);
