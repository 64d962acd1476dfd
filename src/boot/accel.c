// SPDX-License-Identifier: MIT
#include "boot/accel.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/arch.h"

static bool accel_path_exists(const char *path)
{
	return access(path, F_OK) == 0;
}

/* Why KVM cannot run ordinary guests here, or NULL when it can. */
static const char *accel_kvm_problem(void)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return "/dev/kvm cannot be opened read-write";
	close(fd);
	if (accel_path_exists("/sys/module/kvm_pvm"))
		return "/dev/kvm is PVM nested virtualisation, under which ordinary kernels hang";
	if (strcmp(arch_host(), "x86_64") == 0 &&
	    !accel_path_exists("/sys/module/kvm_intel") && !accel_path_exists("/sys/module/kvm_amd"))
		return "neither kvm_intel nor kvm_amd is loaded";
	return NULL;
}

int accel_request_parse(const char *option, enum accel_request *ret, struct error *err)
{
	const char *word = option && *option ? option : getenv("VMTEST_ACCEL");

	if (!word || !*word || strcmp(word, "auto") == 0)
		*ret = ACCEL_REQUEST_AUTO;
	else if (strcmp(word, "kvm") == 0)
		*ret = ACCEL_REQUEST_KVM;
	else if (strcmp(word, "tcg") == 0)
		*ret = ACCEL_REQUEST_TCG;
	else
		return error_usage(err, "unknown accelerator '%s' (kvm, tcg or auto)", word);
	return 0;
}

void accel_choose(enum accel_request request, enum qemu_accel *ret_accel, const char **ret_why)
{
	const char *problem;

	*ret_why = NULL;
	switch (request) {
	case ACCEL_REQUEST_KVM:
		*ret_accel = QEMU_ACCEL_KVM;
		return;
	case ACCEL_REQUEST_TCG:
		*ret_accel = QEMU_ACCEL_TCG;
		return;
	case ACCEL_REQUEST_AUTO:
	default:
		problem = accel_kvm_problem();
		*ret_accel = problem ? QEMU_ACCEL_TCG : QEMU_ACCEL_KVM;
		*ret_why = problem;
		return;
	}
}
