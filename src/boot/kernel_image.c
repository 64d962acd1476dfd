// SPDX-License-Identifier: MIT
#include "boot/kernel_image.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "boot/cache.h"
#include "boot/elf_file.h"

/* Larger than any kernel, even a vmlinux with its debug information. */
#define KERNEL_IMAGE_MAX_FILE ((uint64_t)4 << 30)
/* Longer than any release (struct utsname's field holds 64 characters). */
#define KERNEL_IMAGE_MAX_RELEASE 64

/* The x86 boot protocol (Documentation/x86/boot.rst): offsets in the file. */
#define BZ_SETUP_SECTS 0x1f1
#define BZ_HEADER 0x202
#define BZ_VERSION 0x206
#define BZ_KERNEL_VERSION 0x20e
#define BZ_PAYLOAD_OFFSET 0x248
#define BZ_PAYLOAD_LENGTH 0x24c
#define BZ_HEADER_END 0x250
#define BZ_MIN_PROTOCOL 0x0208		/* the first with payload_offset */

/* Xen's public elfnote.h: the 32-bit entry point PVH boots through. */
#define XEN_ELFNOTE_PHYS32_ENTRY 18


/* An ELF being read: either class, either byte order. */
static void kernel_image_freep(struct kernel_image **k)
{
	kernel_image_free(*k);
}

struct kernel_image *kernel_image_free(struct kernel_image *k)
{
	if (!k)
		return NULL;
	if (k->map)
		munmap((void *)k->map, k->size);
	free(k->path);
	free(k->release);
	free(k);
	return NULL;
}

static uint16_t kernel_image_le16(const unsigned char *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t kernel_image_le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* A release ends up in a path (lib/modules/<release>): keep it tame. */
static bool kernel_image_release_valid(const char *s, size_t len)
{
	if (len == 0 || len > KERNEL_IMAGE_MAX_RELEASE)
		return false;
	if ((len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.'))
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isgraph((unsigned char)s[i]) || s[i] == '/')
			return false;
	return true;
}

/* The first word of text (at most max bytes, NUL-terminated or not) if it is a release. */
static char *kernel_image_release_word(const unsigned char *text, size_t max)
{
	size_t n = 0;

	while (n < max && n <= KERNEL_IMAGE_MAX_RELEASE && text[n] != ' ' && text[n] != '\0')
		n++;
	if (!kernel_image_release_valid((const char *)text, n))
		return NULL;
	return strndup((const char *)text, n);
}

static int kernel_image_map(struct kernel_image *k, struct error *err)
{
	_cleanup_close_ int fd = -1;
	struct stat st;
	void *map;

	/* O_NONBLOCK: a FIFO given as the kernel must not hang us. */
	fd = open(k->path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return error_set_errno(err, errno, "%s", k->path);
	if (fstat(fd, &st) < 0)
		return error_set_errno(err, errno, "%s", k->path);
	if (S_ISDIR(st.st_mode))
		return error_set(err, EISDIR, "%s: is a directory, not a kernel", k->path);
	if (!S_ISREG(st.st_mode))
		return error_set(err, EINVAL, "%s: not a regular file", k->path);
	if (st.st_size == 0)
		return error_set(err, EINVAL, "%s: empty file, not a kernel", k->path);
	if ((uint64_t)st.st_size > KERNEL_IMAGE_MAX_FILE)
		return error_set(err, EFBIG, "%s: %" PRIu64 " MiB is too large for a kernel",
				 k->path, (uint64_t)st.st_size >> 20);
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED)
		return error_set_errno(err, errno, "%s: cannot map", k->path);
	k->map = map;
	k->size = (size_t)st.st_size;
	return 0;
}

static bool kernel_image_is_bzimage(const struct kernel_image *k)
{
	return k->size >= BZ_HEADER + 4 && memcmp(k->map + BZ_HEADER, "HdrS", 4) == 0;
}

/* Where the protected-mode code, which payload_offset counts from, starts. */
static size_t kernel_image_setup_size(const struct kernel_image *k)
{
	unsigned sects = k->map[BZ_SETUP_SECTS];

	return ((size_t)(sects ? sects : 4) + 1) * 512;
}

/* The release: the first word of the header's kernel_version string. */
static int kernel_image_bz_release(struct kernel_image *k, struct error *err)
{
	uint16_t ptr = kernel_image_le16(k->map + BZ_KERNEL_VERSION);
	size_t at = (size_t)ptr + 0x200, end = kernel_image_setup_size(k);

	if (end > k->size)
		end = k->size;
	if (ptr == 0 || at >= end)
		return error_set(err, EINVAL, "%s: bzImage header has no kernel version string",
				 k->path);
	k->release = kernel_image_release_word(k->map + at, end - at);
	if (!k->release)
		return error_set(err, EINVAL, "%s: bzImage kernel version string is not a release",
				 k->path);
	return 0;
}

/* The compressed vmlinux's place in the file, checked against its size. */
static int kernel_image_bz_payload_range(const struct kernel_image *k, size_t *ret_start,
					 size_t *ret_len, struct error *err)
{
	uint64_t start = kernel_image_setup_size(k);
	uint32_t off = kernel_image_le32(k->map + BZ_PAYLOAD_OFFSET);
	uint32_t len = kernel_image_le32(k->map + BZ_PAYLOAD_LENGTH);

	start += off;
	if (len == 0)
		return error_set(err, EINVAL, "%s: bzImage header gives an empty payload", k->path);
	if (start > k->size || len > k->size - start)
		return error_set(err, EINVAL,
				 "%s: bzImage payload (%" PRIu32 " bytes at %" PRIu64
				 ") lies beyond the end of the file (%zu bytes): truncated?",
				 k->path, len, start, k->size);
	*ret_start = (size_t)start;
	*ret_len = len;
	return 0;
}

static int kernel_image_open_bzimage(struct kernel_image *k, struct error *err)
{
	size_t start, len;
	int r;

	if (k->size < BZ_HEADER_END)
		return error_set(err, EINVAL, "%s: truncated bzImage header (%zu bytes)", k->path,
				 k->size);
	k->kind = KERNEL_IMAGE_BZIMAGE;
	k->boot_protocol = kernel_image_le16(k->map + BZ_VERSION);
	if (k->boot_protocol < BZ_MIN_PROTOCOL)
		return error_set(err, ENOTSUP,
				 "%s: boot protocol %u.%02u is too old (vmtest needs 2.08 or later)",
				 k->path, k->boot_protocol >> 8u, k->boot_protocol & 0xffu);
	r = kernel_image_bz_release(k, err);
	if (r < 0)
		return r;
	r = kernel_image_bz_payload_range(k, &start, &len, err);
	if (r < 0)
		return r;
	k->payload_format = decompress_detect(k->map + start, len);
	return 0;
}

/* The release from the "Linux version 6.1.0 (...)" banner every kernel prints. */
static int kernel_image_banner_release(struct kernel_image *k, struct error *err)
{
	static const char banner[] = "Linux version ";
	const unsigned char *p = k->map, *end = k->map + k->size;

	while ((p = memmem(p, (size_t)(end - p), banner, strlen(banner)))) {
		p += strlen(banner);
		if (p < end && isdigit(*p)) {
			k->release = kernel_image_release_word(p, (size_t)(end - p));
			if (k->release)
				return 0;
		}
	}
	return error_set(err, EINVAL, "%s: ELF file without a 'Linux version' banner, not a kernel",
			 k->path);
}

static int kernel_image_open_elf(struct kernel_image *k, struct error *err)
{
	int r;

	k->kind = KERNEL_IMAGE_ELF;
	r = kernel_image_elf_pvh(k->map, k->size, k->path, &k->pvh, &k->pvh_entry, err);
	if (r < 0)
		return r;
	return kernel_image_banner_release(k, err);
}

static int kernel_image_not_kernel(const struct kernel_image *k, struct error *err)
{
	enum decompress_format f = decompress_detect(k->map, k->size);

	if (f != DECOMPRESS_NONE)
		return error_set(err, EINVAL,
				 "%s: %s-compressed data, not a kernel image (give a bzImage, a vmlinux ELF or an Image)",
				 k->path, decompress_format_name(f));
	return error_set(err, EINVAL, "%s: not a kernel image (not a bzImage, a vmlinux ELF or an arm64 or riscv Image)",
			 k->path);
}

/*
 * arm64's and riscv's Image: a header whose magic sits at offset 56.  The
 * banner is readable when the Image is not compressed (Debian's arm64 one
 * is not); the caller falls back to the modules directory otherwise.
 */
static bool kernel_image_is_image(struct kernel_image *k)
{
	/* s390's image starts with the channel program that IPLs it. */
	static const unsigned char s390_ipl_ccws[] = {
		0x02, 0x00, 0x00, 0x18, 0x60, 0x00, 0x00, 0x50,
		0x02, 0x00, 0x00, 0x68, 0x60, 0x00, 0x00, 0x50,
	};

	if (k->size < 64)
		return false;
	if (memcmp(k->map + 8, s390_ipl_ccws, sizeof(s390_ipl_ccws)) == 0)
		k->kind = KERNEL_IMAGE_S390;
	else if (memcmp(k->map + 56, "ARM\x64", 4) == 0)
		k->kind = KERNEL_IMAGE_ARM64;
	else if (memcmp(k->map + 56, "RSC\x05", 4) == 0)
		k->kind = KERNEL_IMAGE_RISCV;
	else
		return false;
	return true;
}

int kernel_image_open(const char *path, struct kernel_image **ret_image, struct error *err)
{
	_cleanup_(kernel_image_freep) struct kernel_image *k = calloc(1, sizeof(*k));
	int r;

	if (!k || !(k->path = strdup(path)))
		return error_set(err, ENOMEM, "out of memory");
	r = kernel_image_map(k, err);
	if (r < 0)
		return r;
	if (kernel_image_is_bzimage(k))
		r = kernel_image_open_bzimage(k, err);
	else if (elf_file_is_elf(k->map, k->size))
		r = kernel_image_open_elf(k, err);
	else if (kernel_image_is_image(k))
		kernel_image_banner_release(k, &(struct error){ 0 });
	else
		r = kernel_image_not_kernel(k, err);
	if (r < 0)
		return r;
	*ret_image = TAKE_PTR(k);
	return 0;
}

int kernel_image_payload(const struct kernel_image *k, void **ret_buf, size_t *ret_len,
			 struct error *err)
{
	const unsigned char *payload;
	size_t start, len;
	uint32_t hint;
	int r;

	if (k->kind != KERNEL_IMAGE_BZIMAGE)
		return error_set(err, EINVAL, "%s: not a bzImage, no payload to extract", k->path);
	r = kernel_image_bz_payload_range(k, &start, &len, err);
	if (r < 0)
		return r;
	payload = k->map + start;
	if (k->payload_format == DECOMPRESS_NONE)
		return error_set(err, EINVAL,
				 "%s: bzImage payload is in an unknown format (starts with %02x %02x %02x %02x)",
				 k->path, (unsigned)payload[0], len > 1 ? payload[1] : 0u,
				 len > 2 ? payload[2] : 0u, len > 3 ? payload[3] : 0u);
	/*
	 * The kernel's build appends the decompressed size (size_append in
	 * scripts/Makefile.lib); anything implausible is not that.
	 */
	hint = len >= 4 ? kernel_image_le32(payload + len - 4) : 0;
	if (hint < len || hint > KERNEL_IMAGE_MAX_PAYLOAD)
		hint = 0;
	r = decompress_buffer(k->payload_format, payload, len, hint, KERNEL_IMAGE_MAX_PAYLOAD,
			      ret_buf, ret_len, err);
	if (r < 0)
		return error_prefix(err, "%s: bzImage payload", k->path);
	return 0;
}

/*
 * The notes of one PT_NOTE segment: namesz, descsz, type, then the name
 * and the descriptor, each starting on the segment's alignment (4, or 8
 * for segments aligned so, as GNU property notes are).
 */
static int kernel_image_elf_notes(const struct elf_file *e, size_t off, size_t size,
				  uint64_t align, bool *pvh, uint64_t *entry, struct error *err)
{
	const uint64_t a = align == 8 ? 8 : 4;
	uint64_t pos = 0;

	while (size - pos >= 12) {
		uint64_t namesz = elf_file_get(e, off + pos, 4);
		uint64_t descsz = elf_file_get(e, off + pos + 4, 4);
		uint64_t type = elf_file_get(e, off + pos + 8, 4);
		uint64_t name = pos + 12, desc = (name + namesz + a - 1) & ~(a - 1);

		if (desc > size || descsz > size - desc)
			return elf_file_bad(e, err, "a note overruns its segment");
		if (namesz == 4 && memcmp(e->buf + off + name, "Xen", 4) == 0 &&
		    type == XEN_ELFNOTE_PHYS32_ENTRY && (descsz == 4 || descsz == 8)) {
			*pvh = true;
			*entry = elf_file_get(e, off + desc, descsz);
		}
		pos = (desc + descsz + a - 1) & ~(a - 1);
		if (pos > size)
			break;
	}
	return 0;
}

/* One program header: its file range must be inside the file; notes are read. */
static int kernel_image_elf_segment(const struct elf_file *e, size_t ph, bool *loads,
				    bool *pvh, uint64_t *entry, struct error *err)
{
	uint64_t type = ELF_FILE_FIELD(e, ph, Elf64_Phdr, Elf32_Phdr, p_type);
	uint64_t off = ELF_FILE_FIELD(e, ph, Elf64_Phdr, Elf32_Phdr, p_offset);
	uint64_t size = ELF_FILE_FIELD(e, ph, Elf64_Phdr, Elf32_Phdr, p_filesz);
	uint64_t align = ELF_FILE_FIELD(e, ph, Elf64_Phdr, Elf32_Phdr, p_align);

	if (type != PT_LOAD && type != PT_NOTE)
		return 0;
	if (off > e->len || size > e->len - off)
		return elf_file_bad(e, err, "a segment lies beyond the end of the file (truncated?)");
	if (type == PT_LOAD) {
		*loads = true;
		return 0;
	}
	return kernel_image_elf_notes(e, (size_t)off, (size_t)size, align, pvh, entry, err);
}

int kernel_image_elf_pvh(const void *buf, size_t len, const char *what, bool *ret_pvh,
			 uint64_t *ret_entry, struct error *err)
{
	struct elf_file e;
	uint64_t phoff, phentsize, phnum, entry = 0;
	bool loads = false, pvh = false;
	int r;

	r = elf_file_open(&e, buf, len, what, err);
	if (r < 0)
		return r;
	phoff = ELF_FILE_FIELD(&e, 0, Elf64_Ehdr, Elf32_Ehdr, e_phoff);
	phentsize = ELF_FILE_FIELD(&e, 0, Elf64_Ehdr, Elf32_Ehdr, e_phentsize);
	phnum = ELF_FILE_FIELD(&e, 0, Elf64_Ehdr, Elf32_Ehdr, e_phnum);
	if (phentsize < (e.is64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr)))
		return elf_file_bad(&e, err, "bad program header size");
	if (phoff > len || phnum * phentsize > len - phoff)
		return elf_file_bad(&e, err, "program headers lie beyond the end of the file");
	for (uint64_t i = 0; i < phnum; i++) {
		r = kernel_image_elf_segment(&e, (size_t)(phoff + i * phentsize), &loads, &pvh,
					     &entry, err);
		if (r < 0)
			return r;
	}
	if (!loads)
		return elf_file_bad(&e, err, "no loadable segment");
	*ret_pvh = pvh;
	*ret_entry = entry;
	return 0;
}

/* A file of the cache, as vmtest wrote it (cache.h: a guest may have changed it). */
static bool kernel_image_cached(const char *path, bool want_content)
{
	struct stat st;

	return cache_trusted(path) && stat(path, &st) == 0 && (!want_content || st.st_size > 0);
}

/* Decompress once, and remember the answer either way. */
static int kernel_image_extract(const struct kernel_image *k, const char *cache_dir,
				const char *name, const char *no_pvh_name, bool *ret_pvh,
				struct error *err)
{
	_cleanup_free_ void *elf = NULL;
	uint64_t entry;
	size_t len;
	bool pvh = false;
	int r;

	r = kernel_image_payload(k, &elf, &len, err);
	if (r < 0)
		return r;
	if (elf_file_is_elf(elf, len)) {
		r = kernel_image_elf_pvh(elf, len, "bzImage payload", &pvh, &entry, err);
		if (r < 0)
			return error_prefix(err, "%s", k->path);
	}
	if (pvh)
		r = cache_write(cache_dir, name, elf, len, err);
	else
		r = cache_write(cache_dir, no_pvh_name, "", 0, err);
	if (r < 0)
		return r;
	*ret_pvh = pvh;
	return 0;
}

int kernel_image_pvh_elf(const char *path, const char *cache_dir, char **ret_elf_path,
			 struct error *err)
{
	_cleanup_(kernel_image_freep) struct kernel_image *k = NULL;
	_cleanup_free_ char *name = NULL, *no_pvh = NULL, *elf_path = NULL, *no_pvh_path = NULL;
	bool pvh = false;
	int r;

	r = kernel_image_open(path, &k, err);
	if (r < 0)
		return r;
	if (k->kind == KERNEL_IMAGE_ELF) {
		*ret_elf_path = k->pvh ? TAKE_PTR(k->path) : NULL;
		return 0;
	}
	if (asprintf(&name, "vmlinux-%016" PRIx64 "-%zu", cache_hash(k->map, k->size), k->size) < 0 ||
	    asprintf(&no_pvh, "%s.nopvh", name) < 0 ||
	    asprintf(&elf_path, "%s/%s", cache_dir, name) < 0 ||
	    asprintf(&no_pvh_path, "%s/%s", cache_dir, no_pvh) < 0)
		return error_set(err, ENOMEM, "out of memory");
	if (kernel_image_cached(elf_path, true)) {
		*ret_elf_path = TAKE_PTR(elf_path);
		return 0;
	}
	if (kernel_image_cached(no_pvh_path, false)) {
		*ret_elf_path = NULL;
		return 0;
	}
	r = kernel_image_extract(k, cache_dir, name, no_pvh, &pvh, err);
	if (r < 0)
		return r;
	*ret_elf_path = pvh ? TAKE_PTR(elf_path) : NULL;
	return 0;
}
