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
 * /dev/kmsg, and looks for warnings in them (src/targets/kernel_warnings.h).
 *
 * The init's agent must never wait on this port: QEMU stops taking a port
 * whose file it cannot write (a full disk), and a blocked write would
 * stall every request.  So the port is non-blocking, records wait in a
 * bounded buffer, and the main loop polls both ends (kmsg_pollfds).  With
 * the buffer full, reading stops: the records wait in the kernel's ring
 * buffer, and what it overwrites meanwhile is said lost, in-band.
 */
#pragma once

#include <poll.h>
#include <stddef.h>

/* The kmsg port (-1: none, nothing is sent). */
void kmsg_set_port(int fd);

/* Start reading /dev/kmsg from its first record; again: nothing. */
void kmsg_start(void);

/* Fill two pollfds (unused ones get fd -1): /dev/kmsg when there is room,
 * the port when there is something to send. */
void kmsg_pollfds(struct pollfd *p);

/* After poll: read what is readable, send what the port takes. */
void kmsg_handle(const struct pollfd *p);

/* Before power-off: send what there is, waiting at most timeout_ms. */
void kmsg_drain(int timeout_ms);
