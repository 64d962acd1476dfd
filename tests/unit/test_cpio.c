// SPDX-License-Identifier: MIT
/*
 * cpio: archives read back by GNU cpio (listing and extraction) and by a
 * reader that applies the rules of the kernel's init/initramfs.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "compress_fixture.h"
#include "boot/cpio.h"

#define MAGIC_LEN 6
#define HEADER_LEN 110

static char tmp_dir[] = "/tmp/vmtest-unit-cpio-XXXXXX";

struct entry {
	const char *name;
	char type;		/* 'd', 'f', 'l' */
	mode_t perm;
	const char *data;	/* file contents or link target */
	size_t len;
};

/* Every name and data length modulo 4, so every padding case is written. */
static const struct entry entries[] = {
	{ "bin", 'd', 0755, NULL, 0 },
	{ "bin/a", 'f', 0644, "1", 1 },
	{ "bin/ab", 'f', 0600, "12", 2 },
	{ "bin/abc", 'f', 0755, "123", 3 },
	{ "bin/abcd", 'f', 0644, "1234", 4 },
	{ "bin/empty", 'f', 0644, "", 0 },
	{ "init", 'f', 0755, "#!/bin/sh\necho hello from init\n", 31 },
	{ "sbin", 'l', 0777, "bin", 3 },
	{ "lib", 'd', 0700, NULL, 0 },
	{ "lib/modules", 'd', 0755, NULL, 0 },
	{ "lib/modules/x.ko", 'f', 0644, "\x7f" "ELF\0\1\2\3\0", 9 },
	{ "lib/abs", 'l', 0777, "/lib/modules/x.ko", 17 },
};

static int setup(void **state)
{
	return mkdtemp(tmp_dir) ? 0 : -1;
}

static int teardown(void **state)
{
	fixture_rm_rf(tmp_dir);
	return 0;
}

static int add_entry(struct cpio *c, const struct entry *e, struct error *err)
{
	switch (e->type) {
	case 'd':
		return cpio_add_dir(c, e->name, e->perm, err);
	case 'l':
		return cpio_add_symlink(c, e->name, e->data, err);
	default:
		return cpio_add_file(c, e->name, e->perm, e->data, e->len, err);
	}
}

static char *write_archive(const char *name)
{
	struct cpio c;
	struct error err = { 0 };
	char *path;
	int fd;

	assert_true(asprintf(&path, "%s/%s", tmp_dir, name) > 0);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	cpio_init(&c, fd);
	for (size_t i = 0; i < ARRAY_SIZE(entries); i++)
		assert_int_equal(add_entry(&c, &entries[i], &err), 0);
	assert_int_equal(cpio_finish(&c, &err), 0);
	assert_int_equal(lseek(fd, 0, SEEK_END), (off_t)c.offset);
	close(fd);
	return path;
}

static char *run(const char *cmd)
{
	char *out = calloc(1, 65536);
	FILE *p = popen(cmd, "r");
	size_t n;

	assert_non_null(p);
	n = fread(out, 1, 65535, p);
	out[n] = '\0';
	if (pclose(p) != 0)
		fail_msg("'%s' failed: %s", cmd, out);
	return out;
}

/* GNU cpio lists exactly our entries, in order. */
static void test_gnu_cpio_list(void **state)
{
	_cleanup_free_ char *path = write_archive("list.cpio"), *cmd = NULL, *out = NULL;
	char want[4096] = "";

	for (size_t i = 0; i < ARRAY_SIZE(entries); i++) {
		strcat(want, entries[i].name);
		strcat(want, "\n");
	}
	assert_true(asprintf(&cmd, "cpio --quiet -t < '%s' 2>&1", path) > 0);
	out = run(cmd);
	assert_string_equal(out, want);
}

/* GNU cpio extracts the same tree: contents, permissions, link targets. */
static void test_gnu_cpio_extract(void **state)
{
	_cleanup_free_ char *path = write_archive("extract.cpio"), *cmd = NULL, *out = NULL;
	_cleanup_free_ char *dest = NULL;

	assert_true(asprintf(&dest, "%s/out", tmp_dir) > 0);
	assert_int_equal(mkdir(dest, 0755), 0);
	assert_true(asprintf(&cmd, "cd '%s' && cpio --quiet -idm < '%s' 2>&1", dest, path) > 0);
	out = run(cmd);
	assert_string_equal(out, "");
	for (size_t i = 0; i < ARRAY_SIZE(entries); i++) {
		const struct entry *e = &entries[i];
		_cleanup_free_ char *p = NULL;
		struct stat st;

		assert_true(asprintf(&p, "%s/%s", dest, e->name) > 0);
		assert_int_equal(lstat(p, &st), 0);
		if (e->type == 'd') {
			assert_true(S_ISDIR(st.st_mode));
		} else if (e->type == 'l') {
			char target[256] = "";

			assert_true(S_ISLNK(st.st_mode));
			assert_int_equal(readlink(p, target, sizeof(target) - 1), (ssize_t)e->len);
			assert_string_equal(target, e->data);
			continue;
		} else {
			_cleanup_free_ void *data = NULL;
			size_t len;

			assert_true(S_ISREG(st.st_mode));
			data = fixture_read(p, &len);
			assert_int_equal(len, e->len);
			assert_memory_equal(data, e->data, len);
		}
		/* The directory "lib" (0700) was extracted with its own mode, like the others. */
		assert_int_equal(st.st_mode & 07777, e->perm);
	}
}

static uint32_t hex8(const char *p)
{
	char buf[9];

	memcpy(buf, p, 8);
	buf[8] = '\0';
	return (uint32_t)strtoul(buf, NULL, 16);
}

/*
 * Read the archive as the kernel does: magic 070701; the name starts at
 * 110 and the data at the next 4-byte boundary after the name's NUL
 * (N_ALIGN); the next header at the next 4-byte boundary after the data.
 * Names and symlink targets at most PATH_MAX; a file with nlink >= 2 is
 * taken as a hard link of any earlier one with the same inode, so inodes
 * must be unique.
 */
static void test_kernel_rules(void **state)
{
	_cleanup_free_ char *path = write_archive("kernel.cpio");
	_cleanup_free_ unsigned char *a = NULL;
	uint32_t inodes[64];
	size_t len, pos = 0, n = 0;

	a = fixture_read(path, &len);
	assert_int_equal(len % 4, 0);
	for (;;) {
		const char *h = (const char *)a + pos;
		uint32_t ino, mode, nlink, size, namesize;
		const char *name;

		assert_true(pos + HEADER_LEN <= len);
		assert_memory_equal(h, "070701", MAGIC_LEN);
		ino = hex8(h + 6);
		mode = hex8(h + 14);
		nlink = hex8(h + 38);
		size = hex8(h + 54);
		namesize = hex8(h + 94);
		assert_int_equal(hex8(h + 22), 0);	/* uid */
		assert_int_equal(hex8(h + 30), 0);	/* gid */
		assert_int_equal(hex8(h + 102), 0);	/* check */
		name = h + HEADER_LEN;
		assert_true(namesize > 0 && namesize <= 4096);
		assert_int_equal(name[namesize - 1], '\0');
		assert_int_equal(strlen(name) + 1, namesize);
		pos += ((HEADER_LEN + namesize + 3) & ~3u);
		if (strcmp(name, "TRAILER!!!") == 0) {
			assert_int_equal(size, 0);
			assert_int_equal(pos, len);
			break;
		}
		assert_true(n < ARRAY_SIZE(entries));
		assert_string_equal(name, entries[n].name);
		assert_int_equal(size, entries[n].type == 'd' ? 0 : entries[n].len);
		assert_memory_equal(a + pos, entries[n].data ? entries[n].data : "", size);
		switch (entries[n].type) {
		case 'd':
			assert_int_equal(mode, S_IFDIR | entries[n].perm);
			assert_int_equal(nlink, 2);
			break;
		case 'l':
			assert_int_equal(mode, S_IFLNK | 0777);
			assert_int_equal(nlink, 1);
			break;
		default:
			assert_int_equal(mode, S_IFREG | entries[n].perm);
			assert_int_equal(nlink, 1);
			break;
		}
		for (size_t i = 0; i < n; i++)
			assert_true(inodes[i] != ino);
		inodes[n++] = ino;
		pos += (size + 3) & ~3u;
		for (size_t i = pos - ((size + 3) & ~3u) + size; i < pos; i++)
			assert_int_equal(a[i], 0);
	}
	assert_int_equal(n, ARRAY_SIZE(entries));
}

/* Through a pipe, with a file larger than the pipe's buffer: short writes. */
static void test_pipe_large_file(void **state)
{
	_cleanup_free_ char *cmd = NULL, *listing = NULL, *out = NULL, *big = malloc(300000);
	struct error err = { 0 };
	struct cpio c;
	FILE *p;

	memset(big, 'x', 300000);
	assert_true(asprintf(&listing, "%s/pipe-listing", tmp_dir) > 0);
	assert_true(asprintf(&cmd, "cpio --quiet -tv > '%s' 2>&1", listing) > 0);
	p = popen(cmd, "w");
	assert_non_null(p);
	cpio_init(&c, fileno(p));
	assert_int_equal(cpio_add_file(&c, "big", 0644, big, 300000, &err), 0);
	assert_int_equal(cpio_add_file(&c, "small", 0644, "s", 1, &err), 0);
	assert_int_equal(cpio_finish(&c, &err), 0);
	assert_int_equal(pclose(p), 0);
	free(cmd);
	assert_true(asprintf(&cmd, "cat '%s'", listing) > 0);
	out = run(cmd);
	assert_non_null(strstr(out, "300000"));
	assert_non_null(strstr(out, " big\n"));
	assert_non_null(strstr(out, " small\n"));
}

static void test_errors(void **state)
{
	struct error err = { 0 };
	struct cpio c;
	char long_name[5000];
	int fds[2];

	assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
	cpio_init(&c, fds[1]);
	assert_int_equal(cpio_add_dir(&c, "/abs", 0755, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "'/abs'"));
	assert_int_equal(cpio_add_dir(&c, "", 0755, &err), -EINVAL);
	assert_int_equal(cpio_add_file(&c, "TRAILER!!!", 0644, "", 0, &err), -EINVAL);
	memset(long_name, 'a', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	assert_int_equal(cpio_add_file(&c, long_name, 0644, "", 0, &err), -ENAMETOOLONG);
	assert_int_equal(cpio_add_symlink(&c, "l", "", &err), -EINVAL);
	assert_int_equal(c.offset, 0);
	assert_int_equal(cpio_finish(&c, &err), 0);
	assert_int_equal(cpio_add_dir(&c, "late", 0755, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "after the trailer"));
	assert_int_equal(cpio_finish(&c, &err), -EINVAL);
	/* The reader is gone: the write fails (EPIPE; SIGPIPE is ignored here). */
	close(fds[0]);
	signal(SIGPIPE, SIG_IGN);
	cpio_init(&c, fds[1]);
	assert_int_equal(cpio_add_dir(&c, "d", 0755, &err), -EPIPE);
	assert_non_null(strstr(err.msg, "cpio: cannot write 'd'"));
	close(fds[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gnu_cpio_list),
		cmocka_unit_test(test_gnu_cpio_extract),
		cmocka_unit_test(test_kernel_rules),
		cmocka_unit_test(test_pipe_large_file),
		cmocka_unit_test(test_errors),
	};

	return cmocka_run_group_tests_name("cpio", tests, setup, teardown);
}
