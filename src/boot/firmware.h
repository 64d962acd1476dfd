/* SPDX-License-Identifier: MIT */
/*
 * firmware: OVMF for uefi = true, found where distributions install it.
 * Either one combined file (-bios), or a read-only CODE file as pflash
 * unit 0 plus a private copy of the matching VARS file as unit 1.  The
 * Secure Boot builds (secboot, ms, snakeoil) are never chosen: they need
 * SMM and refuse unsigned boot loaders.
 */
#pragma once

#include "base/error.h"

struct firmware {
	const char *code;	/* pflash unit 0, read-only; NULL when combined */
	const char *vars;	/* template of unit 1; copied per run */
	const char *combined;	/* one file for -bios; NULL when split */
};

/* The first installed firmware of the table, looked up under root ("" for /). */
int firmware_find(const char *root, struct firmware *ret, struct error *err);
