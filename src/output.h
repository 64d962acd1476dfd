/* SPDX-License-Identifier: MIT */
/*
 * output: the command's output as it arrives from the guest's output port
 * (records, see guest_proto.h), copied to vmtest's own stdout and stderr.
 * Memory stays bounded whatever the amount: one record at a time.
 */
#pragma once

#include <stdint.h>

#include "error.h"

/* Connect to a unix socket QEMU listens on, retrying until deadline_ms
 * (on the CLOCK_MONOTONIC millisecond clock). */
int output_connect(const char *path, int64_t deadline_ms, struct error *err);

/*
 * Copy the records of command exec_id to out_fd (stdout) and err_fd
 * (stderr) until its END record.  Gives up at deadline_ms (<0: none) with
 * -ETIMEDOUT, or with -EPIPE when the guest side closes (QEMU is gone).
 */
int output_relay(int port_fd, uint32_t exec_id, int out_fd, int err_fd, int64_t deadline_ms,
		 struct error *err);
