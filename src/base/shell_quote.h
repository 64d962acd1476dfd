/* SPDX-License-Identifier: MIT */
/*
 * shell_quote: turn an argv into one shell command line that gives the same
 * argv back, so `vmtest -k bzImage -- go test -run 'A B'` arrives exactly.
 */
#pragma once

/* One word, quoted only when it needs to be.  Returns NULL on ENOMEM. */
char *shell_quote_word(const char *word);

/* argc words, each quoted, joined by single spaces.  NULL on ENOMEM. */
char *shell_quote_argv(int argc, char *const *argv);
