// SPDX-License-Identifier: MIT
/*
 * view_plain: vmtest's plain format, for CI logs and pipes: each line
 * once, no escape sequences; with several targets at once, each block
 * whole when it ends, or with --prefix every line as it comes.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ui/view_internal.h"

/* Plain, one target at a time or with --prefix: a line of vmtest's block. */
void view_plain_line(struct view_target *t, const char *line)
{
	struct view *v = t->view;
	struct view_text text = { 0 };

	if (v->o.live || v->o.whole_blocks)
		return;
	if (v->o.prefix)
		view_text_addf(&text, "[%s] ", t->name);
	view_text_addf(&text, "%s\n", line);
	view_text_flush(&text, v->o.fd);
}


static bool view_plain_spool_empty(int fd)
{
	return fd < 0 || lseek(fd, 0, SEEK_END) <= 0;
}


/* The plain format's ending: console on error, reason, verdict. */
void view_plain_end(struct view_target *t, struct view_text *text)
{
	struct view *v = t->view;
	const struct view_record *r = &t->rec;

	if (v->o.whole_blocks) {
		/* The block whole: the stages it reached, then its output. */
		view_text_addf(text, "=> %s\n", t->name);
		for (int s = RECORD_STAGE_BOOTING; s <= (int)r->stage; s++)
			view_text_addf(text, "===> %s\n", record_stage_name(s));
		view_text_spool(v, text, r->output_fd, (size_t)-1 / 2, false);
	}
	if (r->outcome == RECORD_ERROR && !view_plain_spool_empty(r->console_fd)) {
		view_text_add(text, "--- guest console (last lines) ---\n", 35);
		view_text_spool(v, text, r->console_fd, VIEW_PLAIN_CONSOLE_MAX, false);
		view_text_add(text, "---\n", 4);
	}
	view_text_tests(t, text);
	if (view_text_reason(t))
		view_text_addf(text, "%s\n", view_text_reason(t));
	view_text_add(text, r->outcome == RECORD_PASSED ? "PASS\n" : "FAILED\n",
		      r->outcome == RECORD_PASSED ? 5 : 7);
}

/* --prefix: "[name] line", as it comes. */
void view_plain_prefix_line(struct view_target *t, const char *line, size_t len, int which)
{
	struct view_text text = { 0 };

	(void)which;
	view_text_addf(&text, "[%s] ", t->name);
	view_text_add(&text, line, len);
	view_text_add(&text, "\n", 1);
	view_text_flush(&text, t->view->o.fd);
}

/* --prefix: every line of the ending with the name too. */
void view_plain_prefix_end(struct view_target *t)
{
	struct view_text text = { 0 };

	view_text_tail_finish(&t->prefix_tail, view_plain_prefix_line, t, 1);
	view_plain_end(t, &text);
	for (char *line = text.p, *nl; line && *line; line = nl + 1) {
		nl = strchr(line, '\n');
		*nl = '\0';
		view_plain_prefix_line(t, line, strlen(line), 1);
	}
	free(text.p);
}
