// SPDX-License-Identifier: MIT
#include "boot/accel.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"

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
	if (strcmp(config_host_arch(), "x86_64") == 0 &&
	    !accel_path_exists("/sys/module/kvm_intel") && !accel_path_exists("/sys/module/kvm_amd"))
		return "neither kvm_intel nor kvm_amd is loaded";
	return NULL;
}

int accel_choose(const char *requested, enum qemu_accel *ret_accel, const char **ret_why,
		 struct error *err)
{
	const char *problem;

	if (!requested || !*requested)
		requested = getenv("VMTEST_ACCEL");
	*ret_why = NULL;
	if (requested && *requested && strcmp(requested, "auto") != 0) {
		if (strcmp(requested, "kvm") == 0)
			*ret_accel = QEMU_ACCEL_KVM;
		else if (strcmp(requested, "tcg") == 0)
			*ret_accel = QEMU_ACCEL_TCG;
		else
			return error_usage(err, "unknown accelerator '%s' (kvm, tcg or auto)", requested);
		return 0;
	}
	problem = accel_kvm_problem();
	*ret_accel = problem ? QEMU_ACCEL_TCG : QEMU_ACCEL_KVM;
	*ret_why = problem;
	return 0;
}
