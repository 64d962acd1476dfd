/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for reading a rootfs's modules: modules.dep,
 * modules.builtin and a module file come from the input, in a rootfs made
 * once in a temporary directory beside modules that are valid (plain, xz
 * and zstd), corrupt, and symlinks that try to lead out of the rootfs to an ELF file (this
 * program).
 * Whatever modules_load() returns, every module in its list must be an ELF
 * object read from inside the rootfs, listed once.
 *
 * Input: modules.dep, NUL, modules.builtin, NUL, the bytes of
 * kernel/fuzzed.ko, NUL, the names asked for (space-separated; without
 * this part, what a distro kernel target asks for).
 *
 * When the first part starts with "order:", the rest of it is
 * modules.order and there is no modules.dep, as in a kernel package
 * unpacked without depmod: the dependencies come from the modules' .modinfo
 * sections.  Then every byte after modules.builtin's NUL is fuzzed.ko (an
 * ELF object is full of NULs), and the names asked for are "fuzzed" and a
 * distro kernel target's.
 */
#include <fcntl.h>
#include <stdbool.h>
#include <lzma.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "boot/modules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RELEASE "6.1.0-fuzz"
#define MAX_NAMES 8

static char rootfs[64];
static char moddir[128];

static void put(const char *name, const void *data, size_t len)
{
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", moddir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, data, len) != (ssize_t)len)
		abort();
	close(fd);
}

static void remove_rootfs(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", rootfs);
	if (system(cmd) != 0)
		fprintf(stderr, "fuzz_modules: could not remove %s\n", rootfs);
}

static const char stub_elf[64] = "\x7f" "ELF\x02\x01\x01";

static void make_rootfs(void)
{
	const char *elf = stub_elf;
	uint8_t xz[256], zst[256];
	size_t xz_len = 0, zst_len;
	char path[512];

	snprintf(rootfs, sizeof(rootfs), "/tmp/fuzz-modules-XXXXXX");
	if (!mkdtemp(rootfs))
		abort();
	atexit(remove_rootfs);
	snprintf(moddir, sizeof(moddir), "%s/lib/modules/" RELEASE, rootfs);
	snprintf(path, sizeof(path), "%s/lib", rootfs);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/lib/modules", rootfs);
	mkdir(path, 0755);
	mkdir(moddir, 0755);
	snprintf(path, sizeof(path), "%s/kernel", moddir);
	mkdir(path, 0755);
	put("kernel/virtio_pci.ko", elf, sizeof(stub_elf));
	put("kernel/9pnet.ko", elf, sizeof(stub_elf));
	if (lzma_easy_buffer_encode(0, LZMA_CHECK_CRC32, NULL, (const uint8_t *)elf, sizeof(stub_elf), xz,
				    &xz_len, sizeof(xz)) != LZMA_OK)
		abort();
	put("kernel/9p.ko.xz", xz, xz_len);
	zst_len = ZSTD_compress(zst, sizeof(zst), elf, sizeof(stub_elf), 1);
	if (ZSTD_isError(zst_len))
		abort();
	put("kernel/overlay.ko.zst", zst, zst_len);
	put("kernel/truncated.ko.xz", xz, xz_len / 2);
	put("kernel/text.ko", "not a module\n", 13);
	put("kernel/empty.ko", "", 0);
	snprintf(path, sizeof(path), "%s/kernel/escape.ko", moddir);
	if (symlink("/proc/self/exe", path) < 0)
		abort();
	snprintf(path, sizeof(path), "%s/kernel/up.ko", moddir);
	if (symlink("../../../../../../../../proc/self/exe", path) < 0)
		abort();
	snprintf(path, sizeof(path), "%s/kernel/dir.ko", moddir);
	mkdir(path, 0755);
}

/* The next NUL-terminated part of the input; *left is what remains. */
static const uint8_t *part(const uint8_t **p, size_t *left, size_t *len)
{
	const uint8_t *start = *p, *nul = memchr(*p, '\0', *left);

	*len = nul ? (size_t)(nul - start) : *left;
	*p += *len + (nul ? 1 : 0);
	*left -= *len + (nul ? 1 : 0);
	return start;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const distro[] = { "virtio_pci", "virtio_blk", "9p", "?virtio_ccw",
					      "overlay" };
	const char *names[MAX_NAMES];
	bool by_order;
	char names_text[512];
	const uint8_t *p = data, *dep, *builtin, *ko;
	size_t left = size, dep_len, builtin_len, ko_len, names_len, n = 0;
	struct modules_list *list = NULL;
	struct error err = { 0 };
	char path[512];
	int r;

	if (!rootfs[0])
		make_rootfs();
	dep = part(&p, &left, &dep_len);
	builtin = part(&p, &left, &builtin_len);
	by_order = dep_len >= 6 && memcmp(dep, "order:", 6) == 0;
	if (by_order) {
		ko = p;
		ko_len = left;
		left = 0;
		names[n++] = "fuzzed";
		put("modules.order", dep + 6, dep_len - 6);
		snprintf(path, sizeof(path), "%s/modules.dep", moddir);
	} else {
		ko = part(&p, &left, &ko_len);
		put("modules.dep", dep, dep_len);
		snprintf(path, sizeof(path), "%s/modules.order", moddir);
	}
	unlink(path);
	snprintf(path, sizeof(path), "%s/modules.builtin", moddir);
	if (builtin_len)
		put("modules.builtin", builtin, builtin_len);
	else
		unlink(path);
	put("kernel/fuzzed.ko", ko, ko_len);
	if (left) {
		const uint8_t *text = part(&p, &left, &names_len);
		char *save = NULL;

		if (names_len >= sizeof(names_text))
			names_len = sizeof(names_text) - 1;
		memcpy(names_text, text, names_len);
		names_text[names_len] = '\0';
		for (char *t = strtok_r(names_text, " \n", &save); t && n < MAX_NAMES;
		     t = strtok_r(NULL, " \n", &save))
			names[n++] = t;
	} else {
		for (size_t i = 0; i < sizeof(distro) / sizeof(distro[0]); i++)
			names[n++] = distro[i];
	}
	r = modules_load(rootfs, RELEASE, names, n, &list, &err);
	if (r < 0) {
		if (list || !err.msg[0])
			abort();	/* a failure gives no list, and says why */
		return 0;
	}
	for (size_t i = 0; i < list->n; i++) {
		const struct modules_file *f = &list->files[i];

		bool fuzzed = strstr(f->path, "fuzzed.ko") != NULL;

		/* The only ELF objects inside the rootfs are the 64-byte stubs and
		 * what the input put in fuzzed.ko; any other (this program, through
		 * /proc/self/exe) was read from outside it. */
		if (f->len < 4 || memcmp(f->data, "\x7f" "ELF", 4) != 0 || !f->name[0] ||
		    (!fuzzed && (f->len != sizeof(stub_elf) || memcmp(f->data, stub_elf, f->len) != 0)))
			abort();
		for (size_t j = 0; j < i; j++)
			if (strcmp(list->files[j].path, f->path) == 0)
				abort();
	}
	modules_list_free(list);
	return 0;
}
