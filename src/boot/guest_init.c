// SPDX-License-Identifier: MIT
#include "boot/guest_init.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "version.h"

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

/* Each init linked in; a foreign one whose build failed is empty. */
static const struct {
	const char *arch;
	const unsigned char *start, *end;
} guest_inits[] = {
	{ NULL, guest_init_start, guest_init_end },	/* the host's, first */
#ifdef HAVE_GUEST_INIT_AARCH64
	{ "aarch64", guest_init_aarch64_start, guest_init_aarch64_end },
#endif
#ifdef HAVE_GUEST_INIT_S390X
	{ "s390x", guest_init_s390x_start, guest_init_s390x_end },
#endif
#ifdef HAVE_GUEST_INIT_RISCV64
	{ "riscv64", guest_init_riscv64_start, guest_init_riscv64_end },
#endif
};

bool guest_init_find(const struct arch *arch, const unsigned char **ret_data, size_t *ret_len)
{
	for (size_t i = 0; arch && i < ARRAY_SIZE(guest_inits); i++) {
		const char *name = guest_inits[i].arch ? guest_inits[i].arch : arch_host();

		if (strcmp(name, arch->name) != 0 || guest_inits[i].end <= guest_inits[i].start)
			continue;
		*ret_data = guest_inits[i].start;
		*ret_len = (size_t)(guest_inits[i].end - guest_inits[i].start);
		return true;
	}
	return false;
}

/* Whether the build tried, and failed: the cross compiler was there. */
static bool guest_init_build_failed(const struct arch *arch)
{
	for (size_t i = 0; i < ARRAY_SIZE(guest_inits); i++)
		if (guest_inits[i].arch && strcmp(guest_inits[i].arch, arch->name) == 0)
			return guest_inits[i].end <= guest_inits[i].start;
	return false;
}

void guest_init_missing(const struct arch *arch, char *buf, size_t size)
{
	const unsigned char *data;
	size_t len;
	bool tree = access(VMTEST_SOURCE_DIR "/Makefile", R_OK) == 0;

	if (guest_init_find(arch, &data, &len)) {
		snprintf(buf, size, "%s", "");
		return;
	}
	if (guest_init_build_failed(arch))
		snprintf(buf, size, "its build failed when vmtest was built (its messages say why: "
			 "%s%s)", tree ? "make -C " VMTEST_SOURCE_DIR " foreign" : "build vmtest again",
			 tree ? " shows them again" : "");
	else if (tree)
		snprintf(buf, size, "%s was not installed when vmtest was built; to install it and "
			 "build again, run: make -C " VMTEST_SOURCE_DIR " foreign", arch->cross_package);
	else
		snprintf(buf, size, "%s was not installed when vmtest was built; install it and %s, "
			 "then build vmtest again", arch->cross_package, arch->cross_libc_package);
}

void guest_init_list(char *buf, size_t size)
{
	static const char *const names[] = { "x86_64", "aarch64", "s390x", "riscv64" };
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		const unsigned char *data;
		size_t len;

		if (guest_init_find(arch_find(names[i]), &data, &len) && used < size)
			used += (size_t)snprintf(buf + used, size - used, "%s%s", used ? " " : "",
						 names[i]);
	}
}
