/* SPDX-License-Identifier: MIT */
/*
 * accel: KVM when it can run an ordinary guest, else TCG.
 *
 * /dev/kvm opening read-write is not enough: under PVM nested
 * virtualisation (/sys/module/kvm_pvm) /dev/kvm works but ordinary guest
 * kernels hang, so vmtest chooses TCG there by itself.  --accel, or else
 * VMTEST_ACCEL, overrides the choice.
 */
#pragma once

#include "base/error.h"
#include "boot/qemu_argv.h"

enum accel_request {
	ACCEL_REQUEST_AUTO,
	ACCEL_REQUEST_KVM,
	ACCEL_REQUEST_TCG,
};

/*
 * What the user asked for: option (--accel's value, or NULL), else
 * VMTEST_ACCEL, else auto.  Status 2 for a word other than kvm, tcg, auto.
 */
int accel_request_parse(const char *option, enum accel_request *ret, struct error *err);

/* The choice and, when KVM was not chosen by itself, why (for a notice). */
void accel_choose(enum accel_request request, enum qemu_accel *ret_accel, const char **ret_why);
