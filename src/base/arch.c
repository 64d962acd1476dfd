// SPDX-License-Identifier: MIT
#include "base/arch.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>

#include "cleanup.h"
#include "base/suggest.h"

/* virtio over PCI: the transport of q35 and of the virt machines.  '?':
 * absent means built in (or, for pvpanic, not to be had: the console then
 * tells of a panic, docs/security.md). */
static const char *const arch_modules_pci[] = {
	"virtio_pci", "virtio_console", "virtio_rng", "9pnet_virtio", "9p", "overlay",
	"?pvpanic_pci",
};

/* s390x has no PCI by default: virtio over channel I/O, a driver that
 * S390_GUEST builds in, never as a module. */
static const char *const arch_modules_ccw[] = {
	"?virtio_ccw", "virtio_console", "virtio_rng", "9pnet_virtio", "9p", "overlay",
};

static const struct arch arch_table[] = {
	{
		.name = "x86_64",
		/* No PS/2 controller: nothing uses it, and probing its mouse
		 * under TCG holds a power-off back by up to a second. */
		.machine = "q35,i8042=off",
		/* The host's userspace may need x86-64-v2 or later. */
		.tcg_cpu = "max",
		.console = "ttyS0",
		.virtio = "pci",
		.modules = arch_modules_pci,
		.n_modules = ARRAY_SIZE(arch_modules_pci),
		.cross_package = "gcc-x86-64-linux-gnu",
		.cross_libc_package = "libc6-dev-amd64-cross",
		.panic_device = "pvpanic-pci",
	},
	{
		.name = "aarch64",
		.machine = "virt,gic-version=3",
		/* Without pauth-impdef, TCG spends up to half its time
		 * emulating pointer authentication's QARMA cipher. */
		.tcg_cpu = "max,pauth-impdef=on",
		.console = "ttyAMA0",
		.virtio = "pci",
		.modules = arch_modules_pci,
		.n_modules = ARRAY_SIZE(arch_modules_pci),
		.cross_package = "gcc-aarch64-linux-gnu",
		.cross_libc_package = "libc6-dev-arm64-cross",
		.panic_device = "pvpanic-pci",
	},
	{
		.name = "s390x",
		.machine = "s390-ccw-virtio",
		.tcg_cpu = "max",
		.console = "ttysclp0",
		.virtio = "ccw",
		.modules = arch_modules_ccw,
		.n_modules = ARRAY_SIZE(arch_modules_ccw),
		.cross_package = "gcc-s390x-linux-gnu",
		.cross_libc_package = "libc6-dev-s390x-cross",
	},
	{
		.name = "riscv64",
		.machine = "virt",
		.tcg_cpu = "rv64",
		.console = "ttyS0",
		.virtio = "pci",
		.modules = arch_modules_pci,
		.n_modules = ARRAY_SIZE(arch_modules_pci),
		.cross_package = "gcc-riscv64-linux-gnu",
		.cross_libc_package = "libc6-dev-riscv64-cross",
		.panic_device = "pvpanic-pci",
	},
};

const struct arch *arch_find(const char *name)
{
	for (size_t i = 0; name && i < ARRAY_SIZE(arch_table); i++)
		if (strcmp(arch_table[i].name, name) == 0)
			return &arch_table[i];
	return NULL;
}

int arch_check_name(const char *name, char *hint, size_t hint_len)
{
	const char *names[ARRAY_SIZE(arch_table)];
	const char *near;

	if (arch_find(name))
		return 0;
	for (size_t i = 0; i < ARRAY_SIZE(arch_table); i++)
		names[i] = arch_table[i].name;
	near = suggest_nearest(name, names, ARRAY_SIZE(names));
	snprintf(hint, hint_len, "unknown architecture '%s'%s%s%s (vmtest supports x86_64, "
		 "aarch64, s390x, riscv64)", name, near ? "; did you mean '" : "",
		 near ? near : "", near ? "'?" : "");
	return -EINVAL;
}

static char arch_host_name[65];

/* uname -m's word, in QEMU's: some kernels say arm64 or amd64. */
static void arch_host_find(void)
{
	static const struct {
		const char *uname, *qemu;
	} aliases[] = { { "arm64", "aarch64" }, { "amd64", "x86_64" } };
	struct utsname u;

	snprintf(arch_host_name, sizeof(arch_host_name), "%s",
		 uname(&u) == 0 ? u.machine : "x86_64");
	for (size_t i = 0; i < ARRAY_SIZE(aliases); i++)
		if (strcmp(arch_host_name, aliases[i].uname) == 0)
			snprintf(arch_host_name, sizeof(arch_host_name), "%s", aliases[i].qemu);
}

/* Once for the process: -j's workers ask at the same time. */
const char *arch_host(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, arch_host_find);
	return arch_host_name;
}
