/* SPDX-License-Identifier: MIT */
/*
 * clock: time for deadlines.  Every wait in vmtest is bounded by a
 * deadline, an absolute time in milliseconds on the monotonic clock (which
 * the wall clock's jumps do not move); CLOCK_NO_DEADLINE waits for ever.
 */
#pragma once

#include <poll.h>
#include <stdint.h>

#include "base/error.h"

#define CLOCK_NO_DEADLINE INT64_MAX

/* Now, in milliseconds on CLOCK_MONOTONIC. */
int64_t clock_now_ms(void);

/* The deadline timeout_ms from now; a negative or huge timeout is none. */
int64_t clock_deadline(int64_t timeout_ms);

/* What is left until deadline, as poll() takes it: -1 for none, 0 if past. */
int clock_remaining(int64_t deadline);

/* Sleep ms, or until deadline if that comes first. */
void clock_sleep(int64_t ms, int64_t deadline);

/*
 * poll() until an event or the deadline, through EINTR: > 0 when an fd is
 * ready, ETIMEDOUT (err: "timed out") once the deadline has passed.
 */
int clock_poll(struct pollfd *fds, nfds_t n, int64_t deadline, struct error *err);
