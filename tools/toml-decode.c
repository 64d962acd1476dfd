/* SPDX-License-Identifier: MIT */
/*
 * toml-decode: the decoder side of toml-test.  Reads a TOML document on
 * stdin; prints it as toml-test's tagged JSON on stdout and exits 0, or
 * prints "line:column: message" on stderr and exits 1.
 *
 * toml-decode --rejected FILE...: prints the name of each FILE that the
 * parser rejects, one a line (the functional tests sort a fuzz corpus with
 * it: one process for a thousand documents, not a thousand processes).
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/toml.h"

static void print_value(const struct toml_value *v);

/* JSON string escaping by hand: the string may hold any byte, even NUL. */
static void print_string(const char *s, size_t len)
{
	size_t i;
	unsigned char c;

	putchar('"');
	for (i = 0; i < len; i++) {
		c = (unsigned char)s[i];
		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void print_table(const struct toml_table *t)
{
	size_t i;

	putchar('{');
	for (i = 0; i < t->len; i++) {
		if (i)
			putchar(',');
		print_string(t->entries[i].key, t->entries[i].key_len);
		putchar(':');
		print_value(t->entries[i].value);
	}
	putchar('}');
}

static void print_array(const struct toml_array *a)
{
	size_t i;

	putchar('[');
	for (i = 0; i < a->len; i++) {
		if (i)
			putchar(',');
		print_value(a->items[i]);
	}
	putchar(']');
}

static void print_float(double d)
{
	if (isnan(d))
		fputs("nan", stdout);
	else if (isinf(d))
		fputs(d < 0 ? "-inf" : "inf", stdout);
	else
		printf("%.17g", d);
}

/* RFC 3339, with the fraction only when there is one. */
static void print_datetime(enum toml_type type, const struct toml_datetime *dt)
{
	int offset = dt->offset_minutes;

	if (type != TOML_TIME_LOCAL)
		printf("%04d-%02d-%02d", dt->year, dt->month, dt->day);
	if (type == TOML_DATETIME || type == TOML_DATETIME_LOCAL)
		putchar('T');
	if (type != TOML_DATE_LOCAL)
		printf("%02d:%02d:%02d", dt->hour, dt->minute, dt->second);
	if (type != TOML_DATE_LOCAL && dt->nanosecond)
		printf(".%09d", dt->nanosecond);
	if (type == TOML_DATETIME && offset == 0)
		putchar('Z');
	else if (type == TOML_DATETIME)
		printf("%c%02d:%02d", offset < 0 ? '-' : '+', abs(offset) / 60, abs(offset) % 60);
}

static void print_scalar(const struct toml_value *v)
{
	const char *type;

	switch (v->type) {
	case TOML_STRING: type = "string"; break;
	case TOML_INTEGER: type = "integer"; break;
	case TOML_FLOAT: type = "float"; break;
	case TOML_BOOL: type = "bool"; break;
	case TOML_DATETIME: type = "datetime"; break;
	case TOML_DATETIME_LOCAL: type = "datetime-local"; break;
	case TOML_DATE_LOCAL: type = "date-local"; break;
	case TOML_TIME_LOCAL: type = "time-local"; break;
	case TOML_ARRAY:
	case TOML_TABLE:
	default:
		abort();
	}
	printf("{\"type\":\"%s\",\"value\":", type);
	if (v->type == TOML_STRING) {
		print_string(v->u.string.ptr, v->u.string.len);
	} else {
		putchar('"');
		if (v->type == TOML_INTEGER)
			printf("%" PRId64, v->u.integer);
		else if (v->type == TOML_FLOAT)
			print_float(v->u.floating);
		else if (v->type == TOML_BOOL)
			fputs(v->u.boolean ? "true" : "false", stdout);
		else
			print_datetime(v->type, &v->u.datetime);
		putchar('"');
	}
	putchar('}');
}

static void print_value(const struct toml_value *v)
{
	if (v->type == TOML_TABLE)
		print_table(v->u.table);
	else if (v->type == TOML_ARRAY)
		print_array(&v->u.array);
	else
		print_scalar(v);
}

/* All of f, in a buffer the caller frees; NULL on a read error. */
static char *read_all(FILE *f, size_t *ret_len)
{
	size_t len = 0, cap = 4096, n;
	char *buf = malloc(cap), *bigger;

	while (buf) {
		n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
		if (len == cap) {
			cap *= 2;
			bigger = realloc(buf, cap);
			if (!bigger)
				free(buf);
			buf = bigger;
		}
	}
	if (buf && ferror(f)) {
		free(buf);
		return NULL;
	}
	*ret_len = len;
	return buf;
}

static int print_rejected(char **paths)
{
	struct toml_error error;
	struct toml_table *root;
	size_t len;
	char *text;
	FILE *f;

	for (; *paths; paths++) {
		f = fopen(*paths, "rb");
		text = f ? read_all(f, &len) : NULL;
		if (f)
			fclose(f);
		if (!text) {
			fprintf(stderr, "toml-decode: %s: cannot read it\n", *paths);
			return 2;
		}
		root = toml_parse(text, len, &error);
		free(text);
		if (root)
			toml_table_free(root);
		else
			puts(*paths);
	}
	if (fflush(stdout) != 0 || ferror(stdout)) {
		perror("toml-decode: writing stdout");
		return 2;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct toml_error error;
	struct toml_table *root;
	size_t len;
	char *text;

	if (argc > 1 && strcmp(argv[1], "--rejected") == 0)
		return print_rejected(argv + 2);
	text = read_all(stdin, &len);

	if (!text) {
		perror("toml-decode: reading stdin");
		return 2;
	}
	root = toml_parse(text, len, &error);
	free(text);
	if (!root) {
		fprintf(stderr, "%d:%d: %s\n", error.pos.line, error.pos.column, error.msg);
		return 1;
	}
	print_table(root);
	putchar('\n');
	toml_table_free(root);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		perror("toml-decode: writing stdout");
		return 2;
	}
	return 0;
}
