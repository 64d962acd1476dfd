/* SPDX-License-Identifier: MIT */
/*
 * guest_init: vmtest's guest init (guest/), linked into this binary for
 * the host's architecture and for each foreign one whose cross compiler
 * was installed when vmtest was built (meson.build, scripts/embed-blob.py).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "base/arch.h"

/* The init for arch: false when this vmtest was built without it. */
bool guest_init_find(const struct arch *arch, const unsigned char **ret_data, size_t *ret_len);

/*
 * Why arch has no init, with the command that gives it one, for a
 * message ("its cross compiler was not installed when vmtest was built:
 * make -C SRC foreign ..."); "" when it has one.
 */
void guest_init_missing(const struct arch *arch, char *buf, size_t size);

/* The architectures this vmtest has an init for, space-separated (--version). */
void guest_init_list(char *buf, size_t size);
