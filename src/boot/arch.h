/* SPDX-License-Identifier: MIT */
/*
 * arch: what differs between the guest architectures vmtest runs: the QEMU
 * machine and CPU, the console device, the virtio transport (its device
 * names and the modules a distro kernel needs for it), and the guest init
 * built for it.  Everything else is the same code for every architecture.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct arch {
	const char *name;		/* "aarch64": QEMU's and uname -m's */
	const char *machine;		/* -machine */
	const char *tcg_cpu;		/* -cpu under TCG */
	const char *console;		/* the kernel's console= device */
	const char *virtio;		/* QEMU's virtio device suffix: "pci" or "ccw" */
	const char *const *modules;	/* what a distro kernel needs, in load order */
	size_t n_modules;
	const char *cross_package;	/* Debian's cross compiler for its init */
	const unsigned char *init_start, *init_end;	/* NULL: not built */
};

/* The architecture called name; NULL if vmtest does not know it. */
const struct arch *arch_find(const char *name);

/* The host's, as uname -m says it. */
const char *arch_host(void);

/* Whether vmtest was built with a guest init for a. */
bool arch_has_init(const struct arch *a);
