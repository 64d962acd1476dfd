// SPDX-License-Identifier: MIT
/* vmcore: a flattened kdump stream made plain, its utsname completed. */
#include <endian.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "vm/vmcore.h"

#define BLOCK 4096
#define INFO "OSRELEASE=6.1.0-57-amd64\nPAGESIZE=4096\n"
#define INFO_AT (2 * BLOCK)

static int memfd(void)
{
	int fd = memfd_create("vmcore", 0);

	assert_true(fd >= 0);
	return fd;
}

static void put_record(int fd, int64_t offset, const void *data, int64_t size)
{
	uint64_t head[2] = { htobe64((uint64_t)offset), htobe64((uint64_t)size) };

	assert_int_equal(write(fd, head, sizeof(head)), sizeof(head));
	if (size > 0)
		assert_int_equal(write(fd, data, (size_t)size), size);
}

/* The kdump header QEMU writes: signature, version 6, machine only. */
static void kdump_header(unsigned char *head, int with_info)
{
	uint32_t v;
	uint64_t q;

	memset(head, 0, 2 * BLOCK);
	memcpy(head, "KDUMP   ", 8);
	v = htole32(6);
	memcpy(head + 8, &v, 4);
	memcpy(head + 12 + 4 * 65, "x86_64", 6);
	v = htole32(BLOCK);
	memcpy(head + 428, &v, 4);
	/* The sub-header, one block in: where VMCOREINFO is. */
	if (with_info) {
		q = htole64(INFO_AT);
		memcpy(head + BLOCK + 32, &q, 8);
		q = htole64(strlen(INFO));
		memcpy(head + BLOCK + 40, &q, 8);
	}
}

/* A flattened stream: its records out of order, the header last. */
static int flattened(int with_info, int end)
{
	static unsigned char head[2 * BLOCK];
	int fd = memfd();
	unsigned char flat[BLOCK] = "makedumpfile";

	kdump_header(head, with_info);
	flat[23] = 1;	/* type 1, big-endian */
	flat[31] = 1;	/* version 1 */
	assert_int_equal(write(fd, flat, sizeof(flat)), sizeof(flat));
	put_record(fd, INFO_AT, INFO, (int64_t)strlen(INFO));
	put_record(fd, INFO_AT + 3 * BLOCK, "page", 4);
	put_record(fd, 0, head, sizeof(head));
	if (end)
		put_record(fd, -1, NULL, -1);
	return fd;
}

static void test_made_plain_and_named(void **state)
{
	int in = flattened(1, 1), out = memfd();
	struct error err = { 0 };
	char buf[BLOCK];

	assert_int_equal(vmcore_finish(in, out, "#1 SMP PREEMPT_DYNAMIC Debian 6.1.192-3", &err), 0);
	assert_int_equal(pread(out, buf, BLOCK, 0), BLOCK);
	assert_memory_equal(buf, "KDUMP   ", 8);
	assert_string_equal(buf + 12, "Linux");
	assert_string_equal(buf + 12 + 2 * 65, "6.1.0-57-amd64");
	assert_string_equal(buf + 12 + 3 * 65, "#1 SMP PREEMPT_DYNAMIC Debian 6.1.192-3");
	assert_string_equal(buf + 12 + 4 * 65, "x86_64");	/* QEMU's, kept */
	assert_int_equal(pread(out, buf, 4, INFO_AT + 3 * BLOCK), 4);
	assert_memory_equal(buf, "page", 4);
	assert_int_equal(lseek(out, 0, SEEK_END), INFO_AT + 3 * BLOCK + 4);
	close(in);
	close(out);
}

static void test_vmcoreinfo_read_back(void **state)
{
	int in = flattened(1, 1), out = memfd();
	struct error err = { 0 };
	char *info = NULL;

	assert_int_equal(vmcore_finish(in, out, NULL, &err), 0);
	assert_int_equal(vmcore_read_vmcoreinfo(out, &info, &err), 0);
	assert_string_equal(info, INFO);
	free(info);
	close(in);
	close(out);
}

/* A guest kernel without qemu_fw_cfg: a dump all the same, said so. */
static void test_without_vmcoreinfo(void **state)
{
	int in = flattened(0, 1), out = memfd();
	struct error err = { 0 };
	char buf[BLOCK];

	assert_int_equal(vmcore_finish(in, out, NULL, &err), 1);
	assert_int_equal(pread(out, buf, BLOCK, 0), BLOCK);
	assert_string_equal(buf + 12, "Linux");
	assert_string_equal(buf + 12 + 2 * 65, "unknown");
	assert_string_equal(buf + 12 + 3 * 65, "unknown");
	close(in);
	close(out);
}

static void test_cut_short_or_not_flattened(void **state)
{
	int in = flattened(1, 0), out = memfd();
	struct error err = { 0 };

	assert_int_equal(vmcore_finish(in, out, NULL, &err), -EPROTO);
	assert_string_equal(err.msg, "QEMU's dump ends without its end record (at 12379)");
	close(in);
	in = memfd();
	assert_int_equal(write(in, "KDUMP   ", 8), 8);
	assert_int_equal(vmcore_finish(in, out, NULL, &err), -EPROTO);
	assert_string_equal(err.msg, "QEMU's dump is not in makedumpfile's flattened format");
	close(in);
	close(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_made_plain_and_named),
		cmocka_unit_test(test_vmcoreinfo_read_back),
		cmocka_unit_test(test_without_vmcoreinfo),
		cmocka_unit_test(test_cut_short_or_not_flattened),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
