/* SPDX-License-Identifier: MIT */
/*
 * unix_socket: connecting to a unix socket that may not be there yet.
 * QEMU creates its sockets (QMP, the guest agent's, the output ports) as
 * it starts, some time after vmtest started it: until the deadline, a
 * socket that does not exist yet, or where nobody listens yet, is tried
 * again every 10 ms.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"

/* A connected stream socket (O_CLOEXEC; O_NONBLOCK when nonblock), or < 0. */
int unix_socket_connect(const char *path, int64_t deadline, bool nonblock, struct error *err);
