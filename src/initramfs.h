/* SPDX-License-Identifier: MIT */
/*
 * initramfs: the archive a kernel target boots into: vmtest's guest init as
 * /init, plus the modules a distro kernel needs, numbered in load order.
 * Nothing per run is in it, so it is cached, keyed by its content.
 */
#pragma once

#include "error.h"
#include "modules.h"

/* The guest init linked into this binary (scripts/embed-blob.py). */
extern const unsigned char guest_init_start[];
extern const unsigned char guest_init_end[];

/* The path of the cached archive for these modules (NULL: none). */
int initramfs_get(const char *cache_dir, const struct modules_list *modules, char **ret_path,
		  struct error *err);
