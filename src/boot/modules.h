/* SPDX-License-Identifier: MIT */
/*
 * modules: the kernel modules a distribution kernel needs before the guest
 * can reach the host's files (virtio, 9p, overlayfs), read on the host from
 * the rootfs's /lib/modules/<release> and handed to the guest's init in
 * the initramfs, decompressed and in loading order.
 *
 * The rootfs may be a directory that is not /: every path is opened with
 * openat2(RESOLVE_IN_ROOT), so its absolute symlinks (lib -> /usr/lib)
 * resolve inside it and none can lead out of it.
 */
#pragma once

#include <stddef.h>

#include "base/error.h"

/* modules_load()'s result when <rootfs>/lib/modules/<release> does not exist. */
#define MODULES_NO_DIR 1

/* The largest module we accept, decompressed (the biggest are ~20 MiB). */
#define MODULES_MAX_SIZE ((size_t)256 << 20)

struct modules_file {
	char *name;		/* as the kernel names it: "virtio_pci", "virtio_rng" */
	char *path;		/* in the rootfs: "lib/modules/<release>/kernel/..." */
	void *data;		/* the module, decompressed: an ELF object */
	size_t len;
};

struct modules_list {
	struct modules_file *files;	/* dependencies before what needs them */
	size_t n;
	/* Bit i: names[i] was optional ('?') and neither built in nor found,
	 * so the kernel lacks it (as far as its modules directory says). */
	unsigned long long absent;
};

/*
 * The modules named (with '-' and '_' equivalent) and everything they
 * depend on, per modules.dep, each once, dependencies first; modules that
 * modules.builtin lists are built into the kernel and skipped.  Returns 0
 * and the list (possibly empty); MODULES_NO_DIR and an empty list when the
 * release has no modules directory (the kernel may have everything built
 * in); < 0 when a module is unknown, or a file listed is missing or
 * corrupt, naming it.  A name starting with '?' is a driver that may be
 * built in without modules.builtin saying so: absent, it is skipped.
 */
int modules_load(const char *rootfs, const char *release, const char *const *names,
		 size_t n_names, struct modules_list **ret_list, struct error *err);

/* Accepts NULL, returns NULL. */
struct modules_list *modules_list_free(struct modules_list *list);
