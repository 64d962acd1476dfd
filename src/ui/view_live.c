// SPDX-License-Identifier: MIT
/*
 * view_live: the live area on a terminal.  Each running target is a block
 * redrawn in place every tick: its name, its stage with a spinner and the
 * time, and a rolling window of the stage's last lines, dimmed, sanitized
 * and cut to the terminal's width.
 */
#include <string.h>
#include <sys/ioctl.h>

#include "cleanup.h"
#include "base/clock.h"
#include "ui/sanitize.h"
#include "ui/view_internal.h"

static const char view_spinner[] = "|/-\\";


static void view_live_size(const struct view *v, unsigned *ret_rows, unsigned *ret_cols)
{
	struct winsize ws;

	*ret_rows = 24;
	*ret_cols = 80;
	if (ioctl(v->o.fd, TIOCGWINSZ, &ws) == 0) {
		if (ws.ws_row > 0)
			*ret_rows = ws.ws_row;
		if (ws.ws_col > 0)
			*ret_cols = ws.ws_col;
	}
}
/* --- the live area: the blocks of the running targets ---------------------- */

void view_live_window_push(struct view_target *t, const char *line, size_t len, int which)
{
	unsigned cap = t->view->o.window;
	unsigned slot;

	(void)which;
	if (t->window_count == cap) {
		slot = t->window_head;
		t->window_head = (t->window_head + 1) % cap;
	} else {
		slot = (t->window_head + t->window_count) % cap;
		t->window_count++;
	}
	memcpy(t->window[slot], line, len);
	t->window_len[slot] = len;
}

/*
 * Move back to the live area's first line and clear from there down.
 * Nothing when nothing is drawn: the cursor is then where the command's own
 * output left it (a one-liner writes to the terminal itself), and clearing
 * would wipe a line it has not ended yet, such as a prompt.
 */
void view_live_erase(struct view *v, struct view_text *text)
{
	unsigned rows, cols, up = 0;

	if (!v->n_drawn)
		return;
	view_live_size(v, &rows, &cols);
	/* A terminal that narrowed may have rewrapped the lines drawn. */
	for (unsigned i = 0; i < v->n_drawn; i++)
		up += v->drawn[i] <= cols ? 1 : (v->drawn[i] + cols - 1) / cols;
	if (up)
		view_text_addf(text, "\r\033[%uA", up);
	view_text_add(text, "\r\033[J", 4);
	v->n_drawn = 0;
}

/* One line of a block, cut to the width (prefix_cols of it for prefix). */
static void view_live_draw_line(struct view *v, struct view_text *text, const char *prefix,
				unsigned prefix_cols, const char *line, size_t len, const char *after_sgr)
{
	struct sanitize_options so = { .keep_sgr = v->o.color, .after_sgr = after_sgr };
	_cleanup_free_ char *clean = NULL;
	unsigned rows, cols, used = 0;

	view_live_size(v, &rows, &cols);
	/* One column spare: a line that fills the width makes some terminals wrap. */
	so.width = cols > prefix_cols + 1 ? cols - prefix_cols - 1 : 1;
	clean = sanitize_line(line, len, &so, &used);
	view_text_add(text, prefix, strlen(prefix));
	view_text_add(text, clean ? clean : "", clean ? strlen(clean) : 0);
	view_text_addf(text, "%s\n", view_text_sgr(v, SGR_RESET));
	if (v->n_drawn < VIEW_MAX_DRAWN)
		v->drawn[v->n_drawn++] = used + prefix_cols;
}

static void view_live_draw_block(struct view *v, struct view_target *t, struct view_text *text,
				 unsigned window)
{
	char head[128], elapsed[32];
	unsigned shown, first, pending = t->window_tail.len ? 1 : 0;
	int64_t since = t->rec.stage_start_ms;
	enum record_stage stage = t->rec.stage;

	snprintf(head, sizeof(head), "%s=> ", view_text_sgr(v, SGR_BOLD));
	view_live_draw_line(v, text, head, 3, t->name, strlen(t->name), NULL);
	if (stage == RECORD_STAGE_NONE) {
		view_live_draw_line(v, text, "", 0, "===> Preparing", 14, NULL);
		return;
	}
	view_text_duration(clock_now_ms() - since, elapsed, sizeof(elapsed));
	snprintf(head, sizeof(head), "===> %s %c %s%s%s", record_stage_name(stage),
		 view_spinner[v->spin % 4], elapsed,
		 stage == RECORD_STAGE_COMMAND && t->rec.tests_progress ? " | " : "",
		 stage == RECORD_STAGE_COMMAND && t->rec.tests_progress ? t->rec.tests_progress : "");
	view_live_draw_line(v, text, "", 0, head, strlen(head), NULL);
	/* The window: the last lines and the one being written, dimmed. */
	shown = t->window_count + pending;
	if (shown > window)
		shown = window;
	first = t->window_count + pending - shown;
	for (unsigned i = first; i < t->window_count; i++) {
		unsigned slot = (t->window_head + i) % v->o.window;

		view_live_draw_line(v, text, view_text_sgr(v, SGR_DIM), 0, t->window[slot],
			       t->window_len[slot], view_text_sgr(v, SGR_DIM));
	}
	if (shown && pending)
		view_live_draw_line(v, text, view_text_sgr(v, SGR_DIM), 0, t->window_tail.part,
			       t->window_tail.len, view_text_sgr(v, SGR_DIM));
}

/* Redraw every running target's block; they share the terminal's height. */
void view_live_redraw(struct view *v)
{
	struct view_text text = { 0 };
	unsigned rows, cols, window, n = 0;

	if (!v->o.live)
		return;
	for (size_t i = 0; i < v->n_active; i++)
		n += !v->active[i]->direct;
	view_live_erase(v, &text);
	if (n) {
		view_live_size(v, &rows, &cols);
		window = rows > 1 + 2 * n ? (rows - 1) / n - 2 : 0;
		if (window > v->o.window)
			window = v->o.window;
		if (!v->cursor_hidden) {
			view_text_add(&text, CURSOR_HIDE, strlen(CURSOR_HIDE));
			v->cursor_hidden = true;
		}
		v->spin++;
		for (size_t i = 0; i < v->n_active; i++)
			if (!v->active[i]->direct)
				view_live_draw_block(v, v->active[i], &text, window);
	}
	view_text_flush(&text, v->o.fd);
}

/* The live view's ending: the block collapsed, or the failing stage whole. */
void view_live_end(struct view_target *t, struct view_text *text)
{
	struct view *v = t->view;
	const struct view_record *r = &t->rec;
	char took[32];

	view_text_duration(r->total_ms, took, sizeof(took));
	if (!t->direct)
		view_text_addf(text, "%s=> %s%s\n", view_text_sgr(v, SGR_BOLD), t->name,
			       view_text_sgr(v, SGR_RESET));
	if (r->outcome == RECORD_PASSED) {
		/* Collapsed: the count of its tests stays on the verdict's line. */
		view_text_addf(text, "%sPASS%s (%s%s%s%s)\n", view_text_sgr(v, SGR_BOLD SGR_GREEN),
			       view_text_sgr(v, SGR_RESET), took, r->tests ? ", " : "",
			       r->tests ? r->tests : "", r->flaky ? ", flaky" : "");
		return;
	}
	/* The command's output, or the console for a VM that could not run it. */
	if (r->outcome == RECORD_ERROR || r->stage != RECORD_STAGE_COMMAND) {
		if (t->direct)
			view_text_add(text, "--- guest console ---\n", 22);
		else if (r->stage != RECORD_STAGE_NONE)
			view_text_addf(text, "===> %s\n", record_stage_name(r->stage));
		view_text_spool(v, text, r->console_fd, VIEW_FAILED_CONSOLE_MAX, true);
	} else if (!t->direct) {
		view_text_addf(text, "===> %s\n", record_stage_name(r->stage));
		view_text_spool(v, text, r->output_fd, (size_t)-1 / 2, true);
	}
	view_text_tests(t, text);
	if (view_text_reason(t))
		view_text_addf(text, "%s\n", view_text_reason(t));
	view_text_addf(text, "%sFAILED%s (%s)\n", view_text_sgr(v, SGR_BOLD SGR_RED),
		       view_text_sgr(v, SGR_RESET), took);
}

