// SPDX-License-Identifier: MIT
#include "base/clock.h"

#include <errno.h>
#include <limits.h>
#include <time.h>

int64_t clock_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t clock_deadline(int64_t timeout_ms)
{
	if (timeout_ms < 0 || timeout_ms > INT64_MAX / 2)
		return CLOCK_NO_DEADLINE;
	return clock_now_ms() + timeout_ms;
}

int clock_remaining(int64_t deadline)
{
	int64_t now;

	if (deadline == CLOCK_NO_DEADLINE)
		return -1;
	now = clock_now_ms();
	if (now >= deadline)
		return 0;
	return deadline - now > INT_MAX ? INT_MAX : (int)(deadline - now);
}

void clock_sleep(int64_t ms, int64_t deadline)
{
	int left = clock_remaining(deadline);
	struct timespec ts;

	if (left >= 0 && left < ms)
		ms = left;
	if (ms <= 0)
		return;
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000;
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int clock_poll(struct pollfd *fds, nfds_t n, int64_t deadline, struct error *err)
{
	for (;;) {
		int timeout = clock_remaining(deadline), r;

		if (timeout == 0)
			return error_set(err, ETIMEDOUT, "timed out");
		r = poll(fds, n, timeout);
		if (r > 0)
			return r;
		if (r < 0 && errno != EINTR)
			return error_set_errno(err, errno, "poll");
	}
}
