/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the guest's serial console as vmtest reads it: any
 * bytes a guest writes there, in reads of 1 to 64 bytes (the first input
 * byte) or, with a 0 byte, whole, then a line the fuzzer may have made as
 * long as it likes.  After each read, what the runner asks of the console
 * (a panic seen, its line for the error message, the init's lines) must
 * answer within its bounds: the panic line starts with "Kernel panic",
 * holds no newline and at most 512 bytes; "Kernel panic" anywhere in the
 * last 256 kB, even cut across reads, is seen.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vm/console.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_line(struct console *c)
{
	char *line = console_panic_line(c);
	char *init = console_lines_with(c, "vmtest-init: ");

	if (line) {
		if (!console_panicked(c) || strncmp(line, "Kernel panic", 12) != 0 ||
		    strchr(line, '\n') || strlen(line) > 512)
			abort();
	}
	if (init && strchr(init, '\n'))
		abort();
	free(line);
	free(init);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct console *c;
	size_t piece, at = 1;

	if (size < 1)
		return 0;
	c = console_new_unattached();
	if (!c)
		return 0;
	piece = data[0] % 65 ? data[0] % 65 : size;
	while (at < size) {
		size_t n = size - at < piece ? size - at : piece;

		console_feed(c, (const char *)data + at, n);
		at += n;
		check_line(c);
	}
	if (size - 1 <= 256 * 1024 && memmem(data + 1, size - 1, "Kernel panic", 12) &&
	    !console_panicked(c))
		abort();
	console_free(c);
	return 0;
}
