/* SPDX-License-Identifier: MIT */
/*
 * arch: what differs between the guest architectures vmtest runs: the QEMU
 * machine and CPU, the console device, the virtio transport (its device
 * names and the modules a distro kernel needs for it), and the Debian
 * package that cross-compiles its guest init.  Everything else is the same
 * code for every architecture.  Also the host's own architecture, found
 * once: the default of every target, and the one KVM can run.
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
	/* Debian's cross compiler for the guest init, and its C library. */
	const char *cross_package;
	const char *cross_libc_package;
	/* QEMU's device that tells the host of a guest kernel's panic
	 * (GUEST_PANICKED), or NULL where the machine reports one itself
	 * (s390x: a disabled wait). */
	const char *panic_device;
};

/* The architecture called name; NULL if vmtest does not know it. */
const struct arch *arch_find(const char *name);

/*
 * 0 for an architecture vmtest knows; else -EINVAL, and hint says so, with
 * the nearest name when there is one.
 */
int arch_check_name(const char *name, char *hint, size_t hint_len);

/* The host's, in QEMU's words ("x86_64", "aarch64"), found once. */
const char *arch_host(void);
