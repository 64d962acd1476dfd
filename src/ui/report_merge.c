// SPDX-License-Identifier: MIT
#include "ui/report_merge.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "io.h"
#include "base/host_file.h"
#include "ui/report.h"
#include "vm/json_io.h"

/* A report, mapped. */
struct merge_input {
	const char *path;
	const char *text;
	size_t len;
};

/* A target's JUnit block (its comment included), in one of the inputs. */
struct merge_block {
	size_t position, order;
	const char *text;
	size_t len;
	struct report_junit_mark mark;
};

struct merge {
	const struct report_merge_options *o;
	struct merge_input *inputs;
	/* JUnit */
	struct merge_block *blocks;
	size_t n_blocks, cap_blocks;
	char *suite_name, *timestamp;	/* the first report's, as written (escaped) */
	double junit_time;
	size_t junit_inputs;
	/* JSON */
	struct json_value *targets;	/* every shard's, in the config's order once sorted */
	double json_time;
	size_t json_inputs;
	/* Shards: "K/N" said by the JSON reports, for each filter (-f) they
	 * said: a matrix of kernels x shards shards each kernel's targets. */
	struct merge_matrix *matrices;
	size_t n_matrices;
	bool failed;
};

struct merge_matrix {
	char *filter;			/* NULL: none */
	unsigned n;
	unsigned char *seen;		/* [1..n] */
};

static void merge_clear(struct merge *m)
{
	for (size_t i = 0; m->inputs && i < m->o->n_inputs; i++)
		if (m->inputs[i].text)
			munmap((void *)m->inputs[i].text, m->inputs[i].len ? m->inputs[i].len : 1);
	free(m->inputs);
	free(m->blocks);
	free(m->suite_name);
	free(m->timestamp);
	json_io_unref(m->targets);
	for (size_t i = 0; i < m->n_matrices; i++) {
		free(m->matrices[i].filter);
		free(m->matrices[i].seen);
	}
	free(m->matrices);
}

static int merge_map(struct merge_input *in, struct error *err)
{
	_cleanup_close_ int fd = open(in->path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	void *p;

	if (fd < 0 || fstat(fd, &st) < 0)
		return error_usage(err, "--merge %s: %s", in->path, strerror(errno));
	if (!S_ISREG(st.st_mode) || st.st_size == 0)
		return error_usage(err, "--merge %s: not a vmtest report (%s)", in->path,
				   S_ISREG(st.st_mode) ? "empty" : "not a regular file");
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED)
		return error_usage(err, "--merge %s: %s", in->path, strerror(errno));
	in->text = p;
	in->len = (size_t)st.st_size;
	return 0;
}

/* --- JUnit ----------------------------------------------------------------- */

/* The value of attribute name in the line at p (escaped as written); NULL: none. */
static char *merge_attr(const char *p, const char *end, const char *name)
{
	char key[64];
	const char *at, *close;
	size_t n = (size_t)snprintf(key, sizeof(key), " %s=\"", name);

	at = memmem(p, (size_t)(end - p), key, n);
	if (!at)
		return NULL;
	at += n;
	close = memchr(at, '"', (size_t)(end - at));
	return close ? strndup(at, (size_t)(close - at)) : NULL;
}

static int merge_add_block(struct merge *m, const struct merge_block *b)
{
	if (m->n_blocks == m->cap_blocks) {
		size_t cap = m->cap_blocks ? m->cap_blocks * 2 : 64;
		struct merge_block *grown = realloc(m->blocks, cap * sizeof(*grown));

		if (!grown)
			return -ENOMEM;
		m->blocks = grown;
		m->cap_blocks = cap;
	}
	m->blocks[m->n_blocks++] = *b;
	return 0;
}

static int merge_junit(struct merge *m, const struct merge_input *in, struct error *err)
{
	const char *end = in->text + in->len, *line = memmem(in->text, in->len, "\n  <testsuite ", 14);
	const char *line_end = line ? memchr(line + 1, '\n', (size_t)(end - line - 1)) : NULL;
	char *time_s;
	const char *p;

	if (!line_end)
		return error_usage(err, "--merge %s: not a vmtest JUnit report (no <testsuite>)",
				   in->path);
	if (!m->suite_name) {
		m->suite_name = merge_attr(line, line_end, "name");
		m->timestamp = merge_attr(line, line_end, "timestamp");
	}
	time_s = merge_attr(line, line_end, "time");
	if (time_s && strtod(time_s, NULL) > m->junit_time)
		m->junit_time = strtod(time_s, NULL);
	free(time_s);
	for (p = line_end + 1; p < end;) {
		struct merge_block b = { .order = m->n_blocks, .text = p };

		if ((size_t)(end - p) >= 14 && memcmp(p, "  </testsuite>", 14) == 0)
			break;
		if (report_junit_parse_mark(p, (size_t)(end - p), &b.mark) < 0 ||
		    b.mark.len > (size_t)(end - p) - REPORT_MARK_LEN)
			return error_usage(err, "--merge %s: not a vmtest JUnit report, or cut short "
					   "(at byte %zu)", in->path, (size_t)(p - in->text));
		b.position = b.mark.position;
		b.len = REPORT_MARK_LEN + b.mark.len;
		m->failed |= b.mark.failures > 0;
		if (merge_add_block(m, &b) < 0)
			return error_set(err, ENOMEM, "out of memory");
		p += b.len;
	}
	if (p >= end)
		return error_usage(err, "--merge %s: a vmtest JUnit report cut short", in->path);
	m->junit_inputs++;
	return 0;
}

static int merge_block_cmp(const void *a, const void *b)
{
	const struct merge_block *x = a, *y = b;

	if (x->position != y->position)
		return x->position < y->position ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

static int merge_fill_junit(int fd, void *arg, struct error *err)
{
	struct merge *m = arg;
	size_t tests = 0, failures = 0, skipped = 0;
	_cleanup_free_ char *head = NULL;
	int r;

	for (size_t i = 0; i < m->n_blocks; i++) {
		tests += m->blocks[i].mark.tests;
		failures += m->blocks[i].mark.failures;
		skipped += m->blocks[i].mark.skipped;
	}
	if (asprintf(&head,
		     "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		     "<testsuites name=\"%s\" tests=\"%zu\" failures=\"%zu\" errors=\"0\" time=\"%.3f\">\n"
		     "  <testsuite name=\"%s\" tests=\"%zu\" failures=\"%zu\" errors=\"0\" skipped=\"%zu\" "
		     "time=\"%.3f\" timestamp=\"%s\">\n",
		     m->suite_name ? m->suite_name : "vmtest", tests, failures, m->junit_time,
		     m->suite_name ? m->suite_name : "vmtest", tests, failures, skipped, m->junit_time,
		     m->timestamp ? m->timestamp : "") < 0)
		return error_set(err, ENOMEM, "out of memory");
	r = io_write_all(fd, head, strlen(head));
	for (size_t i = 0; r >= 0 && i < m->n_blocks; i++)
		r = io_write_all(fd, m->blocks[i].text, m->blocks[i].len);
	if (r >= 0)
		r = io_write_all(fd, "  </testsuite>\n</testsuites>\n", 29);
	if (r >= 0 && fsync(fd) < 0)
		r = -errno;
	return r < 0 ? error_set_errno(err, -r, "write") : 0;
}

/* --- JSON ------------------------------------------------------------------ */

static bool merge_same_filter(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* The matrix of shards of this filter, made when new (n shards); NULL: no memory. */
static struct merge_matrix *merge_matrix(struct merge *m, const char *filter, unsigned n)
{
	struct merge_matrix *grown, *x;

	for (size_t i = 0; i < m->n_matrices; i++)
		if (merge_same_filter(m->matrices[i].filter, filter))
			return &m->matrices[i];
	grown = realloc(m->matrices, (m->n_matrices + 1) * sizeof(*grown));
	if (!grown)
		return NULL;
	m->matrices = grown;
	x = &m->matrices[m->n_matrices];
	*x = (struct merge_matrix){ .n = n, .filter = filter ? strdup(filter) : NULL,
				    .seen = calloc(n + 1, 1) };
	if (!x->seen || (filter && !x->filter)) {
		free(x->filter);
		free(x->seen);
		return NULL;
	}
	m->n_matrices++;
	return x;
}

/* "K/N" of a shard's report (of the targets -f selected), checked off. */
static int merge_shard(struct merge *m, const char *path, const char *shard, const char *filter,
		       struct error *err)
{
	struct merge_matrix *x;
	unsigned k, n;
	char extra;

	if (sscanf(shard, "%u/%u%c", &k, &n, &extra) != 2 || k < 1 || k > n || n > 100000)
		return error_usage(err, "--merge %s: \"shard\": \"%s\" is not K/N", path, shard);
	x = merge_matrix(m, filter, n);
	if (!x)
		return error_set(err, ENOMEM, "out of memory");
	if (n != x->n)
		return error_usage(err, "--merge %s: shard %s is of a matrix of %u, the others of %u",
				   path, shard, n, x->n);
	if (x->seen[k])
		return error_usage(err, "--merge %s: shard %s%s%s has another report here", path,
				   shard, filter ? " of -f " : "", filter ? filter : "");
	x->seen[k] = 1;
	return 0;
}

static int merge_json(struct merge *m, const struct merge_input *in, struct error *err)
{
	_cleanup_json_ struct json_value *doc = json_io_parse_text(in->text, in->len);
	struct json_value *targets = doc ? json_io_get(doc, "targets") : NULL;
	const char *shard = doc ? json_io_get_string(doc, "shard") : NULL;
	const char *filter = doc ? json_io_get_string(doc, "filter") : NULL;
	double time;
	int r;

	if (!targets || !json_io_is_object(doc))
		return error_usage(err, "--merge %s: not a vmtest JSON report (no \"targets\")",
				   in->path);
	if (shard && (r = merge_shard(m, in->path, shard, filter, err)) < 0)
		return r;
	if (json_io_get_real(doc, "time", &time) && time > m->json_time)
		m->json_time = time;
	for (size_t i = 0; i < json_io_array_len(targets); i++) {
		struct json_value *t = json_io_array_get(targets, i);
		const char *status = json_io_get_string(t, "status");

		if (!json_io_is_object(t) || !status)
			return error_usage(err, "--merge %s: target %zu has no \"status\"", in->path, i);
		m->failed |= strcmp(status, "passed") != 0 && strcmp(status, "flaky") != 0;
		if (json_io_append(m->targets, json_io_ref(t)) < 0)
			return error_set(err, ENOMEM, "out of memory");
	}
	m->json_inputs++;
	return 0;
}

static int64_t merge_position(const struct json_value *t)
{
	int64_t p;

	return json_io_get_int(t, "position", &p) ? p : INT64_MAX;
}

/* The targets by position, stably (an insertion sort: a matrix has few). */
static struct json_value *merge_sorted(const struct json_value *targets)
{
	size_t n = json_io_array_len(targets);
	_cleanup_free_ size_t *order = calloc(n ? n : 1, sizeof(*order));
	struct json_value *out = json_io_new_array();

	if (!order || !out)
		return json_io_unref(out);
	for (size_t i = 0; i < n; i++) {
		size_t j = i;
		int64_t p = merge_position(json_io_array_get(targets, i));

		while (j && merge_position(json_io_array_get(targets, order[j - 1])) > p) {
			order[j] = order[j - 1];
			j--;
		}
		order[j] = i;
	}
	for (size_t i = 0; i < n; i++)
		if (json_io_append(out, json_io_ref(json_io_array_get(targets, order[i]))) < 0)
			return json_io_unref(out);
	return out;
}

static char *merge_json_text(const struct merge *m)
{
	_cleanup_json_ struct json_value *doc = json_io_new_object();
	struct json_value *sorted = merge_sorted(m->targets);
	size_t passed = 0, failed = 0, flaky = 0;
	int r = doc && sorted ? 0 : -ENOMEM;

	for (size_t i = 0; r >= 0 && i < json_io_array_len(sorted); i++) {
		const char *status = json_io_get_string(json_io_array_get(sorted, i), "status");

		passed += strcmp(status, "passed") == 0;
		flaky += strcmp(status, "flaky") == 0;
		failed += strcmp(status, "passed") != 0 && strcmp(status, "flaky") != 0;
	}
	if (r >= 0)
		r = report_json_counts(doc, passed, failed, flaky);
	if (r >= 0)
		r = json_io_set(doc, "shard", json_io_new_null());
	if (r >= 0)
		r = json_io_set_int(doc, "merged_reports", (int64_t)m->json_inputs);
	if (r >= 0)
		r = json_io_set_real(doc, "time", m->json_time);
	if (r >= 0) {
		r = json_io_set(doc, "targets", sorted);
		sorted = NULL;
	}
	json_io_unref(sorted);
	return r >= 0 ? json_io_dump_pretty(doc) : NULL;
}

/* --- the merge ------------------------------------------------------------- */

static int merge_write(struct merge *m, struct error *err)
{
	struct host_dir *dir = NULL;
	_cleanup_free_ char *name = NULL, *text = NULL;
	int r = 0;

	if (m->o->junit_path) {
		qsort(m->blocks, m->n_blocks, sizeof(*m->blocks), merge_block_cmp);
		r = host_file_open_parent(m->o->junit_path, &dir, &name, err);
		if (r >= 0)
			r = host_dir_write(dir, name, merge_fill_junit, m, err);
		host_dir_free(dir);
		dir = NULL;
		free(TAKE_PTR(name));
		if (r < 0)
			return error_prefix(err, "--junit %s", m->o->junit_path);
	}
	if (m->o->json_path) {
		text = merge_json_text(m);
		if (!text)
			return error_set(err, ENOMEM, "out of memory");
		r = host_file_open_parent(m->o->json_path, &dir, &name, err);
		if (r >= 0)
			r = host_dir_write_text(dir, name, text, err);
		host_dir_free(dir);
		if (r < 0)
			return error_prefix(err, "--json %s", m->o->json_path);
	}
	return 0;
}

/* Every shard of the matrix has a report: said on stderr when not. */
static bool merge_complete(const struct merge *m)
{
	bool complete = true;

	for (size_t i = 0; i < m->n_matrices; i++) {
		const struct merge_matrix *x = &m->matrices[i];

		for (unsigned k = 1; k <= x->n; k++)
			if (!x->seen[k]) {
				fprintf(stderr, "vmtest: --merge: no JSON report of shard %u/%u%s%s\n",
					k, x->n, x->filter ? " of -f " : "",
					x->filter ? x->filter : "");
				complete = false;
			}
	}
	return complete;
}

int report_merge(const struct report_merge_options *o, int *ret_status, struct error *err)
{
	struct merge m = { .o = o };
	int r = 0;

	m.inputs = calloc(o->n_inputs, sizeof(*m.inputs));
	m.targets = json_io_new_array();
	if (!m.inputs || !m.targets) {
		merge_clear(&m);
		return error_set(err, ENOMEM, "out of memory");
	}
	for (size_t i = 0; r >= 0 && i < o->n_inputs; i++) {
		struct merge_input *in = &m.inputs[i];
		size_t at = 0;

		in->path = o->inputs[i];
		r = merge_map(in, err);
		while (r >= 0 && at < in->len && strchr(" \t\r\n", in->text[at]))
			at++;
		if (r >= 0 && at < in->len && in->text[at] == '{')
			r = merge_json(&m, in, err);
		else if (r >= 0 && at < in->len && in->text[at] == '<')
			r = merge_junit(&m, in, err);
		else if (r >= 0)
			r = error_usage(err, "--merge %s: not a vmtest JSON or JUnit report", in->path);
	}
	if (r >= 0 && o->junit_path && !m.junit_inputs)
		r = error_usage(err, "--merge: --junit %s needs the shards' JUnit reports among the "
				"inputs", o->junit_path);
	if (r >= 0 && o->json_path && !m.json_inputs)
		r = error_usage(err, "--merge: --json %s needs the shards' JSON reports among the "
				"inputs", o->json_path);
	if (r >= 0)
		r = merge_write(&m, err);
	if (r >= 0)
		*ret_status = !merge_complete(&m) || m.failed ? EXIT_STATUS_FAILED : EXIT_STATUS_OK;
	merge_clear(&m);
	return r;
}
