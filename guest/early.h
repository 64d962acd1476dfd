/* SPDX-License-Identifier: MIT */
/* early: what the init does before the host talks to it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* /proc, /sys and /dev in the initramfs, enough to load modules and find ports. */
void early_mount_basics(void);

/* /dev/pts, /dev/shm, debugfs, tracefs, cgroup2, bpffs, after the modules. */
void early_mount_api(void);

/* finit_module every module of the initramfs, in name order. */
void early_load_modules(void);

/* The /dev node of the virtio-serial port with this name; -errno if none. */
int early_open_port(const char *name, int timeout_ms);

/* What of vmtest's needs the kernel lacks, as kernel options, "" if none:
 * with virtiofs, its needs instead of 9p's. */
void early_missing_options(char *buf, size_t len, bool virtiofs);

/* Whether the kernel knows this filesystem type (/proc/filesystems). */
bool early_has_filesystem(const char *name);

/* Loopback up, so that tests that talk to 127.0.0.1 work. */
void early_loopback_up(void);
