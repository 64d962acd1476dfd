/* SPDX-License-Identifier: MIT */
/*
 * vmcore: QEMU's kdump-compressed dump made into the file that crash and
 * drgn open.
 *
 * QEMU 7.2's dump-guest-memory writes the kdump format "flattened", as
 * makedumpfile does to a pipe: a 4096-byte header and then (offset, size)
 * records, because it may write to a stream.  drgn's libkdumpfile (0.5.1,
 * Debian 12) and crash read only the plain file, and libkdumpfile also
 * ignores a header whose utsname lacks "Linux", the release and the version,
 * which QEMU leaves empty (it knows only the machine), and then knows no
 * architecture and translates no address.  vmcore_finish writes the plain
 * file and fills those three in: the release from the dump's own VMCOREINFO
 * (the guest's OSRELEASE), the version as the guest said it.
 */
#pragma once

#include <stddef.h>

#include "base/error.h"

/*
 * The flattened dump in flat_fd (read from its start) written plainly into
 * out_fd (empty, seekable), its header's utsname completed.  version is
 * the guest's `uname -v`, or NULL when it is not known (the header then
 * says "unknown": libkdumpfile wants something).  0; 1 when the dump
 * carries no VMCOREINFO (the guest kernel has no qemu_fw_cfg driver, or
 * QEMU no vmcoreinfo device): its release is then "unknown", and drgn
 * needs the kernel's vmlinux to read it; or -errno with err set.
 */
int vmcore_finish(int flat_fd, int out_fd, const char *version, struct error *err);

/*
 * The VMCOREINFO of a plain kdump-compressed file: its text, malloc'd and
 * NUL-terminated, in *ret.  0, or -errno with err set (-ENOENT: it has none).
 */
int vmcore_read_vmcoreinfo(int fd, char **ret, struct error *err);
