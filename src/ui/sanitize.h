/* SPDX-License-Identifier: MIT */
/*
 * sanitize: a line of guest output made safe to show on the user's
 * terminal.  Guest output is arbitrary bytes: cursor movements, screen
 * clears, title changes and mode switches in it must never reach the
 * terminal, so everything but printable text (and, optionally, colour) is
 * dropped, and the line is cut to the columns it may use.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct sanitize_options {
	bool keep_sgr;		/* keep colour and attribute sequences (ESC [ ... m) */
	const char *after_sgr;	/* re-emitted after each kept one (the view's dimming) */
	unsigned width;		/* the columns the line may use; 0: no limit */
};

/*
 * The line (without its newline) as text for a terminal, malloc'd, NUL
 * terminated; NULL when out of memory.  Tabs expand to the next multiple
 * of 8 columns; a carriage return starts the line over, as on a terminal
 * (what a progress bar shows last is what is kept); other control
 * characters, C1 controls and every escape sequence but SGR are removed;
 * bytes that are not UTF-8 show as '?'.  *ret_columns (when not NULL)
 * gets the columns the result takes.
 */
char *sanitize_line(const char *in, size_t len, const struct sanitize_options *options,
		    unsigned *ret_columns);
