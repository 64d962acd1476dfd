// SPDX-License-Identifier: MIT
#include "boot/elf_file.h"

#include <errno.h>
#include <string.h>

int elf_file_open(struct elf_file *e, const void *buf, size_t len, const char *what,
		  struct error *err)
{
	*e = (struct elf_file){ .buf = buf, .len = len, .what = what };
	if (!elf_file_is_elf(buf, len))
		return elf_file_bad(e, err, "no ELF magic");
	if (len < sizeof(Elf64_Ehdr))
		return elf_file_bad(e, err, "truncated header");
	if (e->buf[EI_CLASS] != ELFCLASS32 && e->buf[EI_CLASS] != ELFCLASS64)
		return elf_file_bad(e, err, "unknown class");
	if (e->buf[EI_DATA] != ELFDATA2LSB && e->buf[EI_DATA] != ELFDATA2MSB)
		return elf_file_bad(e, err, "unknown byte order");
	e->is64 = e->buf[EI_CLASS] == ELFCLASS64;
	e->big_endian = e->buf[EI_DATA] == ELFDATA2MSB;
	return 0;
}

uint64_t elf_file_get(const struct elf_file *e, size_t off, size_t width)
{
	uint64_t v = 0;

	for (size_t i = 0; i < width; i++) {
		size_t at = e->big_endian ? off + i : off + width - 1 - i;

		v = v << 8 | e->buf[at];
	}
	return v;
}

int elf_file_bad(const struct elf_file *e, struct error *err, const char *why)
{
	return error_set(err, ENOEXEC, "%s: bad ELF file: %s", e->what, why);
}

/* Section header `i`'s offset in the file, after the table was checked to fit. */
static size_t elf_file_shdr(const struct elf_file *e, uint64_t shoff, uint64_t shentsize, uint64_t i)
{
	return (size_t)(shoff + i * shentsize);
}

int elf_file_section(const struct elf_file *e, const char *name, size_t *ret_off, size_t *ret_size,
		     struct error *err)
{
	uint64_t shoff = ELF_FILE_FIELD(e, 0, Elf64_Ehdr, Elf32_Ehdr, e_shoff);
	uint64_t shentsize = ELF_FILE_FIELD(e, 0, Elf64_Ehdr, Elf32_Ehdr, e_shentsize);
	uint64_t shnum = ELF_FILE_FIELD(e, 0, Elf64_Ehdr, Elf32_Ehdr, e_shnum);
	uint64_t shstrndx = ELF_FILE_FIELD(e, 0, Elf64_Ehdr, Elf32_Ehdr, e_shstrndx);
	uint64_t names_off, names_size;
	size_t want = strlen(name) + 1, strtab;

	if (shentsize < (e->is64 ? sizeof(Elf64_Shdr) : sizeof(Elf32_Shdr)))
		return elf_file_bad(e, err, "bad section header size");
	if (shoff > e->len || shnum * shentsize > e->len - shoff)
		return elf_file_bad(e, err, "section headers lie beyond the end of the file");
	if (shstrndx >= shnum)
		return elf_file_bad(e, err, "no section name table");
	strtab = elf_file_shdr(e, shoff, shentsize, shstrndx);
	names_off = ELF_FILE_FIELD(e, strtab, Elf64_Shdr, Elf32_Shdr, sh_offset);
	names_size = ELF_FILE_FIELD(e, strtab, Elf64_Shdr, Elf32_Shdr, sh_size);
	if (names_off > e->len || names_size > e->len - names_off)
		return elf_file_bad(e, err, "the section names lie beyond the end of the file");
	for (uint64_t i = 0; i < shnum; i++) {
		size_t sh = elf_file_shdr(e, shoff, shentsize, i);
		uint64_t at = ELF_FILE_FIELD(e, sh, Elf64_Shdr, Elf32_Shdr, sh_name);
		uint64_t off = ELF_FILE_FIELD(e, sh, Elf64_Shdr, Elf32_Shdr, sh_offset);
		uint64_t size = ELF_FILE_FIELD(e, sh, Elf64_Shdr, Elf32_Shdr, sh_size);

		if (at >= names_size || names_size - at < want ||
		    memcmp(e->buf + names_off + at, name, want) != 0)
			continue;
		if (ELF_FILE_FIELD(e, sh, Elf64_Shdr, Elf32_Shdr, sh_type) == SHT_NOBITS)
			size = 0;
		if (off > e->len || size > e->len - off)
			return elf_file_bad(e, err, "a section lies beyond the end of the file (truncated?)");
		*ret_off = (size_t)off;
		*ret_size = (size_t)size;
		return 0;
	}
	return -ENOENT;
}
