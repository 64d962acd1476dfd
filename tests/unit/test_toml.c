/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the TOML parser: values of every type, the positions that
 * vmtest's messages quote, key order, tables and arrays of tables, and the
 * error message and position for the mistakes people make.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/toml.h"

/* Parses text, failing the test with the parser's message if it is invalid. */
static struct toml_table *parse_ok(const char *text)
{
	struct toml_error error = { 0 };
	struct toml_table *root = toml_parse(text, strlen(text), &error);

	if (!root)
		fail_msg("unexpected error %d:%d: %s\nin: %s", error.pos.line,
			 error.pos.column, error.msg, text);
	return root;
}

static void assert_parse_error_len(const char *text, size_t len, int line, int column,
				   const char *msg)
{
	struct toml_error error = { 0 };
	struct toml_table *root = toml_parse(text, len, &error);

	if (root) {
		toml_table_free(root);
		fail_msg("parsed, but expected %d:%d: %s\nin: %s", line, column, msg, text);
	}
	assert_string_equal(error.msg, msg);
	assert_int_equal(error.pos.line, line);
	assert_int_equal(error.pos.column, column);
}

static void assert_parse_error(const char *text, int line, int column, const char *msg)
{
	assert_parse_error_len(text, strlen(text), line, column, msg);
}

/* The value at a dotted path of plain keys ("target.0.name" indexes arrays). */
static const struct toml_value *get_path(const struct toml_table *t, const char *path)
{
	const struct toml_value *v = NULL;
	char buf[256], *part, *save = NULL;

	assert_true(strlen(path) < sizeof(buf));
	strcpy(buf, path);
	for (part = strtok_r(buf, ".", &save); part; part = strtok_r(NULL, ".", &save)) {
		if (v && v->type == TOML_ARRAY) {
			size_t i = strtoul(part, NULL, 10);

			assert_true(i < v->u.array.len);
			v = v->u.array.items[i];
			continue;
		}
		if (v) {
			assert_int_equal(v->type, TOML_TABLE);
			t = v->u.table;
		}
		v = toml_table_get(t, part);
		if (!v)
			fail_msg("no key '%s' in path '%s'", part, path);
	}
	return v;
}

static void assert_string_value(const struct toml_value *v, const char *want)
{
	assert_int_equal(v->type, TOML_STRING);
	assert_int_equal(v->u.string.len, strlen(want));
	assert_string_equal(v->u.string.ptr, want);
}

static void assert_integer_value(const struct toml_value *v, int64_t want)
{
	assert_int_equal(v->type, TOML_INTEGER);
	assert_true(v->u.integer == want);
}

static void assert_pos(struct toml_pos pos, int line, int column)
{
	assert_int_equal(pos.line, line);
	assert_int_equal(pos.column, column);
}

/* --- values --------------------------------------------------------------- */

static void test_basic_strings(void **state)
{
	struct toml_table *t = parse_ok(
		"a = \"plain\"\n"
		"b = \"tab\\there \\\"quoted\\\" back\\\\slash\"\n"
		"c = \"\\b\\f\\n\\r\"\n"
		"d = \"\\u00e9 \\U0001F600\"\n"
		"e = \"\"\n"
		"f = \"raw\ttab and é\"\n");

	assert_string_value(toml_table_get(t, "a"), "plain");
	assert_string_value(toml_table_get(t, "b"), "tab\there \"quoted\" back\\slash");
	assert_string_value(toml_table_get(t, "c"), "\b\f\n\r");
	assert_string_value(toml_table_get(t, "d"), "\xc3\xa9 \xf0\x9f\x98\x80");
	assert_string_value(toml_table_get(t, "e"), "");
	assert_string_value(toml_table_get(t, "f"), "raw\ttab and \xc3\xa9");
	toml_table_free(t);
}

static void test_string_with_nul(void **state)
{
	struct toml_table *t = parse_ok("a = \"x\\u0000y\"\n");
	const struct toml_value *v = toml_table_get(t, "a");

	assert_int_equal(v->type, TOML_STRING);
	assert_int_equal(v->u.string.len, 3);
	assert_memory_equal(v->u.string.ptr, "x\0y", 4);
	toml_table_free(t);
}

static void test_literal_strings(void **state)
{
	struct toml_table *t = parse_ok(
		"path = 'C:\\Users\\nodejs'\n"
		"quoted = 'Tom \"Dubs\" Preston'\n"
		"empty = ''\n");

	assert_string_value(toml_table_get(t, "path"), "C:\\Users\\nodejs");
	assert_string_value(toml_table_get(t, "quoted"), "Tom \"Dubs\" Preston");
	assert_string_value(toml_table_get(t, "empty"), "");
	toml_table_free(t);
}

static void test_multiline_strings(void **state)
{
	struct toml_table *t = parse_ok(
		"a = \"\"\"\nRoses\r\nViolets\"\"\"\n"
		"b = \"\"\"one \\\n    two \\   \n\n    three\"\"\"\n"
		"c = \"\"\"\"quoted\"\"\"\"\n"
		"d = \"\"\"ends with two\"\"\"\"\"\n"
		"e = '''\nfirst newline trimmed\n  \\n stays'''\n"
		"f = ''''one' and two'''''\n");

	assert_string_value(toml_table_get(t, "a"), "Roses\nViolets");
	assert_string_value(toml_table_get(t, "b"), "one two three");
	assert_string_value(toml_table_get(t, "c"), "\"quoted\"");
	assert_string_value(toml_table_get(t, "d"), "ends with two\"\"");
	assert_string_value(toml_table_get(t, "e"), "first newline trimmed\n  \\n stays");
	assert_string_value(toml_table_get(t, "f"), "'one' and two''");
	toml_table_free(t);
}

static void test_integers(void **state)
{
	struct toml_table *t = parse_ok(
		"a = 42\nb = +17\nc = -0\nd = 1_000_000\n"
		"e = 0xDEAD_beef\nf = 0o755\ng = 0b1101\n"
		"max = 9223372036854775807\nmin = -9223372036854775808\n"
		"hexmax = 0x7fffffffffffffff\n");

	assert_integer_value(toml_table_get(t, "a"), 42);
	assert_integer_value(toml_table_get(t, "b"), 17);
	assert_integer_value(toml_table_get(t, "c"), 0);
	assert_integer_value(toml_table_get(t, "d"), 1000000);
	assert_integer_value(toml_table_get(t, "e"), 0xdeadbeef);
	assert_integer_value(toml_table_get(t, "f"), 0755);
	assert_integer_value(toml_table_get(t, "g"), 13);
	assert_integer_value(toml_table_get(t, "max"), INT64_MAX);
	assert_integer_value(toml_table_get(t, "min"), INT64_MIN);
	assert_integer_value(toml_table_get(t, "hexmax"), INT64_MAX);
	toml_table_free(t);
}

static void test_floats(void **state)
{
	struct toml_table *t = parse_ok(
		"a = 3.1415\nb = -0.01\nc = 5e+22\nd = 1e06\ne = -2E-2\n"
		"f = 6.626e-34\ng = 224_617.445_991\nh = -0.0\n"
		"i = inf\nj = -inf\nk = +nan\nl = 0e0\n");

	assert_int_equal(toml_table_get(t, "a")->type, TOML_FLOAT);
	assert_true(toml_table_get(t, "a")->u.floating == 3.1415);
	assert_true(toml_table_get(t, "b")->u.floating == -0.01);
	assert_true(toml_table_get(t, "c")->u.floating == 5e22);
	assert_true(toml_table_get(t, "d")->u.floating == 1e6);
	assert_true(toml_table_get(t, "e")->u.floating == -2e-2);
	assert_true(toml_table_get(t, "f")->u.floating == 6.626e-34);
	assert_true(toml_table_get(t, "g")->u.floating == 224617.445991);
	assert_true(signbit(toml_table_get(t, "h")->u.floating));
	assert_true(isinf(toml_table_get(t, "i")->u.floating));
	assert_true(toml_table_get(t, "j")->u.floating < 0);
	assert_true(isnan(toml_table_get(t, "k")->u.floating));
	assert_true(toml_table_get(t, "l")->u.floating == 0);
	toml_table_free(t);
}

static void test_booleans(void **state)
{
	struct toml_table *t = parse_ok("yes = true\nno = false\n");

	assert_int_equal(toml_table_get(t, "yes")->type, TOML_BOOL);
	assert_true(toml_table_get(t, "yes")->u.boolean);
	assert_false(toml_table_get(t, "no")->u.boolean);
	toml_table_free(t);
}

static void test_datetimes(void **state)
{
	struct toml_table *t = parse_ok(
		"odt = 1979-05-27T07:32:00Z\n"
		"neg = 1979-05-27 00:32:00.999999-07:30\n"
		"lower = 1979-05-27t07:32:00z\n"
		"long = 1979-05-27T07:32:00.1234567891234+01:00\n"
		"ldt = 2000-02-29T23:59:59\n"
		"ld = 1979-05-27\n"
		"lt = 07:32:00.5\n");
	const struct toml_datetime *dt;

	dt = &toml_table_get(t, "odt")->u.datetime;
	assert_int_equal(toml_table_get(t, "odt")->type, TOML_DATETIME);
	assert_int_equal(dt->year, 1979);
	assert_int_equal(dt->month, 5);
	assert_int_equal(dt->day, 27);
	assert_int_equal(dt->hour, 7);
	assert_int_equal(dt->minute, 32);
	assert_int_equal(dt->second, 0);
	assert_int_equal(dt->nanosecond, 0);
	assert_int_equal(dt->offset_minutes, 0);

	dt = &toml_table_get(t, "neg")->u.datetime;
	assert_int_equal(dt->nanosecond, 999999000);
	assert_int_equal(dt->offset_minutes, -(7 * 60 + 30));
	assert_int_equal(toml_table_get(t, "lower")->type, TOML_DATETIME);

	dt = &toml_table_get(t, "long")->u.datetime;
	assert_int_equal(dt->nanosecond, 123456789);
	assert_int_equal(dt->offset_minutes, 60);

	assert_int_equal(toml_table_get(t, "ldt")->type, TOML_DATETIME_LOCAL);
	assert_int_equal(toml_table_get(t, "ldt")->u.datetime.day, 29);

	dt = &toml_table_get(t, "ld")->u.datetime;
	assert_int_equal(toml_table_get(t, "ld")->type, TOML_DATE_LOCAL);
	assert_int_equal(dt->day, 27);
	assert_int_equal(dt->hour, 0);

	dt = &toml_table_get(t, "lt")->u.datetime;
	assert_int_equal(toml_table_get(t, "lt")->type, TOML_TIME_LOCAL);
	assert_int_equal(dt->year, 0);
	assert_int_equal(dt->hour, 7);
	assert_int_equal(dt->nanosecond, 500000000);
	toml_table_free(t);
}

static void test_arrays(void **state)
{
	struct toml_table *t = parse_ok(
		"empty = []\n"
		"mixed = [1, 'two', 3.0, [4], { five = 5 }]\n"
		"spread = [\n"
		"  1, # one\n"
		"  2,\n"
		"  # nothing here\n"
		"]\n"
		"nested = [[1, 2], [\"a\"]]\n");
	const struct toml_value *v;

	assert_int_equal(toml_table_get(t, "empty")->type, TOML_ARRAY);
	assert_int_equal(toml_table_get(t, "empty")->u.array.len, 0);
	v = toml_table_get(t, "mixed");
	assert_int_equal(v->u.array.len, 5);
	assert_int_equal(v->u.array.items[0]->type, TOML_INTEGER);
	assert_int_equal(v->u.array.items[1]->type, TOML_STRING);
	assert_int_equal(v->u.array.items[2]->type, TOML_FLOAT);
	assert_int_equal(v->u.array.items[3]->type, TOML_ARRAY);
	assert_int_equal(v->u.array.items[4]->type, TOML_TABLE);
	assert_integer_value(get_path(t, "mixed.4.five"), 5);
	assert_int_equal(toml_table_get(t, "spread")->u.array.len, 2);
	assert_integer_value(get_path(t, "spread.1"), 2);
	assert_integer_value(get_path(t, "nested.0.1"), 2);
	assert_string_value(get_path(t, "nested.1.0"), "a");
	toml_table_free(t);
}

static void test_inline_tables(void **state)
{
	struct toml_table *t = parse_ok(
		"point = { x = 1, y = 2 }\n"
		"empty = {}\n"
		"deep = { a.b = 'c', d = { e = true } }\n");
	const struct toml_value *v = toml_table_get(t, "point");

	assert_int_equal(v->type, TOML_TABLE);
	assert_true(v->u.table->inline_table);
	assert_int_equal(v->u.table->len, 2);
	assert_integer_value(get_path(t, "point.y"), 2);
	assert_int_equal(toml_table_get(t, "empty")->u.table->len, 0);
	assert_string_value(get_path(t, "deep.a.b"), "c");
	assert_true(get_path(t, "deep.d.e")->u.boolean);
	toml_table_free(t);
}

static void test_keys(void **state)
{
	struct toml_table *t = parse_ok(
		"bare_key-1 = 1\n"
		"\"quoted key\" = 2\n"
		"'literal \"key\"' = 3\n"
		"\"\" = 4\n"
		"site . \"google.com\" = 5\n"
		"1234 = 6\n");

	assert_integer_value(toml_table_get(t, "bare_key-1"), 1);
	assert_integer_value(toml_table_get(t, "quoted key"), 2);
	assert_integer_value(toml_table_get(t, "literal \"key\""), 3);
	assert_integer_value(toml_table_get(t, ""), 4);
	assert_integer_value(toml_table_get(toml_table_get(t, "site")->u.table, "google.com"), 5);
	assert_integer_value(toml_table_get(t, "1234"), 6);
	toml_table_free(t);
}

static void test_whitespace_and_comments(void **state)
{
	struct toml_table *t = parse_ok(
		"\t# leading comment\r\n"
		"a\t=\t1\t# tab after the value\t\r\n"
		"b = 'x'\t\n"
		"  [ t . u ]\t# header comment\n"
		"c = [ 1 ,\t2 ]\t\n"
		"d = { e = 1 }\t\n"
		"f = 1979-05-27\t\n"
		"g = 1.5\t");

	assert_integer_value(toml_table_get(t, "a"), 1);
	assert_string_value(toml_table_get(t, "b"), "x");
	assert_int_equal(get_path(t, "t.u.c")->u.array.len, 2);
	assert_integer_value(get_path(t, "t.u.d.e"), 1);
	assert_int_equal(get_path(t, "t.u.f")->type, TOML_DATE_LOCAL);
	assert_int_equal(get_path(t, "t.u.g")->type, TOML_FLOAT);
	toml_table_free(t);
}

/* --- structure and positions ------------------------------------------- */

static void test_key_order_kept(void **state)
{
	static const char *const order[] = { "zeta", "alpha", "mid", "beta", "omega" };
	struct toml_table *t = parse_ok(
		"[vm.mounts]\n"
		"zeta = '/z'\nalpha = '/a'\nmid = '/m'\nbeta = '/b'\nomega = '/o'\n");
	const struct toml_table *mounts = get_path(t, "vm.mounts")->u.table;
	size_t i;

	assert_int_equal(mounts->len, 5);
	for (i = 0; i < 5; i++)
		assert_string_equal(mounts->entries[i].key, order[i]);
	toml_table_free(t);
}

static void test_value_and_key_positions(void **state)
{
	struct toml_table *t = parse_ok(
		"# comment\n"
		"name = \"x\"\n"
		"\t\"é\" = 'ü'   # café\n"
		"list = [\n"
		"  1,\n"
		"      true ]\n");
	const struct toml_entry *e;

	e = toml_table_find(t, "name");
	assert_pos(e->key_pos, 2, 1);
	assert_pos(e->value->pos, 2, 8);
	e = toml_table_find(t, "\xc3\xa9");
	assert_pos(e->key_pos, 3, 2);
	assert_pos(e->value->pos, 3, 8);
	e = toml_table_find(t, "list");
	assert_pos(e->value->pos, 4, 8);
	assert_pos(e->value->u.array.items[0]->pos, 5, 3);
	assert_pos(e->value->u.array.items[1]->pos, 6, 7);
	toml_table_free(t);
}

static void test_positions_count_code_points(void **state)
{
	/* "ü" and "😀" are 2 and 4 bytes, but one column each. */
	struct toml_table *t = parse_ok("\"ü😀\" = \"😀ü\"\nb = 1\n");

	assert_pos(t->entries[0].key_pos, 1, 1);
	assert_pos(t->entries[0].value->pos, 1, 8);
	assert_string_value(t->entries[0].value, "😀ü");
	assert_pos(t->entries[1].key_pos, 2, 1);
	toml_table_free(t);
	assert_parse_error("a = \"\xc3\xbc\xf0\x9f\x98\x80\" x\n", 1, 10,
			   "expected a newline after the value");
	assert_parse_error("k = 'ü\x01'\n", 1, 7,
			   "control character U+0001 is not allowed in a string");
}

static void test_tables_and_arrays_of_tables(void **state)
{
	struct toml_table *t = parse_ok(
		"title = 'top'\n"
		"\n"
		"[[target]]\n"
		"name = \"AWS kernel\"\n"
		"kernel = \"./bzImage\"\n"
		"[target.vm]\n"
		"memory = \"4G\"\n"
		"\n"
		"[[target]]\n"
		"name = \"OCI image\"\n"
		"[[target.mounts]]\n"
		"host = '/a'\n"
		"[[target.mounts]]\n"
		"host = '/b'\n");
	const struct toml_value *targets = toml_table_get(t, "target");
	const struct toml_entry *e;

	assert_int_equal(targets->type, TOML_ARRAY);
	assert_true(targets->u.array.table_array);
	assert_int_equal(targets->u.array.len, 2);
	assert_pos(targets->pos, 3, 1);
	e = toml_table_find(t, "target");
	assert_pos(e->key_pos, 3, 3);
	assert_pos(targets->u.array.items[0]->pos, 3, 1);
	assert_pos(targets->u.array.items[1]->pos, 9, 1);
	assert_true(targets->u.array.items[0]->u.table->array_element);
	assert_string_value(get_path(t, "target.0.name"), "AWS kernel");
	assert_string_value(get_path(t, "target.0.vm.memory"), "4G");
	assert_pos(get_path(t, "target.0.vm")->pos, 6, 1);
	assert_string_value(get_path(t, "target.1.name"), "OCI image");
	assert_string_value(get_path(t, "target.1.mounts.1.host"), "/b");
	assert_null(toml_table_get(get_path(t, "target.1")->u.table, "vm"));
	toml_table_free(t);
}

static void test_implicit_and_dotted_tables(void **state)
{
	struct toml_table *t = parse_ok(
		"[a.b.c]\n"
		"x = 1\n"
		"[a]\n"
		"y = 2\n"
		"[fruit]\n"
		"apple.color = 'red'\n"
		"apple.taste.sweet = true\n"
		"[fruit.apple.texture]\n"
		"smooth = true\n");
	const struct toml_value *a = toml_table_get(t, "a");

	assert_true(a->u.table->implicit);
	assert_true(a->u.table->defined);
	assert_pos(a->pos, 3, 1);
	assert_pos(toml_table_find(t, "a")->key_pos, 1, 2);
	assert_integer_value(get_path(t, "a.b.c.x"), 1);
	assert_integer_value(get_path(t, "a.y"), 2);
	assert_true(get_path(t, "fruit.apple")->u.table->dotted);
	assert_true(get_path(t, "fruit.apple.taste.sweet")->u.boolean);
	assert_true(get_path(t, "fruit.apple.texture.smooth")->u.boolean);
	toml_table_free(t);
}

static void test_empty_documents(void **state)
{
	struct toml_table *t = toml_parse(NULL, 0, NULL);

	assert_non_null(t);
	assert_int_equal(t->len, 0);
	toml_table_free(t);
	t = parse_ok("\xef\xbb\xbf# only a comment after a BOM\r\n\n   \n");
	assert_int_equal(t->len, 0);
	toml_table_free(t);
}

static void test_helpers(void **state)
{
	struct toml_table *t = parse_ok("a = 1\n");

	assert_null(toml_table_free(NULL));
	assert_null(toml_value_free(NULL));
	assert_null(toml_table_find(NULL, "a"));
	assert_null(toml_table_get(t, "b"));
	assert_non_null(toml_table_get(t, "a"));
	assert_string_equal(toml_type_name(TOML_STRING), "string");
	assert_string_equal(toml_type_name(TOML_INTEGER), "integer");
	assert_string_equal(toml_type_name(TOML_TABLE), "table");
	assert_null(toml_table_free(t));
}

static void test_error_without_error_struct(void **state)
{
	assert_null(toml_parse("a = \n", 5, NULL));
}

/* --- errors ---------------------------------------------------------------- */

static void test_error_unterminated_string_in_target(void **state)
{
	assert_parse_error("[[target]]\n"
			   "name = \"AWS kernel\"\n"
			   "kernel = \"./bzImage-5.15.0-1022-aws\n"
			   "command = \"x\"\n",
			   3, 10, "unterminated string");
}

static void test_error_unterminated_strings(void **state)
{
	assert_parse_error("a = 'abc\n", 1, 5, "unterminated string");
	assert_parse_error("a = \"\"\"abc\n\n", 1, 5, "unterminated string");
	assert_parse_error("a = '''abc''\n", 1, 5, "unterminated string");
	assert_parse_error("a = \"abc\\", 1, 5, "unterminated string");
}

static void test_error_missing_equals(void **state)
{
	assert_parse_error("name \"x\"\n", 1, 6, "expected '=' after key");
	assert_parse_error("first name = 'x'\n", 1, 7, "expected '=' after key");
}

static void test_error_missing_value(void **state)
{
	assert_parse_error("a = \n", 1, 5, "expected a value");
	assert_parse_error("a = # nothing\n", 1, 5, "expected a value");
	assert_parse_error("a = [1,,2]\n", 1, 8, "expected a value");
}

static void test_error_missing_key(void **state)
{
	assert_parse_error("= 1\n", 1, 1, "expected a key");
	assert_parse_error("a. = 1\n", 1, 4, "expected a key");
	assert_parse_error("[]\n", 1, 2, "expected a key");
}

static void test_error_unquoted_string(void **state)
{
	assert_parse_error("command = /bin/true\n", 1, 11,
			   "invalid value '/bin/true' (strings must be quoted)");
	assert_parse_error("a = yes\n", 1, 5, "invalid value 'yes' (strings must be quoted)");
}

static void test_error_escapes(void **state)
{
	assert_parse_error("a = \"x\\qy\"\n", 1, 7, "invalid escape sequence '\\q'");
	assert_parse_error("a = \"\\x41\"\n", 1, 6, "invalid escape sequence '\\x'");
	assert_parse_error("a = \"\\u12G4\"\n", 1, 6, "expected 4 hex digits after '\\u'");
	assert_parse_error("a = \"\\uD800\"\n", 1, 6,
			   "escape '\\uD800' is not a valid unicode code point");
	assert_parse_error("a = \"\\U00110000\"\n", 1, 6,
			   "escape '\\U00110000' is not a valid unicode code point");
	assert_parse_error("a = \"\"\"x\\ y\"\"\"\n", 1, 9, "invalid escape sequence");
}

static void test_error_integers(void **state)
{
	assert_parse_error("a = 9223372036854775808\n", 1, 5, "integer out of range");
	assert_parse_error("a = -9223372036854775809\n", 1, 5, "integer out of range");
	assert_parse_error("a = 0x8000000000000000\n", 1, 5, "integer out of range");
	assert_parse_error("a = 012\n", 1, 5, "leading zeros are not allowed");
	assert_parse_error("a = 1__2\n", 1, 6, "underscores must be between digits");
	assert_parse_error("a = 12_\n", 1, 7, "underscores must be between digits");
	assert_parse_error("a = +0x10\n", 1, 5, "invalid number '+0x10'");
	assert_parse_error("a = 0XFF\n", 1, 5, "invalid number '0XFF'");
	assert_parse_error("a = 0b102\n", 1, 5, "invalid number '0b102'");
}

static void test_error_floats(void **state)
{
	assert_parse_error("a = 1.\n", 1, 5, "invalid number '1.'");
	assert_parse_error("a = .5\n", 1, 5, "invalid number '.5'");
	assert_parse_error("a = 1e\n", 1, 5, "invalid number '1e'");
	assert_parse_error("a = 01.5\n", 1, 5, "leading zeros are not allowed");
	assert_parse_error("a = 1._5\n", 1, 7, "underscores must be between digits");
	assert_parse_error("a = 1e999\n", 1, 5, "float out of range");
	assert_parse_error("a = Inf\n", 1, 5, "invalid value 'Inf' (strings must be quoted)");
}

static void test_error_datetimes(void **state)
{
	assert_parse_error("a = 2023-02-29\n", 1, 5, "invalid date '2023-02-29'");
	assert_parse_error("a = 2023-13-01\n", 1, 5, "invalid date '2023-13-01'");
	assert_parse_error("a = 1979-05-27T24:00:00\n", 1, 5,
			   "invalid date-time '1979-05-27T24:00:00'");
	assert_parse_error("a = 1979-05-27T23:59:60Z\n", 1, 5,
			   "invalid date-time '1979-05-27T23:59:60Z'");
	assert_parse_error("a = 1979-05-27T07:32:00+24:00\n", 1, 5,
			   "invalid date-time '1979-05-27T07:32:00+24:00'");
	assert_parse_error("a = 07:32\n", 1, 5, "invalid time '07:32'");
	assert_parse_error("a = 07:32:00Z\n", 1, 5, "invalid time '07:32:00Z'");
}

static void test_error_duplicate_keys(void **state)
{
	assert_parse_error("[[target]]\nname = 'a'\nname = 'b'\n", 3, 1, "duplicate key 'name'");
	assert_parse_error("a.b = 1\na.b = 2\n", 2, 3, "duplicate key 'a.b'");
	assert_parse_error("\"x y\" = 1\n'x y' = 2\n", 2, 1, "duplicate key '\"x y\"'");
	assert_parse_error("t = { a = 1, a = 2 }\n", 1, 14, "duplicate key 'a'");
	assert_parse_error("[a.b]\n[a]\nb = 1\n", 3, 1, "duplicate key 'b'");
}

static void test_error_table_redefinitions(void **state)
{
	assert_parse_error("[x]\n[x]\n", 2, 2, "table 'x' defined twice");
	assert_parse_error("[x.y]\n[x]\n[x]\n", 3, 2, "table 'x' defined twice");
	assert_parse_error("[a]\nb.c = 1\n[a.b]\n", 3, 4,
			   "table 'a.b' was already defined by dotted keys");
	assert_parse_error("[a.b.c]\n[a]\nb.c.d = 1\n", 3, 3,
			   "table 'b.c' was defined by a header and cannot be extended with dotted keys");
	assert_parse_error("a = 1\n[a]\n", 2, 2, "key 'a' is already defined as an integer");
	assert_parse_error("a = 1\na.b = 2\n", 2, 1, "key 'a' is already defined as an integer");
	assert_parse_error("[[a]]\n[a]\n", 2, 2,
			   "key 'a' is already defined as an array of tables");
	assert_parse_error("[a]\n[[a]]\n", 2, 3, "key 'a' is already defined as a table");
	assert_parse_error("a = []\n[[a]]\n", 2, 3, "cannot append to static array 'a'");
	assert_parse_error("a = [{}]\n[a.b]\n", 2, 2, "key 'a' is already defined as an array");
	assert_parse_error("a = { b = 1 }\n[a.c]\n", 2, 2, "cannot extend inline table 'a'");
	assert_parse_error("a = { b = 1 }\na.c = 2\n", 2, 1, "cannot extend inline table 'a'");
	assert_parse_error("a = { b = { c = 1 }, b.d = 2 }\n", 1, 22,
			   "cannot extend inline table 'b'");
}

static void test_error_headers(void **state)
{
	assert_parse_error("[a\nb = 1\n", 1, 3, "expected ']' after table name");
	assert_parse_error("[[a]\n", 1, 4, "expected ']]' after array of tables name");
	assert_parse_error("[a] b = 1\n", 1, 5, "expected a newline after the table header");
}

static void test_error_arrays_and_inline_tables(void **state)
{
	assert_parse_error("a = [1 2]\n", 1, 8, "expected ',' or ']' after array element");
	assert_parse_error("a = [1,\n2\n", 1, 5, "unterminated array");
	assert_parse_error("a = { b = 1, }\n", 1, 14,
			   "trailing comma is not allowed in an inline table");
	assert_parse_error("a = { b = 1\n}\n", 1, 12, "inline tables must be on a single line");
	assert_parse_error("a = { b = 1", 1, 5, "unterminated inline table");
	assert_parse_error("a = { b = 1 c = 2 }\n", 1, 13,
			   "expected ',' or '}' after inline table entry");
}

static void test_error_characters(void **state)
{
	assert_parse_error_len("a = 'x\xff'\n", 9, 1, 7, "invalid UTF-8");
	assert_parse_error("# ok\nb = '\xc0\xaf'\n", 2, 6, "invalid UTF-8");
	assert_parse_error("a = '\xed\xa0\x80'\n", 1, 6, "invalid UTF-8");
	assert_parse_error("a = 'x\x7f'\n", 1, 7,
			   "control character U+007F is not allowed in a string");
	assert_parse_error_len("a = \"\0\"\n", 8, 1, 6,
			   "control character U+0000 is not allowed in a string");
	assert_parse_error("# bell \x07\n", 1, 8,
			   "control character U+0007 is not allowed in a comment");
	assert_parse_error("a = 1\rb = 2\n", 1, 6, "expected a line feed after carriage return");
	assert_parse_error("a = '''x\ry'''\n", 1, 9,
			   "control character U+000D is not allowed in a string");
	assert_parse_error("a = 1 b = 2\n", 1, 7, "expected a newline after the value");
}

/* The 129th nested array is one too many. */
#define TOML_TEST_MAX_DEPTH 128

static void test_error_nesting_too_deep(void **state)
{
	char text[256] = "a = ";

	memset(text + 4, '[', 200);
	text[204] = '\0';
	assert_parse_error(text, 1, 5 + TOML_TEST_MAX_DEPTH, "nesting too deep");
}

static void test_error_messages_style(void **state)
{
	/* Every message: lower case, no trailing period, no position inside. */
	static const char *const bad[] = {
		"a = ", "a = 'x", "[a", "a = 1\na = 2", "a = 0xG", "a = {", "a = [",
		"a = \"\\z\"", "= 1", "[[a]]\n[a]", "a = 2000-01-32",
	};
	struct toml_error error;
	size_t i, len;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_null(toml_parse(bad[i], strlen(bad[i]), &error));
		len = strlen(error.msg);
		assert_true(len > 0);
		assert_false(error.msg[0] >= 'A' && error.msg[0] <= 'Z');
		assert_true(error.msg[len - 1] != '.');
		assert_true(error.pos.line >= 1 && error.pos.column >= 1);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic_strings),
		cmocka_unit_test(test_string_with_nul),
		cmocka_unit_test(test_literal_strings),
		cmocka_unit_test(test_multiline_strings),
		cmocka_unit_test(test_integers),
		cmocka_unit_test(test_floats),
		cmocka_unit_test(test_booleans),
		cmocka_unit_test(test_datetimes),
		cmocka_unit_test(test_arrays),
		cmocka_unit_test(test_inline_tables),
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_whitespace_and_comments),
		cmocka_unit_test(test_key_order_kept),
		cmocka_unit_test(test_value_and_key_positions),
		cmocka_unit_test(test_positions_count_code_points),
		cmocka_unit_test(test_tables_and_arrays_of_tables),
		cmocka_unit_test(test_implicit_and_dotted_tables),
		cmocka_unit_test(test_empty_documents),
		cmocka_unit_test(test_helpers),
		cmocka_unit_test(test_error_without_error_struct),
		cmocka_unit_test(test_error_unterminated_string_in_target),
		cmocka_unit_test(test_error_unterminated_strings),
		cmocka_unit_test(test_error_missing_equals),
		cmocka_unit_test(test_error_missing_value),
		cmocka_unit_test(test_error_missing_key),
		cmocka_unit_test(test_error_unquoted_string),
		cmocka_unit_test(test_error_escapes),
		cmocka_unit_test(test_error_integers),
		cmocka_unit_test(test_error_floats),
		cmocka_unit_test(test_error_datetimes),
		cmocka_unit_test(test_error_duplicate_keys),
		cmocka_unit_test(test_error_table_redefinitions),
		cmocka_unit_test(test_error_headers),
		cmocka_unit_test(test_error_arrays_and_inline_tables),
		cmocka_unit_test(test_error_characters),
		cmocka_unit_test(test_error_nesting_too_deep),
		cmocka_unit_test(test_error_messages_style),
	};

	return cmocka_run_group_tests_name("toml", tests, NULL, NULL);
}
