/* SPDX-License-Identifier: MIT */
/*
 * toml: a TOML 1.0.0 parser that keeps where every key and value came from.
 *
 * Why our own: Debian has no maintained C TOML library, and vmtest's error
 * messages must name file:line:column for every value, which the common C
 * libraries do not keep.  The parser reads the whole document into a tree of
 * tables; tables keep their keys in file order (vm.mounts depends on it).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* 1-based line and column; column counts Unicode code points, not bytes. */
struct toml_pos {
	int line;
	int column;
};

enum toml_type {
	TOML_STRING,
	TOML_INTEGER,
	TOML_FLOAT,
	TOML_BOOL,
	TOML_DATETIME,		/* offset date-time: 1979-05-27T07:32:00Z */
	TOML_DATETIME_LOCAL,	/* 1979-05-27T07:32:00 */
	TOML_DATE_LOCAL,	/* 1979-05-27 */
	TOML_TIME_LOCAL,	/* 07:32:00 */
	TOML_ARRAY,
	TOML_TABLE,
};

/* Fields not meaningful for a kind (the date of a local time, ...) are 0. */
struct toml_datetime {
	int year, month, day;
	int hour, minute, second;
	int nanosecond;		/* fraction of a second, truncated to ns */
	int offset_minutes;	/* east of UTC; only for TOML_DATETIME ("Z" is 0) */
};

struct toml_table;
struct toml_value;

struct toml_array {
	struct toml_value **items;
	size_t len;
	size_t cap;
	/* Made by [[header]]s, so open to more of them; `a = [...]` is not. */
	bool table_array;
};

/*
 * pos is the first character of the value; for a table made by a [header]
 * (or an element of [[header]]) it is that header's '['; for a table made
 * implicitly (by [a.b] or a.b = 1) it is where its key was first written.
 */
struct toml_value {
	enum toml_type type;
	struct toml_pos pos;	/* first character of the value */
	union {
		struct {
			char *ptr;	/* NUL-terminated, but may hold NULs: use len */
			size_t len;
		} string;
		int64_t integer;
		double floating;
		bool boolean;
		struct toml_datetime datetime;
		struct toml_array array;
		struct toml_table *table;
	} u;
};

struct toml_entry {
	char *key;		/* NUL-terminated, may hold NULs: use key_len */
	size_t key_len;
	struct toml_pos key_pos;	/* where the key was (first) written */
	struct toml_value *value;
};

struct toml_table {
	struct toml_entry *entries;	/* in file order */
	size_t len;
	size_t cap;
	/* How the table came to be; the redefinition rules need it. */
	unsigned defined : 1;		/* by a [header] naming it */
	unsigned implicit : 1;		/* created as a parent of a header */
	unsigned dotted : 1;		/* created by a dotted key */
	unsigned inline_table : 1;	/* { ... }: closed to additions */
	unsigned array_element : 1;	/* element of an [[array of tables]] */
};

struct toml_error {
	struct toml_pos pos;
	char msg[256];		/* "unterminated string", no position in it */
};

/*
 * Parse a whole document of len bytes (need not be NUL-terminated).  Returns
 * the root table, or NULL with *ret_error filled (out of memory is reported
 * the same way, as "out of memory").  Free the result with toml_table_free.
 */
struct toml_table *toml_parse(const char *text, size_t len, struct toml_error *ret_error);

/* Both accept NULL and return NULL, so `t = toml_table_free(t);` works. */
struct toml_table *toml_table_free(struct toml_table *table);
struct toml_value *toml_value_free(struct toml_value *value);

/* Lookup by a NUL-terminated key; NULL when absent. */
const struct toml_entry *toml_table_find(const struct toml_table *table, const char *key);
const struct toml_value *toml_table_get(const struct toml_table *table, const char *key);

/* "string", "integer", "table", ... for messages. */
const char *toml_type_name(enum toml_type type);
