// SPDX-License-Identifier: MIT
/*
 * modules: against Debian's real /lib/modules tree, and against a small
 * rootfs built here whose symlinks must resolve inside it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

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
#include "base/arch.h"
#include "boot/kernel_image.h"
#include "boot/modules.h"

#define FAKE_RELEASE "1.0-test"

static char tmp_dir[] = "/tmp/vmtest-unit-modules-XXXXXX";
static char root[4096];

/* A stand-in module: the ELF magic, then bytes that tell modules apart. */
static void fake_module(const char *name, unsigned char *buf, size_t len)
{
	memcpy(buf, "\x7f" "ELF", 4);
	for (size_t i = 4; i < len; i++)
		buf[i] = (unsigned char)(name[i % strlen(name)] + i);
}

static void mkdir_p(const char *path)
{
	char cmd[8192];

	snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", path);
	assert_int_equal(system(cmd), 0);
}

static void write_module(const char *dir, const char *file, const char *name,
			 enum decompress_format f)
{
	unsigned char ko[4096];
	_cleanup_free_ char *path = NULL;
	_cleanup_free_ void *z = NULL;
	size_t zlen = sizeof(ko);

	fake_module(name, ko, sizeof(ko));
	assert_true(asprintf(&path, "%s/%s", dir, file) > 0);
	if (f == DECOMPRESS_NONE) {
		fixture_write(path, ko, sizeof(ko));
		return;
	}
	z = fixture_compress(f, ko, sizeof(ko), &zlen);
	fixture_write(path, z, zlen);
}

static void symlink_in(const char *dir, const char *name, const char *target)
{
	_cleanup_free_ char *path = NULL;

	assert_true(asprintf(&path, "%s/%s", dir, name) > 0);
	assert_int_equal(symlink(target, path), 0);
}

/*
 * root/lib -> /usr/lib (absolute: resolves inside root only with
 * RESOLVE_IN_ROOT), modules of every compression under
 * usr/lib/modules/1.0-test/kernel, symlinks that try to leave root, and a
 * real module file outside root that they point at.
 */
static int setup(void **state)
{
	static const char dep[] =
		"kernel/a.ko.zst: kernel/b-c.ko.gz kernel/d.ko.xz\n"
		"kernel/b-c.ko.gz: kernel/d.ko.xz\n"
		"kernel/d.ko.xz:\n"
		"kernel/e.ko:\n"
		"kernel/gone.ko:\n"
		"kernel/bad.ko.zst:\n"
		"kernel/escape.ko:\n"
		"kernel/climb.ko:\n"
		"kernel/notelf.ko:\n"
		"kernel/loop1.ko: kernel/loop2.ko\n"
		"kernel/loop2.ko: kernel/loop1.ko\n"
		"kernel/orphan-user.ko: kernel/orphan.ko\n"
		"\n";
	static const char builtin[] = "kernel/fs/built-in.ko\nkernel/virtio_pci.ko\n";
	_cleanup_free_ char *kdir = NULL, *mdir = NULL, *outside = NULL, *p = NULL;
	unsigned char garbage[64];

	if (!mkdtemp(tmp_dir))
		return -1;
	snprintf(root, sizeof(root), "%s/root", tmp_dir);
	assert_true(asprintf(&mdir, "%s/usr/lib/modules/" FAKE_RELEASE, root) > 0);
	assert_true(asprintf(&kdir, "%s/kernel", mdir) > 0);
	assert_true(asprintf(&outside, "%s/outside", tmp_dir) > 0);
	mkdir_p(kdir);
	mkdir_p(outside);
	symlink_in(root, "lib", "/usr/lib");
	assert_true(asprintf(&p, "%s/modules.dep", mdir) > 0);
	fixture_write(p, dep, strlen(dep));
	free(p);
	assert_true(asprintf(&p, "%s/modules.builtin", mdir) > 0);
	fixture_write(p, builtin, strlen(builtin));
	write_module(kdir, "a.ko.zst", "a", DECOMPRESS_ZSTD);
	write_module(kdir, "b-c.ko.gz", "b-c", DECOMPRESS_GZIP);
	write_module(kdir, "d.ko.xz", "d", DECOMPRESS_XZ);
	write_module(kdir, "e-real.ko", "e", DECOMPRESS_NONE);
	symlink_in(kdir, "e.ko", "/usr/lib/modules/" FAKE_RELEASE "/kernel/e-real.ko");
	write_module(kdir, "loop1.ko", "loop1", DECOMPRESS_NONE);
	write_module(kdir, "loop2.ko", "loop2", DECOMPRESS_NONE);
	write_module(kdir, "orphan.ko", "orphan", DECOMPRESS_NONE);
	write_module(kdir, "orphan-user.ko", "orphan-user", DECOMPRESS_NONE);
	write_module(outside, "real.ko", "outside", DECOMPRESS_NONE);
	free(p);
	assert_true(asprintf(&p, "%s/real.ko", outside) > 0);
	symlink_in(kdir, "escape.ko", p);
	free(p);
	assert_true(asprintf(&p, "../../../../../../../../../../../../..%s/real.ko", outside) > 0);
	symlink_in(kdir, "climb.ko", p);
	free(p);
	/* zstd's magic, then nonsense. */
	memset(garbage, 0xa5, sizeof(garbage));
	memcpy(garbage, "\x28\xb5\x2f\xfd", 4);
	assert_true(asprintf(&p, "%s/bad.ko.zst", kdir) > 0);
	fixture_write(p, garbage, sizeof(garbage));
	free(p);
	assert_true(asprintf(&p, "%s/notelf.ko", kdir) > 0);
	fixture_write(p, "just text\n", 10);
	return 0;
}

static int teardown(void **state)
{
	fixture_rm_rf(tmp_dir);
	return 0;
}

static void assert_names(const struct modules_list *l, const char *const *want, size_t n)
{
	assert_int_equal(l->n, n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(l->files[i].name, want[i]);
}

static void assert_load_fails(const char *name, int code, const char *msg)
{
	struct modules_list *l = NULL;
	struct error err = { 0 };
	const char *names[] = { name };

	assert_int_equal(modules_load(root, FAKE_RELEASE, names, 1, &l, &err), -code);
	assert_null(l);
	if (!strstr(err.msg, msg))
		fail_msg("'%s' lacks '%s'", err.msg, msg);
}

/* Dependencies first, each once, '-' and '_' alike, every compression undone. */
static void test_fake_order(void **state)
{
	const char *names[] = { "a", "e", "b_c", "d", "built_in", "virtio-pci" };
	const char *want[] = { "d", "b_c", "a", "e" };
	struct modules_list *l = NULL;
	struct error err = { 0 };

	assert_int_equal(modules_load(root, FAKE_RELEASE, names, ARRAY_SIZE(names), &l, &err), 0);
	assert_names(l, want, ARRAY_SIZE(want));
	for (size_t i = 0; i < l->n; i++) {
		unsigned char ko[4096];

		fake_module(i == 1 ? "b-c" : want[i], ko, sizeof(ko));
		assert_int_equal(l->files[i].len, sizeof(ko));
		assert_memory_equal(l->files[i].data, ko, sizeof(ko));
	}
	assert_string_equal(l->files[0].path, "lib/modules/" FAKE_RELEASE "/kernel/d.ko.xz");
	modules_list_free(l);
}

/* A dependency that has no line of its own is still loaded. */
static void test_fake_dep_without_line(void **state)
{
	const char *names[] = { "orphan_user" };
	const char *want[] = { "orphan", "orphan_user" };
	struct modules_list *l = NULL;
	struct error err = { 0 };

	assert_int_equal(modules_load(root, FAKE_RELEASE, names, 1, &l, &err), 0);
	assert_names(l, want, 2);
	modules_list_free(l);
}

static void test_fake_errors(void **state)
{
	struct modules_list *l = NULL;
	struct error err = { 0 };
	const char *names[] = { "a" };
	char want[8192];

	snprintf(want, sizeof(want),
		 "kernel module 'nosuch' is neither built in nor listed in %s/lib/modules/"
		 FAKE_RELEASE "/modules.dep", root);
	assert_load_fails("nosuch", ENOENT, want);
	snprintf(want, sizeof(want), "%s/lib/modules/" FAKE_RELEASE "/kernel/gone.ko: No such file",
		 root);
	assert_load_fails("gone", ENOENT, want);
	snprintf(want, sizeof(want), "%s/lib/modules/" FAKE_RELEASE "/kernel/bad.ko.zst: corrupt zstd data",
		 root);
	assert_load_fails("bad", EBADMSG, want);
	assert_load_fails("notelf", ENOEXEC, "notelf.ko: not a kernel module (no ELF header)");
	assert_load_fails("loop1", ELOOP, "dependency loop");
	/* Symlinks out of the rootfs, absolute or climbing, stay inside it: nothing there. */
	assert_load_fails("escape", ENOENT, "kernel/escape.ko: No such file");
	assert_load_fails("climb", ENOENT, "kernel/climb.ko: No such file");

	assert_int_equal(modules_load(root, "../" FAKE_RELEASE, names, 1, &l, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "bad kernel release"));
	assert_int_equal(modules_load("/nonexistent-root", FAKE_RELEASE, names, 1, &l, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "rootfs /nonexistent-root"));
	assert_null(l);
}

/* No modules directory for the release: a result of its own, not an error. */
static void test_fake_no_dir(void **state)
{
	struct modules_list *l = NULL;
	struct error err = { 0 };
	const char *names[] = { "a" };

	assert_int_equal(modules_load(root, "2.0-none", names, 1, &l, &err), MODULES_NO_DIR);
	assert_non_null(l);
	assert_int_equal(l->n, 0);
	modules_list_free(l);
}

/* Debian's release, read from its kernel in /boot: the modules test what -k gives. */
static char *debian_release(void)
{
	_cleanup_free_ char *kernel = fixture_boot_kernel(), *dir = NULL;
	struct kernel_image *k = NULL;
	struct error err = { 0 };
	char *release;

	if (kernel_image_open(kernel, &k, &err) < 0)
		fail_msg("%s", err.msg);
	release = strdup(k->release);
	kernel_image_free(k);
	assert_true(asprintf(&dir, "/lib/modules/%s/modules.dep", release) > 0);
	if (access(dir, R_OK) < 0)
		fail_msg("%s missing: install the modules of %s", dir, kernel);
	return release;
}

/* The dependencies modules.dep lists for path ("kernel/..."), space-separated. */
static char *dep_line(const char *dep_text, const char *path)
{
	_cleanup_free_ char *key = NULL;
	const char *p, *end;

	assert_true(asprintf(&key, "\n%s:", path) > 0);
	p = strstr(dep_text, key);
	if (!p && strncmp(dep_text, key + 1, strlen(key + 1)) == 0)
		p = dep_text - 1;
	assert_non_null(p);
	p += strlen(key);
	end = strchr(p, '\n');
	return strndup(p, (size_t)(end - p));
}

/* A module's path as modules.dep names it: under the release, without ".xz" we added. */
static char *dep_path_of(const struct modules_file *f, const char *prefix)
{
	const char *rel = f->path + strlen(prefix);
	size_t n = strlen(rel);

	if (n > 3 && strcmp(rel + n - 3, ".xz") == 0)
		n -= 3;
	return strndup(rel, n);
}

/* Every module's dependencies come before it; no module twice; all ELF. */
static void assert_dep_order(const struct modules_list *l, const char *release)
{
	_cleanup_free_ char *dep_path = NULL, *dep_text = NULL, *prefix = NULL;
	size_t len;

	assert_true(asprintf(&dep_path, "/lib/modules/%s/modules.dep", release) > 0);
	assert_true(asprintf(&prefix, "lib/modules/%s/", release) > 0);
	dep_text = fixture_read(dep_path, &len);
	dep_text[len] = '\0';
	for (size_t i = 0; i < l->n; i++) {
		_cleanup_free_ char *rel = dep_path_of(&l->files[i], prefix);
		_cleanup_free_ char *deps = dep_line(dep_text, rel);
		char *save = NULL;

		assert_memory_equal(l->files[i].data, "\x7f" "ELF", 4);
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(l->files[j].path, l->files[i].path);
		for (char *w = strtok_r(deps, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
			bool before = false;

			for (size_t j = 0; j < i; j++) {
				_cleanup_free_ char *other = dep_path_of(&l->files[j], prefix);

				before |= strcmp(other, w) == 0;
			}
			if (!before)
				fail_msg("%s needs %s, which is not loaded before it", rel, w);
		}
	}
}

static void test_debian_9p(void **state)
{
	_cleanup_free_ char *release = debian_release();
	const char *names[] = { "9p" };
	const char *want[] = { "netfs", "fscache", "9pnet", "9p" };
	struct modules_list *l = NULL;
	struct error err = { 0 };

	assert_int_equal(modules_load("/", release, names, 1, &l, &err), 0);
	assert_names(l, want, ARRAY_SIZE(want));
	assert_dep_order(l, release);
	modules_list_free(l);
}

static void test_debian_vmtest_set(void **state)
{
	_cleanup_free_ char *release = debian_release();
	struct modules_list *l = NULL;
	struct error err = { 0 };
	struct timespec t0, t1;
	size_t bytes = 0, ring = 0;
	char order[2048] = "";

	const struct arch *arch = arch_find("x86_64");

	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(modules_load("/", release, arch->modules, arch->n_modules, &l, &err), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_dep_order(l, release);
	/* Debian's kernel has each as a module, the optional ones ('?') too. */
	for (size_t i = 0; i < arch->n_modules; i++) {
		const char *name = arch->modules[i] + (arch->modules[i][0] == '?');
		bool found = false;

		for (size_t j = 0; j < l->n; j++)
			found |= strcmp(l->files[j].name, name) == 0;
		if (!found)
			fail_msg("%s not in the list", name);
	}
	for (size_t i = 0; i < l->n; i++) {
		bytes += l->files[i].len;
		ring += strcmp(l->files[i].name, "virtio_ring") == 0;
		strcat(order, " ");
		strcat(order, l->files[i].name);
	}
	assert_int_equal(ring, 1);
	assert_string_equal(l->files[0].name, "virtio_ring");
	print_message("# %s:%s (%zu modules, %zu KiB, %.3f s)\n", release, order, l->n,
		      bytes >> 10,
		      (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	modules_list_free(l);
}

/*
 * Debian 12 ships its modules uncompressed; newer distributions use .ko.xz
 * or .ko.zst.  Compress Debian's real 9p.ko into a rootfs and read it back.
 */
static void test_debian_module_compressed(void **state)
{
	static const enum decompress_format formats[] = { DECOMPRESS_XZ, DECOMPRESS_ZSTD,
							   DECOMPRESS_GZIP };
	static const char *const ext[] = { "xz", "zst", "gz" };
	_cleanup_free_ char *release = debian_release(), *ko = NULL, *ko_path = NULL;
	_cleanup_free_ char *xroot = NULL, *kdir = NULL, *p = NULL;
	size_t ko_len;

	assert_true(asprintf(&ko_path, "/lib/modules/%s/kernel/fs/9p/9p.ko", release) > 0);
	ko = fixture_read(ko_path, &ko_len);
	assert_true(asprintf(&xroot, "%s/xroot", tmp_dir) > 0);
	assert_true(asprintf(&kdir, "%s/lib/modules/%s/kernel/fs/9p", xroot, release) > 0);
	mkdir_p(kdir);
	for (size_t i = 0; i < ARRAY_SIZE(formats); i++) {
		_cleanup_free_ void *z = NULL;
		_cleanup_free_ char *dep = NULL;
		struct modules_list *l = NULL;
		struct error err = { 0 };
		const char *names[] = { "9p" };
		size_t zlen;

		z = fixture_compress(formats[i], ko, ko_len, &zlen);
		free(p);
		assert_true(asprintf(&p, "%s/9p.ko.%s", kdir, ext[i]) > 0);
		fixture_write(p, z, zlen);
		free(p);
		assert_true(asprintf(&p, "%s/lib/modules/%s/modules.dep", xroot, release) > 0);
		assert_true(asprintf(&dep, "kernel/fs/9p/9p.ko.%s:\n", ext[i]) > 0);
		fixture_write(p, dep, strlen(dep));
		assert_int_equal(modules_load(xroot, release, names, 1, &l, &err), 0);
		assert_int_equal(l->n, 1);
		assert_string_equal(l->files[0].name, "9p");
		assert_int_equal(l->files[0].len, ko_len);
		assert_memory_equal(l->files[0].data, ko, ko_len);
		print_message("# 9p.ko (%zu bytes) as .ko.%s (%zu bytes): read back\n", ko_len,
			      ext[i], zlen);
		modules_list_free(l);
	}
}

/* Copies a file of the host's root into the rootfs at the same path. */
static void copy_into(const char *xroot, const char *path, bool xz)
{
	_cleanup_free_ char *data = NULL, *to = NULL, *dir = NULL;
	_cleanup_free_ void *z = NULL;
	size_t len, zlen;

	data = fixture_read(path, &len);
	assert_true(asprintf(&to, "%s%s%s", xroot, path, xz ? ".xz" : "") > 0);
	dir = strdup(to);
	*strrchr(dir, '/') = '\0';
	mkdir_p(dir);
	if (!xz) {
		fixture_write(to, data, len);
		return;
	}
	z = fixture_compress(DECOMPRESS_XZ, data, len, &zlen);
	fixture_write(to, z, zlen);
}

/*
 * A kernel package unpacked with dpkg-deb -x has no modules.dep (depmod
 * runs in its postinst), only modules.order and modules.builtin.  The
 * modules vmtest needs come out of such a copy of Debian's tree in an order
 * that modules.dep allows, the same set as with it; 9p.ko, compressed, is
 * found though modules.order says "9p.ko".  A dependency missing from
 * modules.order is named, and with neither index the message says what to
 * run.
 */
static void test_debian_without_depmod(void **state)
{
	_cleanup_free_ char *release = debian_release(), *xroot = NULL, *p = NULL;
	_cleanup_free_ char *order = NULL, *mdir = NULL;
	const struct arch *arch = arch_find("x86_64");
	struct modules_list *with = NULL, *without = NULL;
	struct error err = { 0 };
	const char *names[] = { "9p" };
	char want[8192];

	assert_int_equal(modules_load("/", release, arch->modules, arch->n_modules, &with, &err), 0);
	assert_true(asprintf(&xroot, "%s/unpacked", tmp_dir) > 0);
	assert_true(asprintf(&mdir, "/lib/modules/%s", release) > 0);
	for (size_t i = 0; i < with->n; i++) {
		free(p);
		assert_true(asprintf(&p, "/%s", with->files[i].path) > 0);
		copy_into(xroot, p, strcmp(with->files[i].name, "9p") == 0);
	}
	free(p);
	assert_true(asprintf(&p, "%s/modules.order", mdir) > 0);
	copy_into(xroot, p, false);
	free(p);
	assert_true(asprintf(&p, "%s/modules.builtin", mdir) > 0);
	copy_into(xroot, p, false);

	assert_int_equal(modules_load(xroot, release, arch->modules, arch->n_modules, &without, &err),
			 0);
	assert_dep_order(without, release);
	assert_int_equal(without->n, with->n);
	for (size_t i = 0; i < with->n; i++) {
		bool found = false;

		for (size_t j = 0; j < without->n; j++)
			found |= strcmp(with->files[i].name, without->files[j].name) == 0 &&
				 with->files[i].len == without->files[j].len &&
				 memcmp(with->files[i].data, without->files[j].data, with->files[i].len) == 0;
		if (!found)
			fail_msg("%s differs or is missing without modules.dep", with->files[i].name);
	}
	without = modules_list_free(without);
	modules_list_free(with);

	/* 9p needs netfs and fscache; a modules.order without them names one. */
	free(p);
	assert_true(asprintf(&p, "%s/lib/modules/%s/modules.order", xroot, release) > 0);
	order = strdup("kernel/fs/9p/9p.ko\nkernel/net/9p/9pnet.ko\n");
	fixture_write(p, order, strlen(order));
	snprintf(want, sizeof(want), "', which is neither built in nor listed in "
		 "%s/lib/modules/%s/modules.order", xroot, release);
	assert_int_equal(modules_load(xroot, release, names, 1, &without, &err), -ENOENT);
	if (!strstr(err.msg, "kernel/fs/9p/9p.ko.xz needs kernel module '") || !strstr(err.msg, want))
		fail_msg("'%s' does not name the missing dependency", err.msg);

	assert_int_equal(unlink(p), 0);
	snprintf(want, sizeof(want), "%s/lib/modules/%s has neither modules.dep nor modules.order; "
		 "run: depmod -b %s %s", xroot, release, xroot, release);
	assert_int_equal(modules_load(xroot, release, names, 1, &without, &err), -ENOENT);
	assert_string_equal(err.msg, want);
	assert_null(without);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fake_order),
		cmocka_unit_test(test_fake_dep_without_line),
		cmocka_unit_test(test_fake_errors),
		cmocka_unit_test(test_fake_no_dir),
		cmocka_unit_test(test_debian_9p),
		cmocka_unit_test(test_debian_vmtest_set),
		cmocka_unit_test(test_debian_module_compressed),
		cmocka_unit_test(test_debian_without_depmod),
	};

	return cmocka_run_group_tests_name("modules", tests, setup, teardown);
}
