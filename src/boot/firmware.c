// SPDX-License-Identifier: MIT
#include "boot/firmware.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <unistd.h>

#include "cleanup.h"

/* In order of preference; split images first (they keep UEFI variables). */
static const struct firmware firmware_table[] = {
	/* Debian, Ubuntu */
	{ "/usr/share/OVMF/OVMF_CODE_4M.fd", "/usr/share/OVMF/OVMF_VARS_4M.fd", NULL },
	{ "/usr/share/OVMF/OVMF_CODE.fd", "/usr/share/OVMF/OVMF_VARS.fd", NULL },
	/* Fedora */
	{ "/usr/share/edk2/ovmf/OVMF_CODE.fd", "/usr/share/edk2/ovmf/OVMF_VARS.fd", NULL },
	/* Arch */
	{ "/usr/share/edk2/x64/OVMF_CODE.4m.fd", "/usr/share/edk2/x64/OVMF_VARS.4m.fd", NULL },
	{ "/usr/share/edk2/x64/OVMF_CODE.fd", "/usr/share/edk2/x64/OVMF_VARS.fd", NULL },
	/* One combined file */
	{ NULL, NULL, "/usr/share/ovmf/OVMF.fd" },
	{ NULL, NULL, "/usr/share/qemu/OVMF.fd" },
};

static bool firmware_readable(const char *root, const char *path)
{
	char full[512];

	if (!path)
		return true;
	snprintf(full, sizeof(full), "%s%s", root, path);
	return access(full, R_OK) == 0;
}

int firmware_find(const char *root, struct firmware *ret, struct error *err)
{
	for (size_t i = 0; i < ARRAY_SIZE(firmware_table); i++) {
		const struct firmware *f = &firmware_table[i];

		if (firmware_readable(root, f->code) && firmware_readable(root, f->vars) &&
		    firmware_readable(root, f->combined)) {
			*ret = *f;
			return 0;
		}
	}
	return error_set(err, ENOENT,
			 "no UEFI firmware (OVMF) found: install the 'ovmf' package (Debian, Ubuntu), 'edk2-ovmf' (Fedora, Arch), or set vm.bios");
}
