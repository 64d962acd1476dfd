// SPDX-License-Identifier: MIT
/*
 * view_log: --log FILE, everything with the time of each line: vmtest's
 * steps at every -v level, every console and output line, the verdicts.
 */
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "io.h"
#include "base/clock.h"
#include "base/host_file.h"
#include "ui/sanitize.h"
#include "ui/view_internal.h"
#include "vm/interrupt.h"

/*
 * --log: a new file made in the directory the user named, opened before
 * any guest runs (host_file.h), so a link or FIFO a guest left at its name
 * is replaced, never followed.
 */
int view_log_open(const char *path, int *ret_fd, struct error *err)
{
	struct host_dir *dir = NULL;
	_cleanup_free_ char *name = NULL;
	int r;

	r = host_file_open_parent(path, &dir, &name, err);
	if (r >= 0)
		r = host_dir_create(dir, name, ret_fd, err);
	host_dir_free(dir);
	return r < 0 ? error_prefix(err, "--log %s", path) : 0;
}

/* A write to the log that fails (a full disk) stops the run: a log the
 * user asked for must not be silently cut short. */
static void view_log_put(struct view *v, const char *text, size_t len)
{
	int r;

	if (v->log_fd < 0)
		return;
	r = io_write_all(v->log_fd, text, len);
	if (r < 0) {
		interrupt_fail("cannot write --log %s: %s", v->o.log_path, strerror(-r));
		close(v->log_fd);
		v->log_fd = -1;
	}
}

void view_log_printf(struct view *v, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

void view_log_printf(struct view *v, const char *fmt, ...)
{
	struct view_text text = { 0 };
	va_list ap;

	va_start(ap, fmt);
	view_text_vaddf(&text, fmt, ap);
	va_end(ap);
	view_log_put(v, text.p, text.len);
	free(text.p);
}

void view_log_write(struct view *v, struct view_target *t, const char *what,
		    const char *line, size_t len)
{
	struct sanitize_options so = { 0 };
	_cleanup_free_ char *clean = NULL;

	if (v->log_fd < 0)
		return;
	clean = sanitize_line(line, len, &so, NULL);
	view_log_printf(v, "[%9.3f] %s%s%s: %s\n", (double)(clock_now_ms() - v->run_start) / 1000,
			t ? t->name : "vmtest", what ? " " : "", what ? what : "",
			clean ? clean : "");
}

void view_log_spool_line(struct view_target *t, const char *line, size_t len, int which)
{
	view_log_write(t->view, t, which == 0 ? "console" : "output", line, len);
}
