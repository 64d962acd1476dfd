// SPDX-License-Identifier: MIT
/*
 * kernel_image, decompress and cache: against the real kernels (Debian's in
 * /boot, the small test kernel that make check's fixtures step provides) and against small kernels and
 * hostile files built here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "compress_fixture.h"
#include "boot/cache.h"
#include "boot/decompress.h"
#include "boot/kernel_image.h"

#define FAKE_RELEASE "9.9.9-fake"
#define FAKE_ENTRY 0x1000850ULL

static char tmp_dir[] = "/tmp/vmtest-unit-kimage-XXXXXX";

static int setup(void **state)
{
	return mkdtemp(tmp_dir) ? 0 : -1;
}

static int teardown(void **state)
{
	fixture_rm_rf(tmp_dir);
	return 0;
}

static char *tmp_path(const char *name)
{
	char *p;

	assert_true(asprintf(&p, "%s/%s", tmp_dir, name) > 0);
	return p;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t count_files(const char *dir, const char *prefix)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		n += strncmp(de->d_name, prefix, strlen(prefix)) == 0;
	closedir(d);
	return n;
}

/*
 * A minimal vmlinux: ELF64 header, a PT_LOAD over the whole file, a PT_NOTE
 * holding a GNU note and (if pvh) Xen's PHYS32_ENTRY note, then the banner.
 */
static unsigned char *fake_elf(bool pvh, size_t *ret_len)
{
	static const char banner[] = "Linux version " FAKE_RELEASE " (x@y) #1 SMP";
	unsigned char *buf = calloc(1, 512);
	Elf64_Ehdr eh = { .e_ident = { ELFMAG0, ELFMAG1, ELFMAG2, ELFMAG3, ELFCLASS64,
				       ELFDATA2LSB, EV_CURRENT },
			  .e_type = ET_EXEC, .e_machine = EM_X86_64, .e_version = EV_CURRENT,
			  .e_phoff = sizeof(Elf64_Ehdr), .e_ehsize = sizeof(Elf64_Ehdr),
			  .e_phentsize = sizeof(Elf64_Phdr), .e_phnum = 2 };
	size_t notes = sizeof(eh) + 2 * sizeof(Elf64_Phdr), pos = notes, len;
	Elf64_Phdr load = { .p_type = PT_LOAD, .p_offset = 0, .p_align = 4096 };
	Elf64_Phdr note = { .p_type = PT_NOTE, .p_offset = notes, .p_align = 4 };
	uint32_t gnu[3] = { 4, 4, 3 }, xen[3] = { 4, 8, 18 };
	uint64_t entry = FAKE_ENTRY;

	memcpy(buf + pos, gnu, 12);
	memcpy(buf + pos + 12, "GNU\0abcd", 8);
	pos += 20;
	if (pvh) {
		memcpy(buf + pos, xen, 12);
		memcpy(buf + pos + 12, "Xen", 4);
		memcpy(buf + pos + 16, &entry, 8);
		pos += 24;
	}
	note.p_filesz = note.p_memsz = pos - notes;
	memcpy(buf + pos, banner, sizeof(banner));
	len = pos + sizeof(banner);
	load.p_filesz = load.p_memsz = len;
	memcpy(buf, &eh, sizeof(eh));
	memcpy(buf + sizeof(eh), &load, sizeof(load));
	memcpy(buf + sizeof(eh) + sizeof(load), &note, sizeof(note));
	*ret_len = len;
	return buf;
}

static void put_le16(unsigned char *p, uint16_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
}

static void put_le32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

/*
 * A bzImage as the boot protocol lays it out: one setup sector after the
 * boot sector, the header with its version string, then the payload with
 * its decompressed size appended, as the kernel's build does.
 */
static unsigned char *fake_bzimage(const void *payload, size_t plen, uint32_t raw_len,
				   size_t *ret_len)
{
	static const char version[] = FAKE_RELEASE " (x@y) #1 SMP";
	size_t len = 1024 + plen + 4;
	unsigned char *buf = calloc(1, len);

	buf[0x1f1] = 1;
	put_le16(buf + 0x1fe, 0xaa55);
	memcpy(buf + 0x202, "HdrS", 4);
	put_le16(buf + 0x206, 0x020f);
	put_le16(buf + 0x20e, 0x300 - 0x200);
	memcpy(buf + 0x300, version, sizeof(version));
	put_le32(buf + 0x248, 0);
	put_le32(buf + 0x24c, (uint32_t)plen + 4);
	memcpy(buf + 1024, payload, plen);
	put_le32(buf + 1024 + plen, raw_len);
	*ret_len = len;
	return buf;
}

/* Write a fake bzImage whose payload is elf compressed with f. */
static char *write_fake_bzimage(const char *name, enum decompress_format f, bool pvh)
{
	size_t elf_len, z_len, bz_len;
	unsigned char *elf = fake_elf(pvh, &elf_len);
	void *z = fixture_compress(f, elf, elf_len, &z_len);
	unsigned char *bz = fake_bzimage(z, z_len, (uint32_t)elf_len, &bz_len);
	char *path = tmp_path(name);

	fixture_write(path, bz, bz_len);
	free(elf);
	free(z);
	free(bz);
	return path;
}

static void assert_open_fails(const char *path, int code, const char *msg)
{
	struct kernel_image *k = NULL;
	struct error err = { 0 };

	assert_int_equal(kernel_image_open(path, &k, &err), -code);
	assert_null(k);
	assert_non_null(strstr(err.msg, path));
	if (!strstr(err.msg, msg))
		fail_msg("'%s' lacks '%s'", err.msg, msg);
}

/* arm64's and riscv's Image (magic at 56), s390's image (IPL CCWs at 8):
 * the release from a readable banner, else none. */
static void test_foreign_images(void **state)
{
	static const unsigned char s390_ipl[] = {
		0x00, 0x08, 0x00, 0x00, 0x80, 0x00, 0x02, 0x00, 0x02, 0x00, 0x00, 0x18,
		0x60, 0x00, 0x00, 0x50, 0x02, 0x00, 0x00, 0x68, 0x60, 0x00, 0x00, 0x50,
	};
	static const struct {
		const char *name;
		size_t off;
		const unsigned char *magic;
		size_t len;
		enum kernel_image_kind kind;
	} cases[] = {
		{ "Image-arm64", 56, (const unsigned char *)"ARM\x64", 4, KERNEL_IMAGE_ARM64 },
		{ "Image-riscv", 56, (const unsigned char *)"RSC\x05", 4, KERNEL_IMAGE_RISCV },
		{ "image-s390", 0, s390_ipl, sizeof(s390_ipl), KERNEL_IMAGE_S390 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (int banner = 0; banner < 2; banner++) {
			unsigned char buf[4096] = { 0 };
			_cleanup_free_ char *path = tmp_path(cases[i].name);
			struct kernel_image *k = NULL;
			struct error err = { 0 };

			memcpy(buf + cases[i].off, cases[i].magic, cases[i].len);
			/* A format string is no banner: "Linux version %s". */
			memcpy(buf + 1024, "Linux version %s", 16);
			if (banner)
				memcpy(buf + 2048, "Linux version 6.1.0-50-arm64 (debian-kernel@)", 45);
			fixture_write(path, buf, sizeof(buf));
			assert_int_equal(kernel_image_open(path, &k, &err), 0);
			assert_int_equal(k->kind, cases[i].kind);
			if (banner)
				assert_string_equal(k->release, "6.1.0-50-arm64");
			else
				assert_null(k->release);
			kernel_image_free(k);
		}
	}
}

/* Debian's kernel: xz payload, PVH note; the extracted ELF is cached once. */
static void test_debian_kernel(void **state)
{
	_cleanup_free_ char *path = fixture_boot_kernel(), *cache = tmp_path("cache-debian");
	_cleanup_free_ char *elf = NULL, *again = NULL;
	const char *want_release = strrchr(path, '/') + strlen("/vmlinuz-");
	struct kernel_image *k = NULL, *x = NULL;
	struct error err = { 0 };
	double t0, t1, t2;

	assert_int_equal(mkdir(cache, 0700), 0);
	assert_int_equal(kernel_image_open(path, &k, &err), 0);
	assert_int_equal(k->kind, KERNEL_IMAGE_BZIMAGE);
	assert_string_equal(k->release, want_release);
	assert_true(k->boot_protocol >= 0x020c);
	assert_int_equal(k->payload_format, DECOMPRESS_XZ);
	print_message("# %s: release %s, boot protocol %u.%02u, %s payload\n", path, k->release,
		      k->boot_protocol >> 8u, k->boot_protocol & 0xffu,
		      decompress_format_name(k->payload_format));

	t0 = now();
	assert_int_equal(kernel_image_pvh_elf(path, cache, &elf, &err), 0);
	t1 = now();
	assert_non_null(elf);
	assert_int_equal(kernel_image_pvh_elf(path, cache, &again, &err), 0);
	t2 = now();
	assert_string_equal(elf, again);
	assert_int_equal(count_files(cache, "vmlinux-"), 1);
	assert_int_equal(count_files(cache, "."), 2);	/* . and .., no temporary left */
	print_message("# extracted %s in %.3f s; again (cached) in %.3f s\n", elf, t1 - t0, t2 - t1);

	/* The extracted ELF is a kernel QEMU can load: segments in the file, PVH entry. */
	assert_int_equal(kernel_image_open(elf, &x, &err), 0);
	assert_int_equal(x->kind, KERNEL_IMAGE_ELF);
	assert_true(x->pvh);
	assert_true(x->pvh_entry > 0x100000 && x->pvh_entry < 0x100000000ULL);
	assert_string_equal(x->release, want_release);
	assert_int_equal(x->map[EI_CLASS], ELFCLASS64);
	print_message("# extracted ELF: %zu bytes, PVH entry 0x%llx\n", x->size,
		      (unsigned long long)x->pvh_entry);
	kernel_image_free(x);
	kernel_image_free(k);
}

/* The tinyconfig test kernel: a release, an xz payload, no PVH (remembered). */
static void test_vmtest_kernel(void **state)
{
	_cleanup_free_ char *path = fixture_test_kernel(), *cache = tmp_path("cache-tiny");
	_cleanup_free_ char *elf = NULL;
	_cleanup_free_ void *payload = NULL;
	struct kernel_image *k = NULL, *x = NULL;
	struct error err = { 0 };
	size_t len;
	bool pvh = true;
	uint64_t entry;

	assert_int_equal(mkdir(cache, 0700), 0);
	assert_int_equal(kernel_image_open(path, &k, &err), 0);
	assert_int_equal(k->kind, KERNEL_IMAGE_BZIMAGE);
	/* Debian's linux-source-6.1, whichever point release built it. */
	assert_int_equal(strncmp(k->release, "6.1.", 4), 0);
	assert_int_equal(k->payload_format, DECOMPRESS_XZ);
	assert_int_equal(kernel_image_payload(k, &payload, &len, &err), 0);
	assert_memory_equal(payload, "\x7f" "ELF", 4);
	assert_int_equal(kernel_image_elf_pvh(payload, len, "payload", &pvh, &entry, &err), 0);
	assert_false(pvh);
	print_message("# %s: release %s, %s payload of %zu bytes, no PVH note\n", path,
		      k->release, decompress_format_name(k->payload_format), len);

	assert_int_equal(kernel_image_pvh_elf(path, cache, &elf, &err), 0);
	assert_null(elf);
	assert_int_equal(count_files(cache, "vmlinux-"), 1);	/* the .nopvh marker */
	assert_int_equal(kernel_image_pvh_elf(path, cache, &elf, &err), 0);
	assert_null(elf);

	/* The payload written out is a vmlinux -k accepts: same release, no PVH. */
	_cleanup_free_ char *vmlinux = tmp_path("vmlinux-tiny");
	fixture_write(vmlinux, payload, len);
	assert_int_equal(kernel_image_open(vmlinux, &x, &err), 0);
	assert_int_equal(x->kind, KERNEL_IMAGE_ELF);
	assert_string_equal(x->release, k->release);
	assert_false(x->pvh);
	kernel_image_free(x);
	kernel_image_free(k);
}

/* Every payload format we decompress, in a bzImage built here. */
static void test_fake_bzimage_formats(void **state)
{
	static const enum decompress_format formats[] = { DECOMPRESS_GZIP, DECOMPRESS_XZ,
							   DECOMPRESS_LZMA, DECOMPRESS_ZSTD };

	for (size_t i = 0; i < ARRAY_SIZE(formats); i++) {
		_cleanup_free_ char *name = NULL, *path = NULL, *cache = NULL, *elf = NULL;
		struct kernel_image *k = NULL, *x = NULL;
		struct error err = { 0 };

		assert_true(asprintf(&name, "fake-%s", decompress_format_name(formats[i])) > 0);
		path = write_fake_bzimage(name, formats[i], true);
		cache = tmp_path("cache-fake");
		mkdir(cache, 0700);
		assert_int_equal(kernel_image_open(path, &k, &err), 0);
		assert_string_equal(k->release, FAKE_RELEASE);
		assert_int_equal(k->payload_format, formats[i]);
		assert_int_equal(kernel_image_pvh_elf(path, cache, &elf, &err), 0);
		assert_non_null(elf);
		assert_int_equal(kernel_image_open(elf, &x, &err), 0);
		assert_true(x->pvh);
		assert_int_equal(x->pvh_entry, FAKE_ENTRY);
		assert_string_equal(x->release, FAKE_RELEASE);
		kernel_image_free(x);
		kernel_image_free(k);
	}
}

/* A vmlinux given directly: its own path when it has the note, NULL when not. */
static void test_elf_direct(void **state)
{
	_cleanup_free_ char *with = tmp_path("vmlinux-pvh"), *without = tmp_path("vmlinux-nopvh");
	_cleanup_free_ char *got = NULL;
	_cleanup_free_ unsigned char *a = NULL, *b = NULL;
	struct error err = { 0 };
	size_t alen, blen;

	a = fake_elf(true, &alen);
	b = fake_elf(false, &blen);
	fixture_write(with, a, alen);
	fixture_write(without, b, blen);
	assert_int_equal(kernel_image_pvh_elf(with, tmp_dir, &got, &err), 0);
	assert_string_equal(got, with);
	free(got);
	assert_int_equal(kernel_image_pvh_elf(without, tmp_dir, &got, &err), 0);
	assert_null(got);
}

/* Files that are not kernels, or broken ones: an error naming file and problem. */
static void test_hostile_files(void **state)
{
	_cleanup_free_ char *empty = tmp_path("empty"), *text = tmp_path("text");
	_cleanup_free_ char *gz = tmp_path("vmlinuz.gz"), *noelf = tmp_path("notkernel.elf");
	_cleanup_free_ unsigned char *elf = NULL;
	_cleanup_free_ void *z = NULL;
	size_t len, zlen;

	fixture_write(empty, "", 0);
	assert_open_fails(empty, EINVAL, "empty file");
	assert_open_fails(tmp_dir, EISDIR, "is a directory");
	assert_open_fails("/dev/null", EINVAL, "not a regular file");
	assert_open_fails("/nonexistent/bzImage", ENOENT, "No such file");
	fixture_write(text, "#!/bin/sh\necho hello\n", 21);
	assert_open_fails(text, EINVAL, "not a kernel image");
	z = fixture_gzip("hello", 5, &zlen);
	fixture_write(gz, z, zlen);
	assert_open_fails(gz, EINVAL, "gzip-compressed data, not a kernel image");
	/* An ELF that is not a kernel: no banner. */
	elf = fake_elf(false, &len);
	memset(elf + len - 40, 'x', 40);
	fixture_write(noelf, elf, len);
	assert_open_fails(noelf, EINVAL, "without a 'Linux version' banner");
	assert_open_fails("/bin/true", EINVAL, "without a 'Linux version' banner");
}

/* Cut short, absurd offsets, corrupt payloads, old protocols. */
static void test_hostile_bzimages(void **state)
{
	_cleanup_free_ char *real = fixture_test_kernel(), *path = tmp_path("bad");
	_cleanup_free_ unsigned char *bz = NULL;
	_cleanup_free_ void *payload = NULL;
	struct kernel_image *k = NULL;
	struct error err = { 0 };
	size_t len, plen;

	bz = fixture_read(real, &len);
	fixture_write(path, bz, 0x240);
	assert_open_fails(path, EINVAL, "truncated bzImage header");
	fixture_write(path, bz, len / 2);
	assert_open_fails(path, EINVAL, "lies beyond the end of the file");
	put_le32(bz + 0x248, 0xfffffff0);
	fixture_write(path, bz, len);
	assert_open_fails(path, EINVAL, "lies beyond the end of the file");
	put_le32(bz + 0x248, 675);
	uint16_t version_ptr = (uint16_t)(bz[0x20e] | bz[0x20f] << 8);
	put_le16(bz + 0x20e, 0xffff);
	fixture_write(path, bz, len);
	assert_open_fails(path, EINVAL, "no kernel version string");
	put_le16(bz + 0x20e, 0);
	fixture_write(path, bz, len);
	assert_open_fails(path, EINVAL, "no kernel version string");
	put_le16(bz + 0x20e, version_ptr);
	put_le16(bz + 0x206, 0x0204);
	fixture_write(path, bz, len);
	assert_open_fails(path, ENOTSUP, "boot protocol 2.04 is too old");

	/* A corrupt payload: xz's CRC catches it, and the error names the file. */
	free(bz);
	bz = fixture_read(real, &len);
	for (size_t i = 0; i < 64; i++)
		bz[len / 2 + i] ^= 0x55;
	fixture_write(path, bz, len);
	assert_int_equal(kernel_image_open(path, &k, &err), 0);
	assert_int_equal(kernel_image_payload(k, &payload, &plen, &err), -EBADMSG);
	assert_non_null(strstr(err.msg, path));
	assert_non_null(strstr(err.msg, "corrupt xz data"));
	kernel_image_free(k);

	/* A payload in a format we only recognise. */
	free(bz);
	bz = fake_bzimage("BZh91AY&SY", 10, 100, &len);
	fixture_write(path, bz, len);
	assert_int_equal(kernel_image_open(path, &k, &err), 0);
	assert_int_equal(k->payload_format, DECOMPRESS_BZIP2);
	assert_int_equal(kernel_image_payload(k, &payload, &plen, &err), -ENOTSUP);
	assert_non_null(strstr(err.msg, "bzip2 compression is not supported"));
	kernel_image_free(k);
}

/* A payload that expands past the cap stops there, whatever it claims. */
static void test_bzimage_bomb(void **state)
{
	_cleanup_free_ char *path = tmp_path("bomb");
	_cleanup_free_ unsigned char *zeros = calloc(1, 1 << 20), *z = malloc(1 << 20);
	_cleanup_free_ unsigned char *bz = NULL;
	_cleanup_free_ void *payload = NULL;
	ZSTD_CCtx *cc = ZSTD_createCCtx();
	ZSTD_outBuffer out = { z, 1 << 20, 0 };
	struct kernel_image *k = NULL;
	struct error err = { 0 };
	size_t len, plen;

	for (int i = 0; i < 520; i++) {
		ZSTD_inBuffer in = { zeros, 1 << 20, 0 };

		assert_false(ZSTD_isError(ZSTD_compressStream2(cc, &out, &in, ZSTD_e_continue)));
		assert_int_equal(in.pos, in.size);
	}
	ZSTD_inBuffer none = { zeros, 0, 0 };
	assert_int_equal(ZSTD_compressStream2(cc, &out, &none, ZSTD_e_end), 0);
	ZSTD_freeCCtx(cc);
	bz = fake_bzimage(z, out.pos, 100, &len);
	fixture_write(path, bz, len);
	assert_int_equal(kernel_image_open(path, &k, &err), 0);
	assert_int_equal(kernel_image_payload(k, &payload, &plen, &err), -E2BIG);
	assert_non_null(strstr(err.msg, path));
	assert_non_null(strstr(err.msg, "decompresses to more than 512 MiB"));
	print_message("# %zu bytes of zstd stopped at 512 MiB\n", out.pos);
	kernel_image_free(k);
}

/* Program headers and notes that point outside the file. */
static void test_hostile_elf(void **state)
{
	_cleanup_free_ unsigned char *elf = NULL;
	struct error err = { 0 };
	uint64_t entry;
	size_t len;
	bool pvh;

	elf = fake_elf(true, &len);
	assert_int_equal(kernel_image_elf_pvh(elf, len, "x", &pvh, &entry, &err), 0);
	assert_true(pvh);
	assert_int_equal(kernel_image_elf_pvh(elf, 100, "x", &pvh, &entry, &err), -ENOEXEC);
	assert_non_null(strstr(err.msg, "x: bad ELF file: program headers lie beyond"));
	assert_int_equal(kernel_image_elf_pvh(elf, len - 10, "x", &pvh, &entry, &err), -ENOEXEC);
	assert_non_null(strstr(err.msg, "a segment lies beyond the end"));
	assert_int_equal(kernel_image_elf_pvh(elf, 30, "x", &pvh, &entry, &err), -ENOEXEC);
	assert_non_null(strstr(err.msg, "truncated header"));
	/* A note whose descriptor size runs past its segment. */
	elf[sizeof(Elf64_Ehdr) + 2 * sizeof(Elf64_Phdr) + 4] = 0xff;
	assert_int_equal(kernel_image_elf_pvh(elf, len, "x", &pvh, &entry, &err), -ENOEXEC);
	assert_non_null(strstr(err.msg, "a note overruns its segment"));
	elf[EI_CLASS] = 7;
	assert_int_equal(kernel_image_elf_pvh(elf, len, "x", &pvh, &entry, &err), -ENOEXEC);
	assert_non_null(strstr(err.msg, "unknown class"));
}

static void assert_round_trip(enum decompress_format f, const unsigned char *data, size_t len)
{
	_cleanup_free_ unsigned char *z = NULL, *zt = NULL;
	struct error err = { 0 };
	void *out = NULL;
	size_t zlen, olen;

	z = fixture_compress(f, data, len, &zlen);
	assert_int_equal(decompress_detect(z, zlen), f);
	assert_int_equal(decompress_buffer(f, z, zlen, 0, len, &out, &olen, &err), 0);
	assert_int_equal(olen, len);
	assert_memory_equal(out, data, len);
	free(out);
	/* Whatever follows the stream is ignored, as the kernel's size trailer must be. */
	zt = malloc(zlen + 4);
	memcpy(zt, z, zlen);
	memcpy(zt + zlen, "\x01\x02\x03\x04", 4);
	assert_int_equal(decompress_buffer(f, zt, zlen + 4, len, len, &out, &olen, &err), 0);
	assert_int_equal(olen, len);
	free(out);
	/* One byte over the cap is a bomb. */
	assert_int_equal(decompress_buffer(f, z, zlen, 0, len - 1, &out, &olen, &err), -E2BIG);
	assert_non_null(strstr(err.msg, "decompresses to more than"));
	/* Cut short. */
	assert_int_equal(decompress_buffer(f, z, zlen / 2, 0, len, &out, &olen, &err), -EBADMSG);
	if (!strstr(err.msg, "truncated") && !strstr(err.msg, "corrupt"))
		fail_msg("%s: %s", decompress_format_name(f), err.msg);
}

static void test_decompress(void **state)
{
	static const enum decompress_format formats[] = { DECOMPRESS_GZIP, DECOMPRESS_XZ,
							   DECOMPRESS_LZMA, DECOMPRESS_ZSTD };
	size_t len = 300 * 1024;
	_cleanup_free_ unsigned char *data = malloc(len);
	struct error err = { 0 };
	void *out = NULL;
	size_t olen;
	uint32_t x = 1;

	/* Compressible but not trivially: text-like bytes from a small generator. */
	for (size_t i = 0; i < len; i++) {
		x = x * 1103515245 + 12345;
		data[i] = (unsigned char)("abcdefgh \n"[(x >> 16) % 10]);
	}
	for (size_t i = 0; i < ARRAY_SIZE(formats); i++)
		assert_round_trip(formats[i], data, len);

	assert_int_equal(decompress_detect("BZh9", 4), DECOMPRESS_BZIP2);
	assert_int_equal(decompress_detect("\x02\x21\x4c\x18", 4), DECOMPRESS_LZ4);
	assert_int_equal(decompress_detect("\x89LZO\0\r\n\x1a\n", 9), DECOMPRESS_LZO);
	assert_int_equal(decompress_detect("\x7f" "ELF", 4), DECOMPRESS_NONE);
	assert_int_equal(decompress_detect("\x1f", 1), DECOMPRESS_NONE);
	assert_int_equal(decompress_buffer(DECOMPRESS_LZ4, "\x02\x21\x4c\x18", 4, 0, 100, &out,
					   &olen, &err), -ENOTSUP);
	assert_non_null(strstr(err.msg, "lz4 compression is not supported"));
	assert_int_equal(decompress_buffer(DECOMPRESS_LZO, "\x89LZO", 4, 0, 100, &out, &olen,
					   &err), -ENOTSUP);
	/* Garbage after a valid magic. */
	assert_int_equal(decompress_buffer(DECOMPRESS_XZ, "\xfd" "7zXZ\0garbagegarbage", 20, 0,
					   100, &out, &olen, &err), -EBADMSG);
	assert_int_equal(decompress_buffer(DECOMPRESS_GZIP, "\x1f\x8b\x08\0garbagegarbage", 20,
					   0, 100, &out, &olen, &err), -EBADMSG);
	assert_int_equal(decompress_buffer(DECOMPRESS_ZSTD, "\x28\xb5\x2f\xfd\xff\xff\xff", 7, 0,
					   100, &out, &olen, &err), -EBADMSG);
	/* An lzma header asking for a 4 GiB dictionary. */
	assert_int_equal(decompress_buffer(DECOMPRESS_LZMA,
					   "\x5d\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\0\0",
					   15, 0, 100, &out, &olen, &err), -ENOMEM);
	assert_non_null(strstr(err.msg, "MiB of memory"));
}

static void test_cache(void **state)
{
	_cleanup_free_ char *xdg = tmp_path("xdg/deeper"), *home = tmp_path("home");
	_cleanup_free_ char *dir = NULL, *want = NULL, *file = NULL, *got = NULL;
	char *old_xdg = getenv("XDG_CACHE_HOME"), *old_home = getenv("HOME");
	struct error err = { 0 };
	struct stat st;
	size_t len;

	old_xdg = old_xdg ? strdup(old_xdg) : NULL;
	old_home = old_home ? strdup(old_home) : NULL;
	setenv("XDG_CACHE_HOME", xdg, 1);
	assert_int_equal(cache_dir_get(&dir, &err), 0);
	assert_true(asprintf(&want, "%s/vmtest", xdg) > 0);
	assert_string_equal(dir, want);
	assert_int_equal(stat(dir, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0700);
	free(dir);
	free(want);
	/* A relative $XDG_CACHE_HOME is invalid: ~/.cache. */
	setenv("XDG_CACHE_HOME", "relative", 1);
	setenv("HOME", home, 1);
	assert_int_equal(cache_dir_get(&dir, &err), 0);
	assert_true(asprintf(&want, "%s/.cache/vmtest", home) > 0);
	assert_string_equal(dir, want);

	assert_int_equal(cache_write(dir, "entry", "content", 7, &err), 0);
	assert_true(asprintf(&file, "%s/entry", dir) > 0);
	got = fixture_read(file, &len);
	assert_int_equal(len, 7);
	assert_memory_equal(got, "content", 7);
	assert_int_equal(count_files(dir, "."), 2);
	assert_int_equal(cache_write("/nonexistent", "entry", "x", 1, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "/nonexistent"));

	assert_true(cache_hash("", 0) != cache_hash("\0", 1));
	assert_true(cache_hash("abc", 3) != cache_hash("abd", 3));
	assert_true(cache_hash(got, 7) == cache_hash("content", 7));
	assert_true(cache_hash(xdg, 33) != cache_hash(xdg + 1, 33));

	if (old_xdg)
		setenv("XDG_CACHE_HOME", old_xdg, 1);
	else
		unsetenv("XDG_CACHE_HOME");
	if (old_home)
		setenv("HOME", old_home, 1);
	free(old_xdg);
	free(old_home);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_foreign_images),
		cmocka_unit_test(test_debian_kernel),
		cmocka_unit_test(test_vmtest_kernel),
		cmocka_unit_test(test_fake_bzimage_formats),
		cmocka_unit_test(test_elf_direct),
		cmocka_unit_test(test_hostile_files),
		cmocka_unit_test(test_hostile_bzimages),
		cmocka_unit_test(test_bzimage_bomb),
		cmocka_unit_test(test_hostile_elf),
		cmocka_unit_test(test_decompress),
		cmocka_unit_test(test_cache),
	};

	return cmocka_run_group_tests_name("kernel_image", tests, setup, teardown);
}
