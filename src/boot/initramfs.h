/* SPDX-License-Identifier: MIT */
/*
 * initramfs: the archive a kernel target boots into: vmtest's guest init as
 * /init, plus the modules a distro kernel needs, numbered in load order.
 * Nothing per run is in it, so it is cached, keyed by its content.
 */
#pragma once

#include "base/error.h"
#include "boot/modules.h"

#include <stddef.h>

/* The path of the cached archive holding this init and these modules
 * (NULL: none); the init is the target architecture's (arch.h). */
int initramfs_get(const char *cache_dir, const unsigned char *init, size_t init_len,
		  const struct modules_list *modules, char **ret_path, struct error *err);
