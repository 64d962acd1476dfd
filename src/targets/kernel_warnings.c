// SPDX-License-Identifier: MIT
#include "targets/kernel_warnings.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <errno.h>
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"

/* A report's first record, as the kernel words it (6.1). */
static const char kernel_warnings_start[] =
	"^(?:WARNING: |BUG: |kernel BUG at |Oops|general protection fault|KASAN: |UBSAN: |"
	"KFENCE: |INFO: rcu_\\w+ (?:self-)?detected stalls?|INFO: task .* blocked for more than |"
	"unreferenced object |Kernel panic - not syncing)";

/* A WARN's message is between its "[ cut here ]" and its report: a few records. */
#define KERNEL_WARNINGS_CUT_RECORDS 8

/* A splat with no end marker ends after this many records. */
#define KERNEL_WARNINGS_MAX_RECORDS 80

/* One record: its facility and its text (a view into the log). */
struct kmsg_record {
	int facility;
	const char *text;
	size_t len;
};

/*
 * The next record from *pos: "PRIO,SEQ,USEC,FLAGS;TEXT\n", its dictionary
 * lines (" KEY=VALUE\n") skipped.  0 at the end; -1 for a line that is no
 * record (vmtest's own "vmtest;..." notes, or a torn last line).
 */
static int kmsg_next(const char **pos, const char *end, struct kmsg_record *ret)
{
	const char *line = *pos, *nl, *semi;
	long prio = 0;
	const char *p = line;

	if (line >= end)
		return 0;
	nl = memchr(line, '\n', (size_t)(end - line));
	if (!nl)
		nl = end;
	*pos = nl < end ? nl + 1 : end;
	while (*pos < end && **pos == ' ') {
		const char *more = memchr(*pos, '\n', (size_t)(end - *pos));

		*pos = more ? more + 1 : end;
	}
	if (line[0] == 'v' && (size_t)(nl - line) >= 7 && memcmp(line, "vmtest;", 7) == 0) {
		ret->facility = -1;
		ret->text = line + 7;
		ret->len = (size_t)(nl - line - 7);
		return 1;
	}
	while (p < nl && *p >= '0' && *p <= '9' && prio < 100000)
		prio = prio * 10 + (*p++ - '0');
	semi = memchr(line, ';', (size_t)(nl - line));
	if (p == line || p >= nl || *p != ',' || !semi)
		return -1;
	ret->facility = (int)(prio >> 3);
	ret->text = semi + 1;
	ret->len = (size_t)(nl - semi - 1);
	return 1;
}

static bool kernel_warnings_match(pcre2_code *re, pcre2_match_data *md, const char *s, size_t len)
{
	return pcre2_match(re, (PCRE2_SPTR)s, len, 0, 0, md, NULL) >= 0;
}

static void kernel_warnings_free_codes(pcre2_code **codes)
{
	for (size_t i = 0; codes && codes[i]; i++)
		pcre2_code_free(codes[i]);
	free(codes);
}

/* Append a record's text and a newline. */
static int kernel_warnings_append(char **buf, size_t *len, const char *s, size_t n)
{
	char *more = realloc(*buf, *len + n + 2);

	if (!more)
		return -ENOMEM;
	memcpy(more + *len, s, n);
	*len += n;
	more[(*len)++] = '\n';
	more[*len] = '\0';
	*buf = more;
	return 0;
}

int kernel_warnings_find(const char *log, size_t len, char *const *allowed,
			 struct kernel_warnings *ret)
{
	const char *pos = log, *end = log + len;
	pcre2_code *start = NULL, **allow = NULL;
	pcre2_match_data *md = NULL;
	size_t n_allowed = 0;
	struct kmsg_record rec;
	int errcode, r = 0;
	PCRE2_SIZE erroff;

	*ret = (struct kernel_warnings){ 0 };
	while (allowed && allowed[n_allowed])
		n_allowed++;
	allow = calloc(n_allowed + 1, sizeof(*allow));
	start = pcre2_compile((PCRE2_SPTR)kernel_warnings_start, PCRE2_ZERO_TERMINATED, 0,
			      &errcode, &erroff, NULL);
	/* Whether a pattern matches, not where: one pair serves every pattern. */
	md = pcre2_match_data_create(1, NULL);
	if (!allow || !start || !md)
		r = -ENOMEM;
	for (size_t i = 0; r >= 0 && i < n_allowed; i++) {
		allow[i] = pcre2_compile((PCRE2_SPTR)allowed[i], PCRE2_ZERO_TERMINATED,
					 PCRE2_MULTILINE, &errcode, &erroff, NULL);
		if (!allow[i])
			r = -EINVAL;
	}
	/* The kernel's records since the last "[ cut here ]", if only a few. */
	const char *cut = NULL;
	size_t since_cut = 0;

	while (r >= 0) {
		const char *at = pos;
		int k = kmsg_next(&pos, end, &rec);
		_cleanup_free_ char *title = NULL;
		char *text = NULL;
		size_t text_len = 0, records = 0;
		bool keep = true;

		if (k == 0)
			break;
		if (k < 0)
			continue;
		if (rec.facility < 0) {
			ret->records_lost = true;
			continue;
		}
		if (rec.facility != 0)
			continue;
		if (memmem(rec.text, rec.len, "[ cut here ]", 12)) {
			cut = at;
			since_cut = 0;
			continue;
		}
		if (!kernel_warnings_match(start, md, rec.text, rec.len)) {
			if (++since_cut > KERNEL_WARNINGS_CUT_RECORDS)
				cut = NULL;
			continue;
		}
		title = strndup(rec.text, rec.len);
		if (!title) {
			r = -ENOMEM;
			break;
		}
		/* The splat: from its cut (the WARN's message), or this record, to
		 * its end marker, the next report, or the bound. */
		for (const char *p = cut; r >= 0 && p && p < at;) {
			struct kmsg_record before;

			if (kmsg_next(&p, at, &before) > 0 && before.facility == 0)
				r = kernel_warnings_append(&text, &text_len, before.text, before.len);
		}
		cut = NULL;
		if (r >= 0)
			r = kernel_warnings_append(&text, &text_len, rec.text, rec.len);
		while (r >= 0 && ++records < KERNEL_WARNINGS_MAX_RECORDS) {
			const char *before = pos;
			struct kmsg_record next;

			k = kmsg_next(&pos, end, &next);
			if (k == 0)
				break;
			if (k > 0 && next.facility < 0)
				ret->records_lost = true;
			if (k < 0 || next.facility != 0)
				continue;
			/* The next report, or the cut that opens it. */
			if (kernel_warnings_match(start, md, next.text, next.len) ||
			    memmem(next.text, next.len, "[ cut here ]", 12)) {
				pos = before;
				break;
			}
			r = kernel_warnings_append(&text, &text_len, next.text, next.len);
			if (memmem(next.text, next.len, "---[ end trace", 14))
				break;
		}
		for (size_t i = 0; r >= 0 && i < n_allowed && keep; i++)
			if (kernel_warnings_match(allow[i], md, text, text_len))
				keep = false;
		if (r >= 0 && keep) {
			struct kernel_warning *more = realloc(ret->items,
							      (ret->n + 1) * sizeof(*more));

			if (more) {
				ret->items = more;
				ret->items[ret->n].title = TAKE_PTR(title);
				ret->items[ret->n++].text = TAKE_PTR(text);
			} else {
				r = -ENOMEM;
			}
		} else if (r >= 0) {
			ret->allowed++;
		}
		free(text);
	}
	pcre2_match_data_free(md);
	pcre2_code_free(start);
	kernel_warnings_free_codes(allow);
	if (r < 0)
		kernel_warnings_clear(ret);
	return r;
}

void kernel_warnings_clear(struct kernel_warnings *w)
{
	for (size_t i = 0; i < w->n; i++) {
		free(w->items[i].title);
		free(w->items[i].text);
	}
	free(w->items);
	*w = (struct kernel_warnings){ 0 };
}
