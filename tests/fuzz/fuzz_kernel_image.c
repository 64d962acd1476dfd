/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the kernel image parser: a file that users name
 * with -k, identified (bzImage header, ELF with its PVH note, arm64/riscv
 * Image, s390 image), its release read, and a bzImage's payload
 * decompressed within the cap.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "boot/kernel_image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kernel_image *k = NULL;
	struct error err = { 0 };
	char path[64];
	bool pvh;
	uint64_t entry;
	int fd = memfd_create("kernel", MFD_CLOEXEC);

	if (fd < 0)
		return 0;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return 0;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (kernel_image_open(path, &k, &err) >= 0) {
		if (k->kind == KERNEL_IMAGE_BZIMAGE) {
			void *buf = NULL;
			size_t len = 0;

			if (kernel_image_payload(k, &buf, &len, &err) >= 0) {
				kernel_image_elf_pvh(buf, len, "payload", &pvh, &entry, &err);
				free(buf);
			}
		}
		kernel_image_free(k);
	}
	kernel_image_elf_pvh(data, size, "input", &pvh, &entry, &err);
	close(fd);
	return 0;
}
