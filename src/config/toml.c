/* SPDX-License-Identifier: MIT */
/*
 * toml: a TOML 1.0.0 parser.
 *
 * One pass over the text with a cursor that counts lines and code points,
 * building the tree as it goes.  The whole document is checked for valid
 * UTF-8 first, so the rest of the parser can step over multi-byte characters
 * without checking them again.  The first error stops the parse: it is
 * reported with its position and everything built so far is freed.
 */
#include "config/toml.h"

#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Deepest nesting of values (tables, arrays, dotted keys); keeps the
 * recursion here and in code walking the tree bounded on hostile input.
 */
#define TOML_MAX_DEPTH 128

/* Longest key or value quoted inside an error message, in bytes. */
#define TOML_QUOTE_MAX 64

struct parser {
	const char *p, *end;
	int line, col;			/* of *p, 1-based, in code points */
	struct toml_table *root;
	struct toml_table *current;	/* where `key = value` lines go */
	int current_depth;
	struct toml_error *error;
};

/* One part of a possibly dotted key, unescaped. */
struct key_part {
	char *s;
	size_t len;
	struct toml_pos pos;
};

struct key {
	struct key_part *parts;
	size_t len, cap;
};

/* A growable byte string, always NUL-terminated once allocated. */
struct buf {
	char *ptr;
	size_t len, cap;
};

static struct toml_value *parse_value(struct parser *ps, int depth);
static int parse_keyval(struct parser *ps, struct toml_table *t, int depth);

/* --- errors ------------------------------------------------------------- */

static int parser_fail(struct parser *ps, struct toml_pos pos, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int parser_fail(struct parser *ps, struct toml_pos pos, const char *fmt, ...)
{
	va_list ap;

	ps->error->pos = pos;
	va_start(ap, fmt);
	vsnprintf(ps->error->msg, sizeof(ps->error->msg), fmt, ap);
	va_end(ap);
	return -1;
}

/* --- the cursor ---------------------------------------------------------- */

/* The byte off bytes after the cursor, or -1 past the end. */
static int peek_at(const struct parser *ps, size_t off)
{
	if ((size_t)(ps->end - ps->p) <= off)
		return -1;
	return (unsigned char)ps->p[off];
}

static int peek(const struct parser *ps)
{
	return peek_at(ps, 0);
}

static bool at_end(const struct parser *ps)
{
	return ps->p >= ps->end;
}

static struct toml_pos here(const struct parser *ps)
{
	return (struct toml_pos){ .line = ps->line, .column = ps->col };
}

/* Position off characters to the right of pos, within an ASCII token. */
static struct toml_pos pos_offset(struct toml_pos pos, size_t off)
{
	pos.column += (int)off;
	return pos;
}

/* Steps over one byte; continuation bytes do not start a new column. */
static void advance(struct parser *ps)
{
	unsigned char c = (unsigned char)*ps->p++;

	if (c == '\n') {
		ps->line++;
		ps->col = 1;
	} else if ((c & 0xc0) != 0x80) {
		ps->col++;
	}
}

static void advance_n(struct parser *ps, size_t n)
{
	while (n--)
		advance(ps);
}

static int parser_oom(struct parser *ps)
{
	return parser_fail(ps, here(ps), "out of memory");
}

/* Length of the newline at the cursor: 1 for LF, 2 for CRLF, else 0. */
static size_t newline_len(const struct parser *ps)
{
	if (peek(ps) == '\n')
		return 1;
	if (peek(ps) == '\r' && peek_at(ps, 1) == '\n')
		return 2;
	return 0;
}

/* Control characters may appear nowhere, except tab in strings and comments. */
static bool is_control(int c)
{
	return (c >= 0 && c < 0x20 && c != '\t') || c == 0x7f;
}

static bool is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static bool is_bare_key_char(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       is_digit(c) || c == '_' || c == '-';
}

static void skip_ws(struct parser *ps)
{
	while (peek(ps) == ' ' || peek(ps) == '\t')
		advance(ps);
}

static int fail_control(struct parser *ps, int c, const char *where)
{
	return parser_fail(ps, here(ps), "control character U+%04X is not allowed in %s",
			   (unsigned)c, where);
}

/* Steps over a comment up to (not over) the end of its line. */
static int skip_comment(struct parser *ps)
{
	advance(ps);
	while (!at_end(ps) && !newline_len(ps)) {
		if (is_control(peek(ps)))
			return fail_control(ps, peek(ps), "a comment");
		advance(ps);
	}
	return 0;
}

static int fail_bare_cr(struct parser *ps)
{
	return parser_fail(ps, here(ps), "expected a line feed after carriage return");
}

/* After a header or key/value pair: a comment, then a newline or the end. */
static int expect_line_end(struct parser *ps, const char *msg)
{
	size_t n;

	skip_ws(ps);
	if (peek(ps) == '#' && skip_comment(ps) < 0)
		return -1;
	if (at_end(ps))
		return 0;
	n = newline_len(ps);
	if (n) {
		advance_n(ps, n);
		return 0;
	}
	if (peek(ps) == '\r')
		return fail_bare_cr(ps);
	return parser_fail(ps, here(ps), "%s", msg);
}

/* Inside arrays: whitespace, newlines and comments, in any number. */
static int skip_blank(struct parser *ps)
{
	for (;;) {
		skip_ws(ps);
		if (peek(ps) == '#') {
			if (skip_comment(ps) < 0)
				return -1;
		} else if (newline_len(ps)) {
			advance_n(ps, newline_len(ps));
		} else if (peek(ps) == '\r') {
			return fail_bare_cr(ps);
		} else {
			return 0;
		}
	}
}

/* --- UTF-8 --------------------------------------------------------------- */

/*
 * Length of the UTF-8 sequence at s, or 0 when it is not valid: truncated,
 * overlong, a surrogate or above U+10FFFF.
 */
static size_t utf8_sequence_len(const unsigned char *s, size_t avail)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4;
	else
		return 0;
	if (s[0] == 0xe0)
		lo = 0xa0;
	else if (s[0] == 0xed)
		hi = 0x9f;
	else if (s[0] == 0xf0)
		lo = 0x90;
	else if (s[0] == 0xf4)
		hi = 0x8f;
	if (avail < n || s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

/* The whole document must be UTF-8, so check it once before parsing. */
static int parser_check_utf8(struct parser *ps)
{
	struct parser scan = *ps;
	size_t n;

	while (!at_end(&scan)) {
		n = utf8_sequence_len((const unsigned char *)scan.p,
				      (size_t)(scan.end - scan.p));
		if (!n)
			return parser_fail(ps, here(&scan), "invalid UTF-8");
		advance_n(&scan, n);
	}
	return 0;
}

/* --- buffers and keys ---------------------------------------------------- */

/* Makes room for extra more bytes and a NUL. */
static int buf_reserve(struct parser *ps, struct buf *b, size_t extra)
{
	size_t cap;
	char *ptr;

	if (b->cap > b->len && b->cap - b->len > extra)
		return 0;
	if (extra >= SIZE_MAX / 4 - b->len)
		return parser_oom(ps);
	cap = b->cap ? b->cap : 16;
	while (cap - b->len <= extra)
		cap *= 2;
	ptr = realloc(b->ptr, cap);
	if (!ptr)
		return parser_oom(ps);
	b->ptr = ptr;
	b->cap = cap;
	return 0;
}

static int buf_append(struct parser *ps, struct buf *b, const char *s, size_t n)
{
	if (buf_reserve(ps, b, n) < 0)
		return -1;
	memcpy(b->ptr + b->len, s, n);
	b->len += n;
	b->ptr[b->len] = '\0';
	return 0;
}

static int buf_putc(struct parser *ps, struct buf *b, char c)
{
	return buf_append(ps, b, &c, 1);
}

static int buf_put_utf8(struct parser *ps, struct buf *b, uint32_t cp)
{
	char s[4];
	size_t n;

	if (cp < 0x80) {
		s[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		s[0] = (char)(0xc0 | cp >> 6);
		s[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		s[0] = (char)(0xe0 | cp >> 12);
		s[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		s[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		s[0] = (char)(0xf0 | cp >> 18);
		s[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		s[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		s[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	return buf_append(ps, b, s, n);
}

static void key_clear(struct key *key)
{
	size_t i;

	for (i = 0; i < key->len; i++)
		free(key->parts[i].s);
	free(key->parts);
	*key = (struct key){ 0 };
}

/* Appends a part to key, taking name's memory on success. */
static int key_push(struct parser *ps, struct key *key, struct buf *name, struct toml_pos pos)
{
	struct key_part *parts;
	size_t cap;

	if (key->len == key->cap) {
		cap = key->cap ? key->cap * 2 : 4;
		parts = reallocarray(key->parts, cap, sizeof(*parts));
		if (!parts)
			return parser_oom(ps);
		key->parts = parts;
		key->cap = cap;
	}
	key->parts[key->len++] = (struct key_part){ name->ptr, name->len, pos };
	*name = (struct buf){ 0 };
	return 0;
}

/*
 * Appends one byte to a name in an error message, stopping short of
 * TOML_QUOTE_MAX at a character boundary so that a cut never splits UTF-8.
 */
static void name_putc(char *out, size_t *len, bool *cut, unsigned char c)
{
	if (*cut || ((c & 0xc0) != 0x80 && *len + 4 > TOML_QUOTE_MAX)) {
		*cut = true;
		return;
	}
	out[(*len)++] = (char)(c < 0x20 || c == 0x7f ? '?' : c);
}

static bool is_bare_key(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (!is_bare_key_char((unsigned char)s[i]))
			return false;
	return len > 0;
}

/* Writes the first n parts of key as a dotted key, for error messages. */
static const char *key_name(const struct key *key, size_t n, char *out)
{
	const struct key_part *part;
	size_t len = 0, i, j;
	bool cut = false, quote;

	for (i = 0; i < n; i++) {
		part = &key->parts[i];
		quote = !is_bare_key(part->s, part->len);
		if (i)
			name_putc(out, &len, &cut, '.');
		if (quote)
			name_putc(out, &len, &cut, '"');
		for (j = 0; j < part->len; j++)
			name_putc(out, &len, &cut, (unsigned char)part->s[j]);
		if (quote)
			name_putc(out, &len, &cut, '"');
	}
	strcpy(out + len, cut ? "..." : "");
	return out;
}

/* --- the tree ------------------------------------------------------------- */

struct toml_value *toml_value_free(struct toml_value *value)
{
	size_t i;

	if (!value)
		return NULL;
	switch (value->type) {
	case TOML_STRING:
		free(value->u.string.ptr);
		break;
	case TOML_ARRAY:
		for (i = 0; i < value->u.array.len; i++)
			toml_value_free(value->u.array.items[i]);
		free(value->u.array.items);
		break;
	case TOML_TABLE:
		toml_table_free(value->u.table);
		break;
	case TOML_INTEGER:
	case TOML_FLOAT:
	case TOML_BOOL:
	case TOML_DATETIME:
	case TOML_DATETIME_LOCAL:
	case TOML_DATE_LOCAL:
	case TOML_TIME_LOCAL:
	default:
		break;
	}
	free(value);
	return NULL;
}

struct toml_table *toml_table_free(struct toml_table *table)
{
	size_t i;

	if (!table)
		return NULL;
	for (i = 0; i < table->len; i++) {
		free(table->entries[i].key);
		toml_value_free(table->entries[i].value);
	}
	free(table->entries);
	free(table);
	return NULL;
}

const char *toml_type_name(enum toml_type type)
{
	switch (type) {
	case TOML_STRING:
		return "string";
	case TOML_INTEGER:
		return "integer";
	case TOML_FLOAT:
		return "float";
	case TOML_BOOL:
		return "boolean";
	case TOML_DATETIME:
		return "datetime";
	case TOML_DATETIME_LOCAL:
		return "local datetime";
	case TOML_DATE_LOCAL:
		return "local date";
	case TOML_TIME_LOCAL:
		return "local time";
	case TOML_ARRAY:
		return "array";
	case TOML_TABLE:
		return "table";
	default:
		return "unknown";
	}
}

static struct toml_entry *table_lookup(const struct toml_table *t, const char *key, size_t len)
{
	size_t i;

	for (i = 0; i < t->len; i++)
		if (t->entries[i].key_len == len && !memcmp(t->entries[i].key, key, len))
			return &t->entries[i];
	return NULL;
}

const struct toml_entry *toml_table_find(const struct toml_table *table, const char *key)
{
	if (!table || !key)
		return NULL;
	return table_lookup(table, key, strlen(key));
}

const struct toml_value *toml_table_get(const struct toml_table *table, const char *key)
{
	const struct toml_entry *e = toml_table_find(table, key);

	return e ? e->value : NULL;
}

static struct toml_value *value_new(struct parser *ps, enum toml_type type, struct toml_pos pos)
{
	struct toml_value *v = calloc(1, sizeof(*v));

	if (!v) {
		parser_oom(ps);
		return NULL;
	}
	v->type = type;
	v->pos = pos;
	return v;
}

static struct toml_value *table_value_new(struct parser *ps, struct toml_pos pos)
{
	struct toml_value *v = value_new(ps, TOML_TABLE, pos);

	if (!v)
		return NULL;
	v->u.table = calloc(1, sizeof(*v->u.table));
	if (!v->u.table) {
		parser_oom(ps);
		return toml_value_free(v);
	}
	return v;
}

/* Adds part = value to t; the value is t's (or freed) even on failure. */
static int table_add(struct parser *ps, struct toml_table *t, const struct key_part *part,
		     struct toml_value *value)
{
	struct toml_entry *entries;
	char *key;
	size_t cap;

	if (t->len == t->cap) {
		cap = t->cap ? t->cap * 2 : 8;
		entries = reallocarray(t->entries, cap, sizeof(*entries));
		if (!entries)
			goto oom;
		t->entries = entries;
		t->cap = cap;
	}
	key = malloc(part->len + 1);
	if (!key)
		goto oom;
	memcpy(key, part->s, part->len + 1);
	t->entries[t->len++] = (struct toml_entry){ key, part->len, part->pos, value };
	return 0;
oom:
	toml_value_free(value);
	return parser_oom(ps);
}

/* Appends item to a; the item is a's (or freed) even on failure. */
static int array_push(struct parser *ps, struct toml_array *a, struct toml_value *item)
{
	struct toml_value **items;
	size_t cap;

	if (a->len == a->cap) {
		cap = a->cap ? a->cap * 2 : 4;
		items = reallocarray(a->items, cap, sizeof(*items));
		if (!items) {
			toml_value_free(item);
			return parser_oom(ps);
		}
		a->items = items;
		a->cap = cap;
	}
	a->items[a->len++] = item;
	return 0;
}

/* --- strings -------------------------------------------------------------- */

static int hex_value(int c)
{
	if (is_digit(c))
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* \uXXXX or \UXXXXXXXX at the cursor: must name a Unicode scalar value. */
static int parse_unicode_escape(struct parser *ps, struct buf *b, size_t digits)
{
	struct toml_pos pos = here(ps);
	uint32_t cp = 0;
	size_t i;
	int d;

	for (i = 2; i < digits + 2; i++) {
		d = hex_value(peek_at(ps, i));
		if (d < 0)
			return parser_fail(ps, pos, "expected %zu hex digits after '\\%c'",
					   digits, digits == 4 ? 'u' : 'U');
		cp = cp * 16 + (uint32_t)d;
	}
	if ((cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return parser_fail(ps, pos, "escape '\\%c%.*s' is not a valid unicode code point",
				   digits == 4 ? 'u' : 'U', (int)digits, ps->p + 2);
	advance_n(ps, digits + 2);
	return buf_put_utf8(ps, b, cp);
}

/*
 * A backslash that ends a line of a multi-line basic string swallows the
 * newline and all whitespace and newlines after it.  Only spaces and tabs may
 * sit between it and the newline.  Returns 1 when the backslash was one.
 */
static int skip_line_ending_backslash(struct parser *ps)
{
	size_t i = 1;

	while (peek_at(ps, i) == ' ' || peek_at(ps, i) == '\t')
		i++;
	if (peek_at(ps, i) != '\n' && !(peek_at(ps, i) == '\r' && peek_at(ps, i + 1) == '\n'))
		return 0;
	advance_n(ps, i);
	for (;;) {
		if (peek(ps) == ' ' || peek(ps) == '\t')
			advance(ps);
		else if (newline_len(ps))
			advance_n(ps, newline_len(ps));
		else
			return 1;
	}
}

/* The escape sequence at the cursor (a backslash) of a basic string. */
static int parse_escape(struct parser *ps, struct buf *b, bool multiline)
{
	int c = peek_at(ps, 1);
	char out;

	switch (c) {
	case 'b': out = '\b'; break;
	case 't': out = '\t'; break;
	case 'n': out = '\n'; break;
	case 'f': out = '\f'; break;
	case 'r': out = '\r'; break;
	case '"': out = '"'; break;
	case '\\': out = '\\'; break;
	case 'u':
		return parse_unicode_escape(ps, b, 4);
	case 'U':
		return parse_unicode_escape(ps, b, 8);
	default:
		if (multiline && skip_line_ending_backslash(ps))
			return 0;
		if (c > ' ' && c < 0x7f)
			return parser_fail(ps, here(ps), "invalid escape sequence '\\%c'", c);
		return parser_fail(ps, here(ps), "invalid escape sequence");
	}
	advance_n(ps, 2);
	return buf_putc(ps, b, out);
}

/*
 * At a quote inside a string: returns 1 when it closes the string, 0 when it
 * belongs to the content.  A multi-line string may end with one or two quotes
 * right before its closing three.
 */
static int string_quote(struct parser *ps, struct buf *b, char quote, bool multiline)
{
	const char *quotes = quote == '"' ? "\"\"" : "''";
	size_t n = 0;

	if (!multiline) {
		advance(ps);
		return 1;
	}
	while (n < 5 && peek_at(ps, n) == quote)
		n++;
	advance_n(ps, n);
	if (n < 3)
		return buf_append(ps, b, quotes, n);
	if (buf_append(ps, b, quotes, n - 3) < 0)
		return -1;
	return 1;
}

/* Copies the (valid UTF-8) character at the cursor into b. */
static int copy_char(struct parser *ps, struct buf *b)
{
	size_t n = utf8_sequence_len((const unsigned char *)ps->p, (size_t)(ps->end - ps->p));

	if (buf_append(ps, b, ps->p, n) < 0)
		return -1;
	advance_n(ps, n);
	return 0;
}

/*
 * Any of the four kinds of strings: quote '"' for basic strings (with
 * escapes), '\'' for literal ones.  The newline right after an opening
 * triple quote is not part of the string; newlines inside become "\n".
 */
static int parse_string_body(struct parser *ps, struct buf *b, char quote, bool multiline)
{
	struct toml_pos open = here(ps);
	int c, r;

	advance_n(ps, multiline ? 3 : 1);
	if (multiline)
		advance_n(ps, newline_len(ps));
	for (;;) {
		c = peek(ps);
		if (c < 0 || (c == '\\' && peek_at(ps, 1) < 0) || (!multiline && newline_len(ps)))
			return parser_fail(ps, open, "unterminated string");
		if (c == quote) {
			r = string_quote(ps, b, quote, multiline);
			if (r)
				return r < 0 ? -1 : 0;
		} else if (c == '\\' && quote == '"') {
			if (parse_escape(ps, b, multiline) < 0)
				return -1;
		} else if (newline_len(ps)) {
			advance_n(ps, newline_len(ps));
			if (buf_putc(ps, b, '\n') < 0)
				return -1;
		} else if (is_control(c)) {
			return fail_control(ps, c, "a string");
		} else if (copy_char(ps, b) < 0) {
			return -1;
		}
	}
}

/* A string at the cursor, into b: allocated and NUL-terminated even if empty. */
static int parse_string(struct parser *ps, struct buf *b, bool is_key)
{
	char quote = (char)peek(ps);
	bool multiline = peek_at(ps, 1) == quote && peek_at(ps, 2) == quote;

	if (multiline && is_key)
		return parser_fail(ps, here(ps), "multi-line strings cannot be used as keys");
	if (parse_string_body(ps, b, quote, multiline) < 0 || buf_reserve(ps, b, 0) < 0)
		return -1;
	b->ptr[b->len] = '\0';
	return 0;
}

static struct toml_value *parse_string_value(struct parser *ps)
{
	struct toml_pos pos = here(ps);
	struct buf b = { 0 };
	struct toml_value *v;

	if (parse_string(ps, &b, false) < 0) {
		free(b.ptr);
		return NULL;
	}
	v = value_new(ps, TOML_STRING, pos);
	if (!v) {
		free(b.ptr);
		return NULL;
	}
	v->u.string.ptr = b.ptr;
	v->u.string.len = b.len;
	return v;
}

/* --- keys ------------------------------------------------------------------ */

static int parse_key_part(struct parser *ps, struct key *key)
{
	struct toml_pos pos = here(ps);
	struct buf name = { 0 };
	const char *start = ps->p;
	int c = peek(ps);

	if (c == '"' || c == '\'') {
		if (parse_string(ps, &name, true) < 0)
			goto fail;
	} else if (is_bare_key_char(c)) {
		while (is_bare_key_char(peek(ps)))
			advance(ps);
		if (buf_append(ps, &name, start, (size_t)(ps->p - start)) < 0)
			goto fail;
	} else {
		return parser_fail(ps, pos, "expected a key");
	}
	if (key_push(ps, key, &name, pos) < 0)
		goto fail;
	return 0;
fail:
	free(name.ptr);
	return -1;
}

/* A possibly dotted key, with the whitespace around it and its dots. */
static int parse_key(struct parser *ps, struct key *key)
{
	for (;;) {
		skip_ws(ps);
		if (parse_key_part(ps, key) < 0)
			return -1;
		skip_ws(ps);
		if (peek(ps) != '.')
			return 0;
		advance(ps);
	}
}

/* --- numbers, booleans and date-times ----------------------------------- */

/* How much of s (n bytes) to quote in a message: whole characters only. */
static int quote_len(const char *s, size_t n)
{
	if (n <= TOML_QUOTE_MAX)
		return (int)n;
	for (n = TOML_QUOTE_MAX; n && ((unsigned char)s[n] & 0xc0) == 0x80; n--)
		;
	return (int)n;
}

static int digit_value(int c, int base)
{
	int d = hex_value(c);

	return d < base ? d : -1;
}

/*
 * Steps over digits of base at tok[*i], with single underscores between
 * digits.  False, with *i at the fault, when there is no digit at all or an
 * underscore is not between two digits.
 */
static bool scan_digits(const char *tok, size_t n, size_t *i, int base)
{
	if (*i >= n || digit_value(tok[*i], base) < 0)
		return false;
	while (*i < n) {
		if (tok[*i] == '_') {
			if (*i + 1 >= n || digit_value(tok[*i + 1], base) < 0)
				return false;
		} else if (digit_value(tok[*i], base) < 0) {
			break;
		}
		(*i)++;
	}
	return true;
}

static int fail_number(struct parser *ps, const char *tok, size_t n, size_t i, struct toml_pos pos)
{
	if (i < n && tok[i] == '_')
		return parser_fail(ps, pos_offset(pos, i), "underscores must be between digits");
	return parser_fail(ps, pos, "invalid number '%.*s'",
			   quote_len(tok, n), tok);
}

/* The digits of tok (underscores skipped) as a number of at most limit. */
static int digits_to_u64(const char *tok, size_t n, int base, uint64_t limit, uint64_t *ret)
{
	uint64_t v = 0, d;
	size_t i;

	for (i = 0; i < n; i++) {
		if (tok[i] == '_')
			continue;
		d = (uint64_t)digit_value(tok[i], base);
		if (v > (limit - d) / (uint64_t)base)
			return -1;
		v = v * (uint64_t)base + d;
	}
	*ret = v;
	return 0;
}

static bool token_is(const char *tok, size_t n, const char *word)
{
	return n == strlen(word) && !memcmp(tok, word, n);
}

/* 0x, 0o and 0b integers: no sign, leading zeros allowed. */
static int parse_radix_int(struct parser *ps, const char *tok, size_t n, struct toml_pos pos,
			   int64_t *ret)
{
	int base = tok[1] == 'x' ? 16 : tok[1] == 'o' ? 8 : 2;
	uint64_t v;
	size_t i = 2;

	if (!scan_digits(tok, n, &i, base) || i != n)
		return fail_number(ps, tok, n, i, pos);
	if (digits_to_u64(tok + 2, n - 2, base, INT64_MAX, &v) < 0)
		return parser_fail(ps, pos, "integer out of range");
	*ret = (int64_t)v;
	return 0;
}

/* strtod, but always with '.' as the decimal point whatever the locale. */
static int parse_float_text(struct parser *ps, const char *tok, size_t n, struct toml_pos pos,
			    double *ret)
{
	char *text = malloc(n + 1), *end;
	locale_t c_locale;
	size_t i, len = 0;

	if (!text)
		return parser_oom(ps);
	for (i = 0; i < n; i++)
		if (tok[i] != '_')
			text[len++] = tok[i];
	text[len] = '\0';
	c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
	if (!c_locale) {
		free(text);
		return parser_oom(ps);
	}
	*ret = strtod_l(text, &end, c_locale);
	freelocale(c_locale);
	free(text);
	if (isinf(*ret))
		return parser_fail(ps, pos, "float out of range");
	return 0;
}

/*
 * Decimal integers and floats, with an optional sign: no leading zeros,
 * digits on both sides of '.', underscores only between digits.
 */
static struct toml_value *parse_number(struct parser *ps, const char *tok, size_t n,
				       struct toml_pos pos)
{
	struct toml_value *v = value_new(ps, TOML_INTEGER, pos);
	size_t i = 0, start;
	uint64_t u;

	if (!v)
		return NULL;
	if (n >= 2 && tok[0] == '0' && (tok[1] == 'x' || tok[1] == 'o' || tok[1] == 'b')) {
		if (parse_radix_int(ps, tok, n, pos, &v->u.integer) < 0)
			return toml_value_free(v);
		return v;
	}
	if (tok[0] == '+' || tok[0] == '-')
		i++;
	if (token_is(tok + i, n - i, "inf") || token_is(tok + i, n - i, "nan")) {
		v->type = TOML_FLOAT;
		v->u.floating = tok[i] == 'i' ? INFINITY : NAN;
		if (tok[0] == '-')
			v->u.floating = -v->u.floating;
		return v;
	}
	start = i;
	if (!scan_digits(tok, n, &i, 10))
		goto invalid;
	if (tok[start] == '0' && i - start > 1) {
		parser_fail(ps, pos, "leading zeros are not allowed");
		return toml_value_free(v);
	}
	if (i < n && tok[i] == '.') {
		v->type = TOML_FLOAT;
		i++;
		if (!scan_digits(tok, n, &i, 10))
			goto invalid;
	}
	if (i < n && (tok[i] == 'e' || tok[i] == 'E')) {
		v->type = TOML_FLOAT;
		i++;
		if (i < n && (tok[i] == '+' || tok[i] == '-'))
			i++;
		if (!scan_digits(tok, n, &i, 10))
			goto invalid;
	}
	if (i != n)
		goto invalid;
	if (v->type == TOML_FLOAT) {
		if (parse_float_text(ps, tok, n, pos, &v->u.floating) < 0)
			return toml_value_free(v);
	} else if (digits_to_u64(tok + start, n - start, 10,
				 tok[0] == '-' ? (uint64_t)INT64_MAX + 1 : INT64_MAX, &u) < 0) {
		parser_fail(ps, pos, "integer out of range");
		return toml_value_free(v);
	} else {
		v->u.integer = tok[0] != '-' ? (int64_t)u :
			       u > INT64_MAX ? INT64_MIN : -(int64_t)u;
	}
	return v;
invalid:
	fail_number(ps, tok, n, i, pos);
	return toml_value_free(v);
}

/* The n-digit number at tok[i], or -1 when those are not all digits. */
static int scan_fixed(const char *tok, size_t len, size_t i, size_t n)
{
	int v = 0;

	if (i + n > len)
		return -1;
	for (; n; n--, i++) {
		if (!is_digit(tok[i]))
			return -1;
		v = v * 10 + (tok[i] - '0');
	}
	return v;
}

static int days_in_month(int year, int month)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

	return month == 2 && leap ? 29 : days[month - 1];
}

/* YYYY-MM-DD at the start of tok, a real day of the Gregorian calendar. */
static bool scan_date(const char *tok, size_t n, struct toml_datetime *dt)
{
	dt->year = scan_fixed(tok, n, 0, 4);
	dt->month = scan_fixed(tok, n, 5, 2);
	dt->day = scan_fixed(tok, n, 8, 2);
	return dt->year >= 0 && tok[4] == '-' && tok[7] == '-' &&
	       dt->month >= 1 && dt->month <= 12 &&
	       dt->day >= 1 && dt->day <= days_in_month(dt->year, dt->month);
}

/* HH:MM:SS[.fraction] at tok[*i]; the fraction is truncated to ns. */
static bool scan_time(const char *tok, size_t n, size_t *i, struct toml_datetime *dt)
{
	size_t start, digits;

	dt->hour = scan_fixed(tok, n, *i, 2);
	dt->minute = scan_fixed(tok, n, *i + 3, 2);
	dt->second = scan_fixed(tok, n, *i + 6, 2);
	if (dt->hour < 0 || dt->minute < 0 || dt->second < 0 ||
	    tok[*i + 2] != ':' || tok[*i + 5] != ':' ||
	    dt->hour > 23 || dt->minute > 59 || dt->second > 59)
		return false;
	*i += 8;
	if (*i >= n || tok[*i] != '.')
		return true;
	start = ++*i;
	for (; *i < n && is_digit(tok[*i]); (*i)++)
		if (*i - start < 9)
			dt->nanosecond = dt->nanosecond * 10 + (tok[*i] - '0');
	for (digits = *i - start; digits < 9; digits++)
		dt->nanosecond *= 10;
	return *i > start;
}

/* Z, z or +HH:MM / -HH:MM at tok[*i]. */
static bool scan_offset(const char *tok, size_t n, size_t *i, struct toml_datetime *dt)
{
	int hours, minutes;

	if (tok[*i] == 'Z' || tok[*i] == 'z') {
		(*i)++;
		return true;
	}
	if (tok[*i] != '+' && tok[*i] != '-')
		return false;
	hours = scan_fixed(tok, n, *i + 1, 2);
	minutes = scan_fixed(tok, n, *i + 4, 2);
	if (hours < 0 || minutes < 0 || tok[*i + 3] != ':' || hours > 23 || minutes > 59)
		return false;
	dt->offset_minutes = (hours * 60 + minutes) * (tok[*i] == '-' ? -1 : 1);
	*i += 6;
	return true;
}

/* The kind of date-time tok is, filling dt, or -1 when it is none. */
static int scan_datetime(const char *tok, size_t n, struct toml_datetime *dt)
{
	size_t i = 0;

	if (n >= 10 && tok[4] == '-') {
		if (!scan_date(tok, n, dt))
			return -1;
		if (n == 10)
			return TOML_DATE_LOCAL;
		if (tok[10] != 'T' && tok[10] != 't' && tok[10] != ' ')
			return -1;
		i = 11;
	}
	if (!scan_time(tok, n, &i, dt))
		return -1;
	if (i == n)
		return tok[2] == ':' ? TOML_TIME_LOCAL : TOML_DATETIME_LOCAL;
	if (tok[2] == ':' || !scan_offset(tok, n, &i, dt) || i != n)
		return -1;
	return TOML_DATETIME;
}

static bool looks_like_datetime(const char *tok, size_t n)
{
	return (n >= 5 && scan_fixed(tok, n, 0, 4) >= 0 && tok[4] == '-') ||
	       (n >= 3 && scan_fixed(tok, n, 0, 2) >= 0 && tok[2] == ':');
}

static struct toml_value *parse_datetime(struct parser *ps, const char *tok, size_t n,
					 struct toml_pos pos)
{
	struct toml_value *v = value_new(ps, TOML_DATETIME, pos);
	const char *what = tok[2] == ':' ? "time" : n <= 10 ? "date" : "date-time";
	int type;

	if (!v)
		return NULL;
	type = scan_datetime(tok, n, &v->u.datetime);
	if (type < 0) {
		parser_fail(ps, pos, "invalid %s '%.*s'", what,
			    quote_len(tok, n), tok);
		return toml_value_free(v);
	}
	v->type = (enum toml_type)type;
	return v;
}

/*
 * Length of the run of characters at the cursor up to one that could end a
 * value: a bare value running on into such a word was meant as a string.
 */
static size_t word_len(const struct parser *ps)
{
	size_t n = 0;
	int c;

	while ((c = peek_at(ps, n)) >= 0 && !is_control(c) && !strchr(" \t#,]}=", c))
		n++;
	return n;
}

static bool is_token_char(int c)
{
	return is_bare_key_char(c) || c == '+' || c == '.' || c == ':';
}

/*
 * Length of the bare value (number, boolean, date-time) at the cursor.  A
 * date followed by a space and a time is one value: "1979-05-27 07:32:00".
 */
static size_t token_len(const struct parser *ps)
{
	size_t n = 0;

	while (is_token_char(peek_at(ps, n)))
		n++;
	if (n == 10 && looks_like_datetime(ps->p, n) && peek_at(ps, 10) == ' ' &&
	    is_digit(peek_at(ps, 11)) && is_digit(peek_at(ps, 12)) && peek_at(ps, 13) == ':')
		for (n = 11; is_token_char(peek_at(ps, n)); n++)
			;
	return n;
}

/* A value that is not a string, array or inline table. */
static struct toml_value *parse_bare_value(struct parser *ps)
{
	struct toml_pos pos = here(ps);
	size_t n = token_len(ps), word = word_len(ps);
	const char *tok = ps->p;
	struct toml_value *v;

	if (word > n) {
		parser_fail(ps, pos, "invalid value '%.*s' (strings must be quoted)",
			    quote_len(tok, word), tok);
		return NULL;
	}
	if (!n) {
		parser_fail(ps, pos, "expected a value");
		return NULL;
	}
	if (token_is(tok, n, "true") || token_is(tok, n, "false")) {
		v = value_new(ps, TOML_BOOL, pos);
		if (v)
			v->u.boolean = tok[0] == 't';
	} else if (looks_like_datetime(tok, n)) {
		v = parse_datetime(ps, tok, n, pos);
	} else if (is_digit(tok[0]) || tok[0] == '+' || tok[0] == '-' || tok[0] == '.' ||
		   token_is(tok, n, "inf") || token_is(tok, n, "nan")) {
		v = parse_number(ps, tok, n, pos);
	} else {
		parser_fail(ps, pos, "invalid value '%.*s' (strings must be quoted)",
			    quote_len(tok, n), tok);
		return NULL;
	}
	if (v)
		advance_n(ps, n);
	return v;
}

/* --- arrays and inline tables --------------------------------------------- */

static struct toml_value *parse_array(struct parser *ps, int depth)
{
	struct toml_pos open = here(ps);
	struct toml_value *array = value_new(ps, TOML_ARRAY, open), *item;

	if (!array)
		return NULL;
	advance(ps);
	for (;;) {
		if (skip_blank(ps) < 0)
			goto fail;
		if (peek(ps) == ']')
			break;
		if (at_end(ps)) {
			parser_fail(ps, open, "unterminated array");
			goto fail;
		}
		item = parse_value(ps, depth + 1);
		if (!item || array_push(ps, &array->u.array, item) < 0)
			goto fail;
		if (skip_blank(ps) < 0)
			goto fail;
		if (peek(ps) == ',') {
			advance(ps);
			continue;
		}
		if (peek(ps) == ']')
			break;
		if (at_end(ps))
			parser_fail(ps, open, "unterminated array");
		else
			parser_fail(ps, here(ps), "expected ',' or ']' after array element");
		goto fail;
	}
	advance(ps);
	return array;
fail:
	return toml_value_free(array);
}

/* Where an inline table needs a key or a ',' or '}' but has none. */
static int fail_inline_table(struct parser *ps, struct toml_pos open, const char *msg)
{
	if (at_end(ps))
		return parser_fail(ps, open, "unterminated inline table");
	if (peek(ps) == '\n' || peek(ps) == '\r')
		return parser_fail(ps, here(ps), "inline tables must be on a single line");
	return parser_fail(ps, here(ps), "%s", msg);
}

/* { key = value, ... } on one line, without a trailing comma. */
static struct toml_value *parse_inline_table(struct parser *ps, int depth)
{
	struct toml_pos open = here(ps);
	struct toml_value *v = table_value_new(ps, open);

	if (!v)
		return NULL;
	v->u.table->inline_table = 1;
	advance(ps);
	skip_ws(ps);
	if (peek(ps) == '}') {
		advance(ps);
		return v;
	}
	for (;;) {
		if (!is_bare_key_char(peek(ps)) && peek(ps) != '"' && peek(ps) != '\'') {
			fail_inline_table(ps, open, peek(ps) == '}' ?
					  "trailing comma is not allowed in an inline table" :
					  "expected a key");
			goto fail;
		}
		if (parse_keyval(ps, v->u.table, depth) < 0)
			goto fail;
		skip_ws(ps);
		if (peek(ps) == '}')
			break;
		if (peek(ps) != ',') {
			fail_inline_table(ps, open, "expected ',' or '}' after inline table entry");
			goto fail;
		}
		advance(ps);
		skip_ws(ps);
	}
	advance(ps);
	return v;
fail:
	return toml_value_free(v);
}

static struct toml_value *parse_value(struct parser *ps, int depth)
{
	if (depth > TOML_MAX_DEPTH) {
		parser_fail(ps, here(ps), "nesting too deep");
		return NULL;
	}
	switch (peek(ps)) {
	case '"':
	case '\'':
		return parse_string_value(ps);
	case '[':
		return parse_array(ps, depth);
	case '{':
		return parse_inline_table(ps, depth);
	default:
		return parse_bare_value(ps);
	}
}

/* --- where keys go: the redefinition rules ------------------------------- */

static const char *article(const char *word)
{
	return strchr("aeiou", word[0]) ? "an" : "a";
}

/* Part i of key names something that is not a table we may enter. */
static int fail_not_table(struct parser *ps, const struct key *key, size_t i,
			  const struct toml_value *v)
{
	const char *kind = toml_type_name(v->type);
	char name[TOML_QUOTE_MAX + 4];

	key_name(key, i + 1, name);
	if (v->type == TOML_TABLE && v->u.table->inline_table)
		return parser_fail(ps, key->parts[i].pos, "cannot extend inline table '%s'", name);
	if (v->type == TOML_ARRAY && v->u.array.table_array)
		kind = "array of tables";
	return parser_fail(ps, key->parts[i].pos, "key '%s' is already defined as %s %s",
			   name, article(kind), kind);
}

/* Adds an empty table named by part i of key to t; returns it. */
static struct toml_table *add_table(struct parser *ps, struct toml_table *t,
				    const struct key_part *part, struct toml_pos pos)
{
	struct toml_value *v = table_value_new(ps, pos);

	if (!v || table_add(ps, t, part, v) < 0)
		return NULL;
	return v->u.table;
}

static struct toml_table *last_table(const struct toml_value *array)
{
	return array->u.array.items[array->u.array.len - 1]->u.table;
}

/*
 * Steps from t into the table named by part i of a [header]'s key: it is
 * made implicitly when missing, and an array of tables means its last
 * element.  Tables made by dotted keys may be entered (to add sub-tables),
 * inline tables and static arrays may not.
 */
static struct toml_table *header_descend(struct parser *ps, struct toml_table *t,
					 const struct key *key, size_t i, int *depth)
{
	const struct key_part *part = &key->parts[i];
	struct toml_entry *e = table_lookup(t, part->s, part->len);

	if (++*depth > TOML_MAX_DEPTH) {
		parser_fail(ps, part->pos, "nesting too deep");
		return NULL;
	}
	if (!e) {
		t = add_table(ps, t, part, part->pos);
		if (t)
			t->implicit = 1;
		return t;
	}
	if (e->value->type == TOML_TABLE && !e->value->u.table->inline_table)
		return e->value->u.table;
	if (e->value->type == TOML_ARRAY && e->value->u.array.table_array) {
		++*depth;
		return last_table(e->value);
	}
	fail_not_table(ps, key, i, e->value);
	return NULL;
}

/* The last part of [key]: a new table, or one so far only implied. */
static struct toml_table *header_define(struct parser *ps, struct toml_table *t,
					const struct key *key, struct toml_pos open)
{
	const struct key_part *part = &key->parts[key->len - 1];
	struct toml_entry *e = table_lookup(t, part->s, part->len);
	struct toml_table *found;
	char name[TOML_QUOTE_MAX + 4];

	if (!e) {
		t = add_table(ps, t, part, open);
		if (t)
			t->defined = 1;
		return t;
	}
	if (e->value->type != TOML_TABLE || e->value->u.table->inline_table) {
		fail_not_table(ps, key, key->len - 1, e->value);
		return NULL;
	}
	found = e->value->u.table;
	key_name(key, key->len, name);
	if (found->defined)
		parser_fail(ps, part->pos, "table '%s' defined twice", name);
	else if (found->dotted)
		parser_fail(ps, part->pos, "table '%s' was already defined by dotted keys", name);
	else {
		found->defined = 1;
		e->value->pos = open;
		return found;
	}
	return NULL;
}

/* The last part of [[key]]: a new element, in a new array when missing. */
static struct toml_table *header_append(struct parser *ps, struct toml_table *t,
					const struct key *key, struct toml_pos open)
{
	const struct key_part *part = &key->parts[key->len - 1];
	struct toml_entry *e = table_lookup(t, part->s, part->len);
	struct toml_value *array, *element;
	char name[TOML_QUOTE_MAX + 4];

	if (!e) {
		array = value_new(ps, TOML_ARRAY, open);
		if (!array || table_add(ps, t, part, array) < 0)
			return NULL;
		array->u.array.table_array = true;
	} else if (e->value->type == TOML_ARRAY && !e->value->u.array.table_array) {
		parser_fail(ps, part->pos, "cannot append to static array '%s'",
			    key_name(key, key->len, name));
		return NULL;
	} else if (e->value->type != TOML_ARRAY) {
		fail_not_table(ps, key, key->len - 1, e->value);
		return NULL;
	} else {
		array = e->value;
	}
	element = table_value_new(ps, open);
	if (!element || array_push(ps, &array->u.array, element) < 0)
		return NULL;
	element->u.table->array_element = 1;
	element->u.table->defined = 1;
	return element->u.table;
}

/* [key] or [[key]] at the cursor: sets the table later pairs go into. */
static int parse_header(struct parser *ps)
{
	struct toml_pos open = here(ps);
	bool array = peek_at(ps, 1) == '[';
	struct toml_table *t = ps->root;
	struct key key = { 0 };
	int depth = 0, r = -1;
	size_t i;

	advance_n(ps, array ? 2 : 1);
	if (parse_key(ps, &key) < 0)
		goto out;
	if (peek(ps) != ']' || (array && peek_at(ps, 1) != ']')) {
		parser_fail(ps, here(ps), array ? "expected ']]' after array of tables name" :
				     "expected ']' after table name");
		goto out;
	}
	advance_n(ps, array ? 2 : 1);
	for (i = 0; t && i + 1 < key.len; i++)
		t = header_descend(ps, t, &key, i, &depth);
	if (t && depth + 2 > TOML_MAX_DEPTH) {
		parser_fail(ps, key.parts[key.len - 1].pos, "nesting too deep");
		goto out;
	}
	if (t)
		t = array ? header_append(ps, t, &key, open) : header_define(ps, t, &key, open);
	if (!t)
		goto out;
	ps->current = t;
	ps->current_depth = depth + (array ? 2 : 1);
	r = expect_line_end(ps, "expected a newline after the table header");
out:
	key_clear(&key);
	return r;
}

/*
 * Steps from t into the table named by part i of a dotted key, making it
 * when missing.  Tables made by dotted keys (of this section: others cannot
 * be reached from here) and the implicit parents of headers may be entered;
 * tables defined by a header or inline are closed to dotted keys.
 */
static struct toml_table *dotted_descend(struct parser *ps, struct toml_table *t,
					 const struct key *key, size_t i)
{
	const struct key_part *part = &key->parts[i];
	struct toml_entry *e = table_lookup(t, part->s, part->len);
	struct toml_table *found;
	char name[TOML_QUOTE_MAX + 4];

	if (!e) {
		t = add_table(ps, t, part, part->pos);
		if (t)
			t->dotted = 1;
		return t;
	}
	if (e->value->type != TOML_TABLE || e->value->u.table->inline_table) {
		fail_not_table(ps, key, i, e->value);
		return NULL;
	}
	found = e->value->u.table;
	if (found->defined) {
		parser_fail(ps, part->pos,
			    "table '%s' was defined by a header and cannot be extended with dotted keys",
			    key_name(key, i + 1, name));
		return NULL;
	}
	found->dotted = 1;
	return found;
}

/* key = value into table t, which is at depth in the tree. */
static int parse_keyval(struct parser *ps, struct toml_table *t, int depth)
{
	struct key key = { 0 };
	struct toml_value *value;
	char name[TOML_QUOTE_MAX + 4];
	size_t i;
	int r = -1;

	if (parse_key(ps, &key) < 0)
		goto out;
	if (peek(ps) != '=') {
		parser_fail(ps, here(ps), "expected '=' after key");
		goto out;
	}
	advance(ps);
	skip_ws(ps);
	if (key.len > (size_t)(TOML_MAX_DEPTH - depth)) {
		parser_fail(ps, key.parts[0].pos, "nesting too deep");
		goto out;
	}
	for (i = 0; t && i + 1 < key.len; i++)
		t = dotted_descend(ps, t, &key, i);
	if (!t)
		goto out;
	if (table_lookup(t, key.parts[i].s, key.parts[i].len)) {
		parser_fail(ps, key.parts[i].pos, "duplicate key '%s'",
			    key_name(&key, key.len, name));
		goto out;
	}
	value = parse_value(ps, depth + (int)key.len);
	if (value)
		r = table_add(ps, t, &key.parts[i], value);
out:
	key_clear(&key);
	return r;
}

/* --- the document --------------------------------------------------------- */

static int parse_document(struct parser *ps)
{
	int c;

	for (;;) {
		skip_ws(ps);
		c = peek(ps);
		if (c < 0)
			return 0;
		if (c == '#' || c == '\n' || c == '\r') {
			if (expect_line_end(ps, "expected a newline") < 0)
				return -1;
		} else if (c == '[') {
			if (parse_header(ps) < 0)
				return -1;
		} else if (parse_keyval(ps, ps->current, ps->current_depth) < 0 ||
			   expect_line_end(ps, "expected a newline after the value") < 0) {
			return -1;
		}
	}
}

struct toml_table *toml_parse(const char *text, size_t len, struct toml_error *ret_error)
{
	struct toml_error ignored;
	struct parser ps = {
		.p = text ? text : "",
		.line = 1,
		.col = 1,
		.error = ret_error ? ret_error : &ignored,
	};

	ps.end = ps.p + (text ? len : 0);
	if (ps.end - ps.p >= 3 && !memcmp(ps.p, "\xef\xbb\xbf", 3))
		ps.p += 3;
	ps.root = calloc(1, sizeof(*ps.root));
	if (!ps.root) {
		parser_oom(&ps);
		return NULL;
	}
	ps.current = ps.root;
	if (parser_check_utf8(&ps) < 0 || parse_document(&ps) < 0)
		return toml_table_free(ps.root);
	return ps.root;
}
