/* SPDX-License-Identifier: MIT */
/*
 * kernel_image: what the kernel given with -k is, before QEMU sees it.
 *
 * Two kinds are understood: an x86 bzImage (the boot-protocol header, the
 * version string it carries, the compressed vmlinux inside it) and a plain
 * vmlinux ELF.  The release names the modules directory the guest needs;
 * the PVH note says QEMU can start the ELF directly, skipping the bzImage's
 * real-mode setup and its decompressor, which makes boots faster.
 *
 * Kernels come from users, so every offset is checked against the file and
 * every decompression is capped: a bad file is an error naming the file and
 * the problem, never a crash or a runaway allocation.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "boot/decompress.h"

/* The most a bzImage's payload may decompress to (Debian's is 63 MiB). */
#define KERNEL_IMAGE_MAX_PAYLOAD ((size_t)512 << 20)

enum kernel_image_kind {
	KERNEL_IMAGE_BZIMAGE,
	KERNEL_IMAGE_ELF,
	KERNEL_IMAGE_ARM64,		/* arm64's Image: "ARM\x64" at offset 56 */
	KERNEL_IMAGE_RISCV,		/* riscv's Image: "RSC\x05" at offset 56 */
	KERNEL_IMAGE_S390,		/* s390's image: an IPL PSW and two CCWs */
};

struct kernel_image {
	char *path;
	enum kernel_image_kind kind;
	char *release;			/* "6.1.0-56-amd64": `uname -r` in the guest;
					 * NULL for an Image without a readable banner */
	/* bzImage only. */
	uint16_t boot_protocol;		/* 0x020f is 2.15 */
	enum decompress_format payload_format;
	/* ELF only: whether it has a PVH entry point, and where. */
	bool pvh;
	uint64_t pvh_entry;
	/* The file, mapped read-only. */
	const unsigned char *map;
	size_t size;
};

/*
 * Open and identify path: its kind, release and, for a bzImage, the
 * payload's format (without decompressing it).  Errors name the path.
 */
int kernel_image_open(const char *path, struct kernel_image **ret_image, struct error *err);

/* Unmap and free; accepts NULL, returns NULL. */
struct kernel_image *kernel_image_free(struct kernel_image *image);

/*
 * A bzImage's payload, decompressed (at most KERNEL_IMAGE_MAX_PAYLOAD
 * bytes).  On x86 that is the vmlinux ELF.  *ret_buf is malloc'd.
 */
int kernel_image_payload(const struct kernel_image *image, void **ret_buf, size_t *ret_len,
			 struct error *err);

/*
 * Check that buf is an ELF whose program headers lie inside it, and look
 * for the PVH entry note (a "Xen" note of type XEN_ELFNOTE_PHYS32_ENTRY in
 * a PT_NOTE segment, which is where QEMU looks).  what names the data in
 * errors.
 */
int kernel_image_elf_pvh(const void *buf, size_t len, const char *what, bool *ret_pvh,
			 uint64_t *ret_entry, struct error *err);

/*
 * The ELF QEMU can boot through PVH for the kernel at path.  For a bzImage
 * whose payload has the PVH note, the payload is extracted once into
 * cache_dir (named by a hash of the bzImage) and *ret_elf_path is that
 * file; for a vmlinux with the note, path itself.  Without a PVH note,
 * returns 0 with *ret_elf_path NULL: boot the kernel as it is.  The answer
 * "no note" is cached too, so a bzImage is decompressed at most once.
 */
int kernel_image_pvh_elf(const char *path, const char *cache_dir, char **ret_elf_path,
			 struct error *err);
