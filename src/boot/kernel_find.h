/* SPDX-License-Identifier: MIT */
/*
 * kernel_find: the host's own kernel, for a one-liner given without -k
 * (`vmtest -- make test` tests the host's userspace on the host's kernel).
 */
#pragma once

#include "base/error.h"

/*
 * In boot_dir, the kernel matching release (vmlinuz-<release>), else the
 * newest vmlinuz-* by version order.  *ret_path is malloc'd.
 */
int kernel_find_host(const char *boot_dir, const char *release, char **ret_path,
		     struct error *err);
