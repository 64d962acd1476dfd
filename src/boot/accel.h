/* SPDX-License-Identifier: MIT */
/*
 * accel: KVM when it can run an ordinary guest, else TCG.
 *
 * /dev/kvm opening read-write is not enough: under PVM nested
 * virtualisation (/sys/module/kvm_pvm) /dev/kvm works but ordinary guest
 * kernels hang, so vmtest chooses TCG there by itself.  VMTEST_ACCEL or
 * --accel override the choice.
 */
#pragma once

#include "base/error.h"
#include "boot/qemu_argv.h"

/* The choice and, when KVM was not chosen by itself, why (for a notice). */
int accel_choose(const char *requested, enum qemu_accel *ret_accel, const char **ret_why,
		 struct error *err);
