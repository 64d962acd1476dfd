// SPDX-License-Identifier: MIT
#include "boot/arch.h"

#include <pthread.h>
#include <string.h>
#include <sys/utsname.h>

#include "cleanup.h"

/*
 * The guest inits linked in (scripts/embed-blob.py).  A foreign one exists
 * only when its cross compiler was installed at build time (meson.build).
 */
extern const unsigned char guest_init_start[], guest_init_end[];
#define FOREIGN_INIT(a)                                     \
	extern const unsigned char guest_init_##a##_start[]; \
	extern const unsigned char guest_init_##a##_end[]
#ifdef HAVE_GUEST_INIT_AARCH64
FOREIGN_INIT(aarch64);
#endif
#ifdef HAVE_GUEST_INIT_S390X
FOREIGN_INIT(s390x);
#endif
#ifdef HAVE_GUEST_INIT_RISCV64
FOREIGN_INIT(riscv64);
#endif

/* virtio over PCI: the transport of q35 and of the virt machines. */
static const char *const arch_modules_pci[] = {
	"virtio_pci", "virtio_console", "virtio_rng", "9pnet_virtio", "9p", "overlay",
};

/* s390x has no PCI by default: virtio over channel I/O, a driver that
 * S390_GUEST builds in, never as a module ('?': absent means built in). */
static const char *const arch_modules_ccw[] = {
	"?virtio_ccw", "virtio_console", "virtio_rng", "9pnet_virtio", "9p", "overlay",
};

static struct arch arch_table[] = {
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
		.cross_package = "gcc",
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
	},
};

/* The init of each entry: the native one, or a foreign one when built. */
static void arch_link_inits_once(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(arch_table); i++) {
		struct arch *a = &arch_table[i];

#ifdef HAVE_GUEST_INIT_AARCH64
		if (strcmp(a->name, "aarch64") == 0) {
			a->init_start = guest_init_aarch64_start;
			a->init_end = guest_init_aarch64_end;
		}
#endif
#ifdef HAVE_GUEST_INIT_S390X
		if (strcmp(a->name, "s390x") == 0) {
			a->init_start = guest_init_s390x_start;
			a->init_end = guest_init_s390x_end;
		}
#endif
#ifdef HAVE_GUEST_INIT_RISCV64
		if (strcmp(a->name, "riscv64") == 0) {
			a->init_start = guest_init_riscv64_start;
			a->init_end = guest_init_riscv64_end;
		}
#endif
		/* The native init serves the host's own architecture. */
		if (strcmp(a->name, arch_host()) == 0) {
			a->init_start = guest_init_start;
			a->init_end = guest_init_end;
		}
	}
}

static void arch_link_inits(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, arch_link_inits_once);
}

const struct arch *arch_find(const char *name)
{
	arch_link_inits();
	for (size_t i = 0; i < ARRAY_SIZE(arch_table); i++)
		if (strcmp(arch_table[i].name, name) == 0)
			return &arch_table[i];
	return NULL;
}

const char *arch_host(void)
{
	static struct utsname u;

	if (!u.machine[0] && uname(&u) < 0)
		return "x86_64";
	if (strcmp(u.machine, "arm64") == 0)
		return "aarch64";
	return u.machine;
}

bool arch_has_init(const struct arch *a)
{
	return a->init_start && a->init_end && a->init_end > a->init_start;
}
