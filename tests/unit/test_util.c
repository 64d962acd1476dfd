// SPDX-License-Identifier: MIT
/* The small pure helpers: shell quoting, sizes, suggestions, host kernel,
 * write-all and the architectures. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io.h"
#include "base/arch.h"
#include "base/shell_quote.h"
#include "base/size.h"
#include "base/suggest.h"
#include "base/utf8.h"
#include "boot/kernel_find.h"

static void assert_quoted(const char *word, const char *want)
{
	char *got = shell_quote_word(word);

	assert_string_equal(got, want);
	free(got);
}

static void test_shell_quote(void **state)
{
	assert_quoted("make", "make");
	assert_quoted("./a/b-c_d.e:f,g@h%i+j", "./a/b-c_d.e:f,g@h%i+j");
	assert_quoted("", "''");
	assert_quoted("a b", "'a b'");
	assert_quoted("FOO=bar", "'FOO=bar'");
	assert_quoted("~", "'~'");
	assert_quoted("#x", "'#x'");
	assert_quoted("it's", "'it'\\''s'");
	assert_quoted("'", "''\\'''");
	assert_quoted("$(rm -rf /)", "'$(rm -rf /)'");
	assert_quoted("a\nb", "'a\nb'");
}

/* What the shell makes of the quoted line must be the original argv. */
static void test_shell_quote_round_trip(void **state)
{
	char *argv[] = { "printf", "[%s]", "a b", "it's", "$HOME", "\"q\"", "`x`", "\\", "*", "", "FOO=1" };
	char *line = shell_quote_argv(11, argv);
	char out[512] = "";
	FILE *p;
	size_t n;

	assert_non_null(line);
	p = popen(line, "r");
	assert_non_null(p);
	n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	assert_int_equal(pclose(p), 0);
	assert_string_equal(out, "[a b][it's][$HOME][\"q\"][`x`][\\][*][][FOO=1]");
	free(line);
}

static void test_size(void **state)
{
	uint64_t v;

	assert_true(size_parse("4G", 1 << 20, &v));
	assert_int_equal(v, 4ULL << 30);
	assert_true(size_parse("512m", 1 << 20, &v));
	assert_int_equal(v, 512ULL << 20);
	assert_true(size_parse("4096", 1 << 20, &v));
	assert_int_equal(v, 4096ULL << 20);
	assert_true(size_parse("1.5G", 1 << 20, &v));
	assert_int_equal(v, 3ULL << 29);
	assert_true(size_parse("2048k", 1 << 20, &v));
	assert_int_equal(v, 2ULL << 20);
	assert_true(size_parse("1E", 1 << 20, &v));
	assert_false(size_parse("16E", 1 << 20, &v));
	assert_false(size_parse("", 1 << 20, &v));
	assert_false(size_parse("0", 1 << 20, &v));
	assert_false(size_parse("4GB", 1 << 20, &v));
	assert_false(size_parse("4 G", 1 << 20, &v));
	assert_false(size_parse("-1G", 1 << 20, &v));
	assert_false(size_parse("G", 1 << 20, &v));
	assert_false(size_parse("0x10", 1 << 20, &v));
}

static void test_suggest(void **state)
{
	const char *keys[] = { "name", "kernel", "kernel_args", "command", "num_cpus" };

	assert_int_equal(suggest_distance("kernal", "kernel"), 1);
	assert_int_equal(suggest_distance("knrel", "kernel"), 2);
	assert_int_equal(suggest_distance("ab", "ba"), 1);
	assert_string_equal(suggest_nearest("kernal", keys, 5), "kernel");
	assert_string_equal(suggest_nearest("kernel-args", keys, 5), "kernel_args");
	assert_string_equal(suggest_nearest("comand", keys, 5), "command");
	assert_string_equal(suggest_nearest("cpus", keys, 5), "num_cpus");
	assert_null(suggest_nearest("colour", keys, 5));
	assert_null(suggest_nearest("", keys, 5));
}

static void touch(const char *dir, const char *name)
{
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	close(fd);
}

static void test_kernel_find_host(void **state)
{
	char dir[] = "/tmp/vmtest-unit-boot-XXXXXX";
	struct error err = { 0 };
	char *path = NULL, want[512];

	assert_non_null(mkdtemp(dir));
	assert_true(kernel_find_host(dir, "6.1.0-1-amd64", &path, &err) < 0);
	assert_non_null(strstr(err.msg, "no kernel given and none found in"));
	touch(dir, "vmlinuz-6.1.0-9-amd64");
	touch(dir, "vmlinuz-6.1.0-10-amd64");
	touch(dir, "vmlinuz-0-rescue-abc");
	touch(dir, "config-6.1.0-11-amd64");
	/* No match for the running release: the newest by version order. */
	assert_int_equal(kernel_find_host(dir, "5.10.0-1-amd64", &path, &err), 0);
	snprintf(want, sizeof(want), "%s/vmlinuz-6.1.0-10-amd64", dir);
	assert_string_equal(path, want);
	free(path);
	/* The running release wins. */
	assert_int_equal(kernel_find_host(dir, "6.1.0-9-amd64", &path, &err), 0);
	snprintf(want, sizeof(want), "%s/vmlinuz-6.1.0-9-amd64", dir);
	assert_string_equal(path, want);
	free(path);
	snprintf(want, sizeof(want), "rm -rf '%s'", dir);
	assert_int_equal(system(want), 0);
}

/* The answer is the return value, never errno: a caller that read errno
 * after a full disk's short write said "Success". */
static void test_io_write_all(void **state)
{
	int full = open("/dev/full", O_WRONLY | O_CLOEXEC);
	int fds[2];

	(void)state;
	assert_int_equal(io_write_all(-1, "x", 1), -EBADF);
	assert_int_equal(io_pwrite_all(-1, "x", 1, 0), -EBADF);
	assert_true(full >= 0);
	errno = 0;
	assert_int_equal(io_write_all(full, "x", 1), -ENOSPC);
	close(full);
	assert_int_equal(pipe(fds), 0);
	close(fds[0]);
	signal(SIGPIPE, SIG_IGN);
	assert_int_equal(io_write_all(fds[1], "x", 1), -EPIPE);
	close(fds[1]);
	assert_int_equal(io_write_all(STDOUT_FILENO, "", 0), 0);
}

/* One table, one host: the aliases some kernels use, found once. */
static void test_arch(void **state)
{
	char hint[256];

	(void)state;
	assert_non_null(arch_find(arch_host()));
	assert_ptr_equal(arch_host(), arch_host());
	assert_int_equal(arch_check_name("aarch64", hint, sizeof(hint)), 0);
	assert_int_equal(arch_check_name("arm64", hint, sizeof(hint)), -EINVAL);
	assert_non_null(strstr(hint, "unknown architecture 'arm64'"));
	assert_int_equal(arch_check_name("s390", hint, sizeof(hint)), -EINVAL);
	assert_non_null(strstr(hint, "did you mean 's390x'?"));
	assert_null(arch_find(NULL));
}

/* One decoder for guest text: what is UTF-8, what is not, what is cut. */
static void test_utf8_decode(void **state)
{
	static const struct {
		const char *bytes;
		size_t n;
		int len;
		uint32_t c;
	} cases[] = {
		{ "a", 1, 1, 'a' },
		{ "\xc3\xa9", 2, 2, 0xe9 },
		{ "\xe2\x82\xac", 3, 3, 0x20ac },
		{ "\xf0\x9f\x98\x80", 4, 4, 0x1f600 },
		{ "\xc0\xaf", 2, 0, 0 },		/* overlong '/' */
		{ "\xe0\x80\xaf", 3, 0, 0 },	/* overlong */
		{ "\xed\xa0\x80", 3, 0, 0 },	/* a surrogate */
		{ "\xf4\x90\x80\x80", 4, 0, 0 },	/* beyond U+10FFFF */
		{ "\xff", 1, 0, 0 },
		{ "\x80", 1, 0, 0 },
		{ "\xe2\x82", 2, -1, 0 },		/* cut short */
		{ "\xe2\x28\xa1", 3, 0, 0 },
		{ "\xc3", 4, 0, 0 },		/* then the NUL: not a continuation */
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint32_t c = 0;
		int len = utf8_decode((const unsigned char *)cases[i].bytes, cases[i].n, &c);

		assert_int_equal(len, cases[i].len);
		if (len > 0)
			assert_int_equal(c, cases[i].c);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shell_quote),
		cmocka_unit_test(test_shell_quote_round_trip),
		cmocka_unit_test(test_size),
		cmocka_unit_test(test_suggest),
		cmocka_unit_test(test_kernel_find_host),
		cmocka_unit_test(test_io_write_all),
		cmocka_unit_test(test_arch),
		cmocka_unit_test(test_utf8_decode),
	};

	return cmocka_run_group_tests_name("util", tests, NULL, NULL);
}
