// SPDX-License-Identifier: MIT
#include "base/shell_quote.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/*
 * Characters that mean nothing to a POSIX shell anywhere in a word.  '=' is
 * not among them: an unquoted FOO=bar as the first word is an assignment,
 * not a program name; '~' and '#' are special at the start of a word.
 */
static bool shell_char_is_plain(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       strchr("_@%+:,./-", c);
}

static bool shell_word_is_plain(const char *word)
{
	if (!*word)
		return false;
	for (const char *p = word; *p; p++)
		if (!shell_char_is_plain(*p))
			return false;
	return true;
}

/* Single quotes keep everything literal; a ' inside becomes '\''. */
char *shell_quote_word(const char *word)
{
	size_t quotes = 0;
	char *out, *q;

	if (shell_word_is_plain(word))
		return strdup(word);
	for (const char *p = word; *p; p++)
		quotes += *p == '\'';
	out = malloc(strlen(word) + 3 * quotes + 3);
	if (!out)
		return NULL;
	q = out;
	*q++ = '\'';
	for (const char *p = word; *p; p++) {
		if (*p == '\'') {
			memcpy(q, "'\\''", 4);
			q += 4;
		} else {
			*q++ = *p;
		}
	}
	*q++ = '\'';
	*q = '\0';
	return out;
}

char *shell_quote_argv(int argc, char *const *argv)
{
	size_t len = 0, used = 0;
	char *line = NULL;

	for (int i = 0; i < argc; i++) {
		char *word = shell_quote_word(argv[i]);
		size_t wlen;
		char *grown;

		if (!word)
			goto fail;
		wlen = strlen(word);
		grown = realloc(line, len + wlen + 2);
		if (!grown) {
			free(word);
			goto fail;
		}
		line = grown;
		if (used)
			line[used++] = ' ';
		memcpy(line + used, word, wlen + 1);
		used += wlen;
		len = used;
		free(word);
	}
	return line ? line : strdup("");
fail:
	free(line);
	return NULL;
}
