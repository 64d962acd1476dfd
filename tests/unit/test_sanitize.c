// SPDX-License-Identifier: MIT
/* Guest output made safe for the terminal: what survives, what is cut. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "ui/sanitize.h"

static void check(const char *in, bool keep_sgr, unsigned width, const char *want,
		  unsigned want_columns)
{
	struct sanitize_options o = { .keep_sgr = keep_sgr, .width = width };
	unsigned columns = 12345;
	char *got = sanitize_line(in, strlen(in), &o, &columns);

	assert_non_null(got);
	assert_string_equal(got, want);
	assert_int_equal(columns, want_columns);
	free(got);
}

static void test_plain_text(void **state)
{
	check("hello", false, 0, "hello", 5);
	check("", false, 0, "", 0);
	check("caf\xc3\xa9", false, 0, "caf\xc3\xa9", 4);
}

static void test_tabs(void **state)
{
	check("a\tb", false, 0, "a       b", 9);
	check("\t", false, 0, "        ", 8);
	check("abcdefgh\tx", false, 0, "abcdefgh        x", 17);
	/* A tab at the edge fills only up to it. */
	check("ab\tcd", false, 5, "ab   ", 5);
}

static void test_clipping(void **state)
{
	check("0123456789", false, 4, "0123", 4);
	check("0123", false, 4, "0123", 4);
	/* A wide character that does not fit is left out whole. */
	check("ab\xe4\xb8\xad", false, 3, "ab", 2);
	check("ab\xe4\xb8\xad", false, 4, "ab\xe4\xb8\xad", 4);
	/* Colour takes no columns. */
	check("\x1b[31mred\x1b[0m", true, 3, "\x1b[31mred\x1b[0m", 3);
}

static void test_escapes_removed(void **state)
{
	/* Cursor movement, clears, modes, titles, charset switches, resets. */
	check("a\x1b[2Jb\x1b[Hc\x1b[10;20Hd", false, 0, "abcd", 4);
	check("\x1b[?1049h\x1b[?25lx", false, 0, "x", 1);
	check("\x1b]0;title\x07y", false, 0, "y", 1);
	check("\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\", false, 0, "link", 4);
	check("\x1b" "cz\x1b(Bw", false, 0, "zw", 2);
	check("\x1bPdcs-string\x1b\\q", false, 0, "q", 1);
	/* Colour is kept only when asked. */
	check("\x1b[1;32mok\x1b[m", false, 0, "ok", 2);
	check("\x1b[1;32mok\x1b[m", true, 0, "\x1b[1;32mok\x1b[m", 2);
	/* A sequence cut short at the end of the line is dropped. */
	check("x\x1b[12", true, 0, "x", 1);
	check("x\x1b", true, 0, "x", 1);
}

static void test_controls_removed(void **state)
{
	check("a\x07" "b\x08" "c\x7f" "d\x0e", false, 0, "abcd", 4);
	/* C1 controls (U+009B is CSI to some terminals). */
	check("a\xc2\x9b" "2Jb", false, 0, "a2Jb", 4);
	/* Not UTF-8: shown as '?'. */
	check("a\xff" "b\xc3", false, 0, "a?b?", 4);
}

static void test_carriage_return(void **state)
{
	check("line\r", false, 0, "line", 4);
	check("10%\r50%\r100%", false, 0, "100%", 4);
	check("progress 10%\rdone\r\r", false, 0, "done", 4);
}

static void test_after_sgr(void **state)
{
	struct sanitize_options o = { .keep_sgr = true, .after_sgr = "\x1b[2m" };
	char *got = sanitize_line("\x1b[0mx", 5, &o, NULL);

	assert_string_equal(got, "\x1b[0m\x1b[2mx");
	free(got);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_text),
		cmocka_unit_test(test_tabs),
		cmocka_unit_test(test_clipping),
		cmocka_unit_test(test_escapes_removed),
		cmocka_unit_test(test_controls_removed),
		cmocka_unit_test(test_carriage_return),
		cmocka_unit_test(test_after_sgr),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
