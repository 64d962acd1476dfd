/* SPDX-License-Identifier: MIT */
/*
 * target_files: the files a target names exist and are of the right kind
 * (a kernel that is a kernel, an image, directories for the rootfs and the
 * mounts).  Checked only for targets about to run, so `--list` works before
 * kernels are built; each problem is one line naming where the file was
 * given, status 2, before any VM starts.
 */
#pragma once

#include "base/error.h"
#include "config/config.h"

int target_files_check(const struct config *config, const struct target *target,
		       struct error *err);
