/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for what a guest agent or QEMU sends the host: the
 * byte stream is framed into JSON messages (json_io_recv, with the 0xFF
 * delimiter and the size cap), and each message goes through what the QMP
 * and QGA clients read from a reply (json_io_command_result and the typed
 * accessors).  The input is delivered through a real socket in pieces, so
 * that messages split across reads are exercised too.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/clock.h"
#include "vm/json_io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile int64_t sink;

static void read_reply(const struct json_value *msg)
{
	struct json_value *ret = NULL;
	struct error err = { 0 };
	int64_t n = 0;

	if (json_io_command_result(msg, &ret, &err) >= 0) {
		/* What qga reads from guest-exec and guest-exec-status. */
		json_io_get_int(ret, "pid", &n);
		sink += n;
		sink += json_io_get_bool(ret, "exited", false);
		json_io_get_int(ret, "exitcode", &n);
		sink += n;
		sink += json_io_get_string(ret, "out-data") ? 1 : 0;
		sink += (int64_t)json_io_array_len(json_io_get(ret, "supported_commands"));
		json_io_unref(ret);
	}
	sink += json_io_get_string(msg, "event") ? 1 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_io io = { 0 };
	struct error err = { 0 };
	int sv[2];

	if (size > 1 << 20 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return 0;
	/* The first byte chooses how the rest is cut into writes. */
	{
		size_t step = size ? (size_t)data[0] % 64 + 1 : 1;

		/* Nothing reads until every write is done, and each write costs
		 * the socket's buffer far more than its bytes: a few hundred
		 * one-byte writes would block this for ever. */
		if (size > 1 && (size - 1) / step > 64)
			step = (size - 1) / 64 + 1;

		for (size_t off = 1; off < size; off += step) {
			size_t n = size - off < step ? size - off : step;

			if (write(sv[1], data + off, n) != (ssize_t)n)
				break;
		}
	}
	close(sv[1]);
	if (json_io_open_fd(&io, sv[0], 4096, &err) < 0)
		return 0;
	for (int i = 0; i < 1000; i++) {
		struct json_value *msg = NULL;

		if (json_io_recv(&io, clock_deadline(1000), &msg, &err) < 0) {
			/* A protocol error: what the clients do, skip to the delimiter. */
			if (err.status == 0 && json_io_skip_past(&io, 0xff, clock_deadline(1000),
								 &err) >= 0)
				continue;
			break;
		}
		read_reply(msg);
		json_io_unref(msg);
	}
	json_io_close(&io);
	return 0;
}
