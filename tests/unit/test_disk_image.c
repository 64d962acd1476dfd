// SPDX-License-Identifier: MIT
/* Image formats from their headers, and where OVMF is found. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "boot/disk_image.h"
#include "boot/firmware.h"

static enum disk_format detect(const char *bytes, size_t len)
{
	return disk_image_detect_bytes((const unsigned char *)bytes, len);
}

static void test_formats(void **state)
{
	char vdi[0x44] = { 0 };

	memcpy(vdi + 0x40, "\x7f\x10\xda\xbe", 4);
	assert_int_equal(detect("QFI\xfb\0\0\0\3", 8), DISK_QCOW2);
	assert_int_equal(detect("QED\0", 4), DISK_QED);
	assert_int_equal(detect("KDMV\1\0\0\0", 8), DISK_VMDK);
	assert_int_equal(detect("# Disk DescriptorFile\nversion=1\n", 32), DISK_VMDK);
	assert_int_equal(detect("vhdxfile", 8), DISK_VHDX);
	assert_int_equal(detect(vdi, sizeof(vdi)), DISK_VDI);
	assert_int_equal(detect("\xeb\x63\x90", 3), DISK_RAW);
	assert_int_equal(detect("QF", 2), DISK_RAW);
	assert_string_equal(disk_format_name(DISK_QCOW2), "qcow2");
	assert_string_equal(disk_format_name(DISK_RAW), "raw");
}

static void touch(const char *root, const char *path)
{
	char full[512], cmd[1100];
	FILE *f;

	snprintf(full, sizeof(full), "%s%s", root, path);
	snprintf(cmd, sizeof(cmd), "mkdir -p \"$(dirname '%s')\"", full);
	assert_int_equal(system(cmd), 0);
	f = fopen(full, "w");
	assert_non_null(f);
	fclose(f);
}

static void test_firmware(void **state)
{
	char root[] = "/tmp/vmtest-unit-fw-XXXXXX", cmd[128];
	struct error err = { 0 };
	struct firmware fw;

	assert_non_null(mkdtemp(root));
	assert_true(firmware_find(root, &fw, &err) < 0);
	assert_non_null(strstr(err.msg, "install the 'ovmf' package"));
	/* Secure Boot builds alone are not chosen. */
	touch(root, "/usr/share/OVMF/OVMF_CODE_4M.secboot.fd");
	touch(root, "/usr/share/OVMF/OVMF_VARS_4M.ms.fd");
	assert_true(firmware_find(root, &fw, &err) < 0);
	touch(root, "/usr/share/ovmf/OVMF.fd");
	assert_int_equal(firmware_find(root, &fw, &err), 0);
	assert_string_equal(fw.combined, "/usr/share/ovmf/OVMF.fd");
	assert_null(fw.code);
	/* A CODE/VARS pair is preferred: it keeps UEFI variables apart. */
	touch(root, "/usr/share/OVMF/OVMF_CODE_4M.fd");
	touch(root, "/usr/share/OVMF/OVMF_VARS_4M.fd");
	assert_int_equal(firmware_find(root, &fw, &err), 0);
	assert_string_equal(fw.code, "/usr/share/OVMF/OVMF_CODE_4M.fd");
	assert_string_equal(fw.vars, "/usr/share/OVMF/OVMF_VARS_4M.fd");
	assert_null(fw.combined);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_formats),
		cmocka_unit_test(test_firmware),
	};

	return cmocka_run_group_tests_name("disk_image", tests, NULL, NULL);
}
