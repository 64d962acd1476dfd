// SPDX-License-Identifier: MIT
#include "targets/record.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/host_file.h"

static const char *const record_stage_names[] = {
	[RECORD_STAGE_NONE] = "",
	[RECORD_STAGE_BOOTING] = "Booting",
	[RECORD_STAGE_SETUP] = "Setting up VM",
	[RECORD_STAGE_COMMAND] = "Running command",
};

const char *record_stage_name(enum record_stage stage)
{
	return stage < RECORD_N_STAGES ? record_stage_names[stage] : "";
}

/* An unlinked file, for us alone: in the runtime directory, else /tmp. */
static int record_spool_open(void)
{
	const char *dir = getenv("XDG_RUNTIME_DIR");
	int fd = dir && *dir ? host_unlinked_file(dir) : -1;

	return fd >= 0 ? fd : host_unlinked_file("/tmp");
}

int record_new(size_t index, const char *name, const struct record_observer *observer,
	       bool spools, struct record **ret, struct error *err)
{
	struct record *r = calloc(1, sizeof(*r));

	if (!r)
		return error_set(err, ENOMEM, "out of memory");
	*r = (struct record){ .index = index, .console_fd = -1, .output_fd = -1, .vmcore_fd = -1,
			      .outcome = RECORD_RUNNING };
	r->name = strdup(name);
	if (!r->name) {
		record_free(r);
		return error_set(err, ENOMEM, "out of memory");
	}
	if (spools) {
		r->console_fd = record_spool_open();
		r->output_fd = record_spool_open();
	}
	if (spools && (r->console_fd < 0 || r->output_fd < 0)) {
		int e = errno;

		record_free(r);
		return error_set_errno(err, e, "create the spool files");
	}
	r->start_ms = r->stage_start_ms = clock_now_ms();
	r->observer = observer;
	if (observer && observer->begin)
		observer->begin(observer->data, r);
	*ret = r;
	return 0;
}

struct record *record_free(struct record *r)
{
	if (!r)
		return NULL;
	if (r->observer && r->observer->forget)
		r->observer->forget(r->observer->data, r);
	results_free(r->results);
	if (r->console_fd >= 0)
		close(r->console_fd);
	if (r->output_fd >= 0)
		close(r->output_fd);
	if (r->vmcore_fd >= 0)
		close(r->vmcore_fd);
	free(r->name);
	free(r->qemu_line);
	for (size_t i = 0; i < r->n_kernel_warnings; i++) {
		free(r->kernel_warnings[i]);
		free(r->kernel_warning_titles[i]);
	}
	free(r->kernel_warnings);
	free(r->kernel_warning_titles);
	free(r);
	return NULL;
}

int record_add_kernel_warning(struct record *r, const char *title, const char *text)
{
	size_t n = r->n_kernel_warnings + 1;
	char **texts = realloc(r->kernel_warnings, n * sizeof(*texts)), **titles;

	if (!texts)
		return -ENOMEM;
	r->kernel_warnings = texts;
	titles = realloc(r->kernel_warning_titles, n * sizeof(*titles));
	if (!titles)
		return -ENOMEM;
	r->kernel_warning_titles = titles;
	texts[n - 1] = strdup(text);
	titles[n - 1] = strdup(title);
	if (!texts[n - 1] || !titles[n - 1]) {
		free(texts[n - 1]);
		free(titles[n - 1]);
		return -ENOMEM;
	}
	r->n_kernel_warnings = n;
	return 0;
}

/* The time spent in the current stage, added to it. */
static void record_close_stage(struct record *r)
{
	int64_t now = clock_now_ms();

	r->stage_ms[r->stage] += now - r->stage_start_ms;
	r->stage_start_ms = now;
}

void record_stage(struct record *r, enum record_stage stage)
{
	enum record_stage before = r->stage;

	record_close_stage(r);
	r->stage = stage;
	if (before != RECORD_STAGE_NONE)
		record_log(r, 1, "%s took %.2f s", record_stage_name(before),
			   (double)r->stage_ms[before] / 1000);
	if (r->observer && r->observer->stage)
		r->observer->stage(r->observer->data, r);
}

void record_log(struct record *r, int level, const char *fmt, ...)
{
	char *line = NULL;
	va_list ap;
	int n;

	if (!r->observer || !r->observer->log)
		return;
	va_start(ap, fmt);
	n = vasprintf(&line, fmt, ap);
	va_end(ap);
	if (n >= 0)
		r->observer->log(r->observer->data, r, level, line);
	free(line);
}

void record_qemu_line(struct record *r, const char *line)
{
	free(r->qemu_line);
	r->qemu_line = line ? strdup(line) : NULL;
}

void record_progress(struct record *r, const char *tests)
{
	if (r->observer && r->observer->progress)
		r->observer->progress(r->observer->data, r, tests);
}

void record_retry(struct record *r)
{
	for (size_t i = 0; i < r->n_kernel_warnings; i++) {
		free(r->kernel_warnings[i]);
		free(r->kernel_warning_titles[i]);
	}
	r->n_kernel_warnings = 0;
	r->kernel_warnings_fail = false;
	/* A dump of a failed attempt stays: the first is what explains a flake. */
}

void record_end(struct record *r, enum record_outcome outcome, int exit_status,
		const char *reason_fmt, ...)
{
	va_list ap;

	record_close_stage(r);
	if (r->stage != RECORD_STAGE_NONE)
		record_log(r, 1, "%s took %.2f s", record_stage_name(r->stage),
			   (double)r->stage_ms[r->stage] / 1000);
	r->total_ms = clock_now_ms() - r->start_ms;
	r->outcome = outcome;
	r->exit_status = exit_status;
	r->reason[0] = '\0';
	if (reason_fmt) {
		va_start(ap, reason_fmt);
		vsnprintf(r->reason, sizeof(r->reason), reason_fmt, ap);
		va_end(ap);
	}
	if (r->observer && r->observer->end)
		r->observer->end(r->observer->data, r);
}
