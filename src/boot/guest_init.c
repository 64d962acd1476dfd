// SPDX-License-Identifier: MIT
#include "boot/guest_init.h"

#include <string.h>

#include "cleanup.h"

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
