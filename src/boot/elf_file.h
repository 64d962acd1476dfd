/* SPDX-License-Identifier: MIT */
/*
 * elf_file: bounds-checked reading of an ELF file held in memory, 32 or 64 bits,
 * either byte order, whatever the host's: kernels and kernel modules of
 * every architecture vmtest boots (s390x is big-endian) are read on an
 * x86_64 host.  Every offset is checked against the buffer before it is
 * read, since the files come from a kernel or a rootfs the user names.
 */
#pragma once

#include <elf.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

#define ELF_MAGIC "\x7f" "ELF"

struct elf_file {
	const unsigned char *buf;
	size_t len;
	const char *what;	/* how messages name the file */
	bool is64;
	bool big_endian;
};

static inline bool elf_file_is_elf(const void *buf, size_t len)
{
	return len >= 4 && __builtin_memcmp(buf, ELF_MAGIC, 4) == 0;
}

/* Checks the identification bytes and fills *e; ENOEXEC naming `what` if bad. */
int elf_file_open(struct elf_file *e, const void *buf, size_t len, const char *what,
		  struct error *err);

/* A field of width bytes (1 to 8) at off, in the file's byte order; off is in range. */
uint64_t elf_file_get(const struct elf_file *e, size_t off, size_t width);

/* A header field by name, at base, from whichever of the two layouts the file has. */
#define ELF_FILE_FIELD(e, base, type64, type32, field)                                          \
	elf_file_get((e), (base) + ((e)->is64 ? offsetof(type64, field) : offsetof(type32, field)), \
		(e)->is64 ? sizeof(((type64 *)0)->field) : sizeof(((type32 *)0)->field))

/* ENOEXEC: "<what>: bad ELF file: <why>". */
int elf_file_bad(const struct elf_file *e, struct error *err, const char *why);

/*
 * The file range of the section named `name`: 0 and *ret_off, *ret_size;
 * -ENOENT (err untouched) when the file has no such section; ENOEXEC when
 * the section headers or the names lie outside the file.
 */
int elf_file_section(const struct elf_file *e, const char *name, size_t *ret_off, size_t *ret_size,
		     struct error *err);
