/* SPDX-License-Identifier: MIT */
/*
 * guest_proto: what the host and vmtest's guest init agree on.
 *
 * Control goes through the QEMU guest agent protocol (QGA) on the port every
 * agent uses, so one host client serves vmtest's init and a real qemu-ga.
 * The init understands two additions, both ignored by a real qemu-ga
 * because the host never sends them there:
 *   - the command "vmtest-setup" (mount the root, the shared directory and
 *     vm.mounts, then switch into the new root), so that nothing per run
 *     rides on the kernel command line;
 *   - guest-exec's member "vmtest-stream": relay the command's stdout and
 *     stderr live over the output port instead of capturing them.
 *
 * The output port carries records: a 12-byte header, then len bytes.  All
 * integers little-endian.  For a command on a pty (interactive shells,
 * --tty) the host sends records the other way: keystrokes and window sizes.  After a command's last output record comes one
 * GUEST_RECORD_END record (len 0); the init reports the command as exited
 * only after writing it, so the host prints the verdict after the output.
 */
#pragma once

#include <stdint.h>

#define GUEST_PORT_AGENT "org.qemu.guest_agent.0"
#define GUEST_PORT_OUTPUT "org.vmtest.output.0"
/* Kernel targets: the kernel's log records (guest/kmsg.h), to a file. */
#define GUEST_PORT_KMSG "org.vmtest.kmsg.0"
/* Image targets only: their stdout and stderr, raw, on two ports. */
#define GUEST_PORT_ERROR "org.vmtest.error.0"

/* 9p mount tags: QEMU refuses tags of more than 31 bytes. */
#define GUEST_TAG_ROOT "vmtest-root"
#define GUEST_TAG_SHARED "vmtest-shared"
#define GUEST_TAG_MOUNT_PREFIX "vmtest-m"	/* vmtest-m0, vmtest-m1, ... */

/* The serial number of the disk that holds vmtest's image of /usr: how the
 * init finds it among the guest's disks. */
#define GUEST_USR_IMAGE_SERIAL "vmtest-usr"

/* Where the shared directory appears, as in vmtest 0.18. */
#define GUEST_SHARED_PATH "/mnt/vmtest"

/* In the initramfs: modules to load, in name order (00-..., 01-...). */
#define GUEST_MODULES_DIR "/vmtest/modules"

enum guest_record_type {
	/* guest to host */
	GUEST_RECORD_STDOUT = 1,
	GUEST_RECORD_STDERR = 2,
	GUEST_RECORD_END = 3,
	/* host to guest, for a command on a pty (guest-exec "vmtest-tty") */
	GUEST_RECORD_STDIN = 4,		/* bytes for the terminal */
	GUEST_RECORD_WINSIZE = 5,	/* u16 rows, u16 columns */
};

#define GUEST_RECORD_HEADER_SIZE 12
#define GUEST_RECORD_MAX_DATA 65536

struct guest_record_header {
	uint8_t type;		/* enum guest_record_type */
	uint8_t reserved[3];
	uint32_t exec_id;	/* the pid guest-exec returned */
	uint32_t len;
};

static inline void guest_record_encode(uint8_t out[GUEST_RECORD_HEADER_SIZE], uint8_t type,
				       uint32_t exec_id, uint32_t len)
{
	out[0] = type;
	out[1] = out[2] = out[3] = 0;
	for (int i = 0; i < 4; i++) {
		out[4 + i] = (uint8_t)(exec_id >> (8 * i));
		out[8 + i] = (uint8_t)(len >> (8 * i));
	}
}

static inline void guest_record_decode(const uint8_t in[GUEST_RECORD_HEADER_SIZE],
				       struct guest_record_header *ret)
{
	ret->type = in[0];
	ret->exec_id = ret->len = 0;
	for (int i = 0; i < 4; i++) {
		ret->exec_id |= (uint32_t)in[4 + i] << (8 * i);
		ret->len |= (uint32_t)in[8 + i] << (8 * i);
	}
}
