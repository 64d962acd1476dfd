/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the TOML parser: parse, and when that works walk the
 * whole tree, checking what the parser promises (positions, unique keys that
 * toml_table_find can find) so that a broken tree crashes here rather than
 * in the config code.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config/toml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Where the walk's checksum goes, so that the walk cannot be optimized out. */
static volatile uint64_t walk_sink;

static uint64_t walk_value(const struct toml_value *v);

static void check_pos(struct toml_pos pos)
{
	if (pos.line < 1 || pos.column < 1)
		abort();
}

static uint64_t walk_bytes(const char *s, size_t len)
{
	uint64_t sum = 0;
	size_t i;

	if (s[len] != '\0')
		abort();
	for (i = 0; i < len; i++)
		sum = sum * 31 + (unsigned char)s[i];
	return sum;
}

static uint64_t walk_table(const struct toml_table *t)
{
	const struct toml_entry *e;
	uint64_t sum = t->len;
	size_t i;

	for (i = 0; i < t->len; i++) {
		e = &t->entries[i];
		check_pos(e->key_pos);
		sum += walk_bytes(e->key, e->key_len);
		/* Keys are unique, so a lookup finds this very entry. */
		if (strlen(e->key) == e->key_len && toml_table_find(t, e->key) != e)
			abort();
		sum += walk_value(e->value);
	}
	return sum;
}

static uint64_t walk_value(const struct toml_value *v)
{
	const struct toml_datetime *dt = &v->u.datetime;
	uint64_t sum = (uint64_t)v->type;
	size_t i;

	check_pos(v->pos);
	sum += strlen(toml_type_name(v->type));
	switch (v->type) {
	case TOML_STRING:
		return sum + walk_bytes(v->u.string.ptr, v->u.string.len);
	case TOML_INTEGER:
		return sum + (uint64_t)v->u.integer;
	case TOML_FLOAT:
		return sum + (v->u.floating > 0);
	case TOML_BOOL:
		return sum + v->u.boolean;
	case TOML_DATETIME:
	case TOML_DATETIME_LOCAL:
	case TOML_DATE_LOCAL:
	case TOML_TIME_LOCAL:
		if (dt->month > 12 || dt->day > 31 || dt->hour > 23 || dt->minute > 59 ||
		    dt->second > 59 || dt->nanosecond < 0 || dt->nanosecond > 999999999)
			abort();
		return sum + (uint64_t)(dt->year + dt->nanosecond + dt->offset_minutes);
	case TOML_ARRAY:
		for (i = 0; i < v->u.array.len; i++)
			sum += walk_value(v->u.array.items[i]);
		return sum;
	case TOML_TABLE:
		return sum + walk_table(v->u.table);
	default:
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct toml_error error;
	struct toml_table *root;

	root = toml_parse((const char *)data, size, &error);
	if (!root) {
		check_pos(error.pos);
		if (!error.msg[0] || strlen(error.msg) >= sizeof(error.msg))
			abort();
		return 0;
	}
	walk_sink = walk_table(root);
	toml_table_free(root);
	return 0;
}
