/* SPDX-License-Identifier: MIT */
/*
 * kmsg: the kernel's log, as records, to the host.
 *
 * From the set-up on, the init reads /dev/kmsg from its first record (a
 * new descriptor starts at the oldest record the ring buffer holds: the
 * boot's, in a restored guest too, since the buffer is in guest RAM) and
 * writes each record as the kernel gives it ("PRIO,SEQ,USEC,FLAGS;TEXT\n"
 * and its " KEY=VALUE" lines) to the kmsg port.  The host tells the
 * kernel's own records (facility 0) from what userspace wrote to
 * /dev/kmsg, and looks for warnings in them (src/vm/kmsg.h).
 */
#pragma once

/* The kmsg port (-1: none, nothing is sent). */
void kmsg_set_port(int fd);

/* Start reading /dev/kmsg from its first record; again: nothing. */
void kmsg_start(void);

/* The descriptor to poll for records; -1 before kmsg_start. */
int kmsg_fd(void);

/* Send every record there is now. */
void kmsg_forward(void);
