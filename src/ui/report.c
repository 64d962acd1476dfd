// SPDX-License-Identifier: MIT
#include "ui/report.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "io.h"
#include "base/clock.h"
#include "base/host_file.h"
#include "vm/json_io.h"
#include "vm/output.h"
#include "ui/report_tests.h"
#include "ui/xml_writer.h"

#define REPORT_TAIL_BYTES 4096		/* the output's tail in a <failure> */
#define REPORT_CONSOLE_BYTES (1 << 20)	/* at most this much console in <system-err> */

struct report_case {
	bool done;
	bool flaky;			/* it failed, then passed on a retry */
	unsigned attempts;
	enum record_outcome status;
	int exit_status;
	char *reason;
	char **kernel_warnings;		/* the record's, copied */
	size_t n_kernel_warnings;
	int64_t stage_ms[RECORD_N_STAGES];
	int64_t total_ms;
	off_t junit_off;		/* its <testcase> in the fragments file */
	size_t junit_len;
	struct report_tally tally;	/* what its <testcase> elements hold */
	struct json_value *tests;	/* its tests (report_tests.h); NULL: none asked for */
	struct json_value *tests_summary;
};

struct report {
	struct report_options o;
	const struct config *config;
	pthread_mutex_t lock;
	int fragments_fd;		/* the <testcase> elements, as targets end */
	struct report_case *cases;	/* one per target, in the config's order */
	char **dir_names;		/* per target, under output_dir */
	/* Where the files go, opened before any guest ran (host_file.h). */
	struct host_dir *junit_dir, *json_dir, *out_dir;
	char *junit_name, *json_name;
	time_t started;
	int64_t start_ms;
};

static const char *const report_status_names[] = {
	[RECORD_RUNNING] = "not run",
	[RECORD_PASSED] = "passed",
	[RECORD_FAILED] = "failed",
	[RECORD_TIMED_OUT] = "timed out",
	[RECORD_ERROR] = "error",
};

/* --- files ----------------------------------------------------------------- */

static int report_check_writable(const char *path, const char *option, struct error *err)
{
	_cleanup_free_ char *dir = strdup(path);
	char *slash;

	if (!dir)
		return error_set(err, ENOMEM, "out of memory");
	slash = strrchr(dir, '/');
	if (slash)
		slash[slash == dir ? 1 : 0] = '\0';
	if (access(slash ? dir : ".", W_OK | X_OK) < 0) {
		int r = error_set_errno(err, errno, "%s %s: cannot write in %s", option, path,
					slash ? dir : ".");

		err->status = EXIT_STATUS_USAGE;
		return r;
	}
	return 0;
}

/* The spool's whole content into a new file (none: empty).  A spool that
 * cannot be read back fails too: not a short file said whole. */
static int report_fill_from_spool(int out, void *arg, struct error *err)
{
	int fd = *(int *)arg;
	int r = fd >= 0 ? io_copy_all(fd, out) : 0;

	return r < 0 ? error_set_errno(err, -r, "copying the spool file") : 0;
}

/* A name fit for a directory: [A-Za-z0-9._-], the rest '_'; unique. */
static char *report_dir_name(char **taken, size_t n_taken, const char *name)
{
	char *base = strdup(*name ? name : "target"), *out = NULL;

	if (!base)
		return NULL;
	for (char *p = base; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '.' || *p == '-' || *p == '_'))
			*p = '_';
	if (base[0] == '.')
		base[0] = '_';
	for (unsigned k = 1; !out; k++) {
		bool clash = false;

		if (k == 1 ? !(out = strdup(base)) : asprintf(&out, "%s-%u", base, k) < 0) {
			out = NULL;
			break;
		}
		for (size_t i = 0; i < n_taken && !clash; i++)
			clash = strcmp(taken[i], out) == 0;
		if (clash) {
			free(out);
			out = NULL;
		}
	}
	free(base);
	return out;
}

/* --- the report -------------------------------------------------------------- */

/* The user's places, resolved now, before any guest can change them. */
static int report_open_places(struct report *rp, const struct report_options *o,
			      struct error *err)
{
	int r = 0;

	if (o->junit_path)
		r = host_file_open_parent(o->junit_path, &rp->junit_dir, &rp->junit_name, err);
	if (r >= 0 && o->json_path)
		r = host_file_open_parent(o->json_path, &rp->json_dir, &rp->json_name, err);
	if (r >= 0 && (o->output_dir || o->dump_dir))
		r = host_dir_open(o->output_dir ? o->output_dir : o->dump_dir, true, &rp->out_dir,
				  err);
	if (r < 0)
		return error_prefix(err, "%s", o->junit_path && !rp->junit_dir ? "--junit"
					       : o->json_path && !rp->json_dir ? "--json"
					       : o->output_dir ? "--output-dir" : "--dump");
	return 0;
}

int report_new(const struct report_options *o, const struct config *config,
	       struct report **ret, struct error *err)
{
	struct report *rp;
	int r = 0;

	*ret = NULL;
	if (!o->junit_path && !o->json_path && !o->output_dir && !o->dump_dir)
		return 0;
	if (o->junit_path)
		r = report_check_writable(o->junit_path, "--junit", err);
	if (r >= 0 && o->json_path)
		r = report_check_writable(o->json_path, "--json", err);
	if (r < 0)
		return r;
	rp = calloc(1, sizeof(*rp));
	if (!rp)
		return error_set(err, ENOMEM, "out of memory");
	r = report_open_places(rp, o, err);
	if (r < 0) {
		report_free(rp);
		err->status = EXIT_STATUS_USAGE;
		return r;
	}
	rp->o = *o;
	rp->config = config;
	rp->fragments_fd = -1;
	rp->started = time(NULL);
	rp->start_ms = clock_now_ms();
	pthread_mutex_init(&rp->lock, NULL);
	rp->cases = calloc(config->n_targets ? config->n_targets : 1, sizeof(*rp->cases));
	rp->dir_names = calloc(config->n_targets ? config->n_targets : 1, sizeof(*rp->dir_names));
	if (!rp->cases || !rp->dir_names) {
		report_free(rp);
		return error_set(err, ENOMEM, "out of memory");
	}
	for (size_t i = 0; (o->output_dir || o->dump_dir) && i < config->n_targets; i++) {
		rp->dir_names[i] = report_dir_name(rp->dir_names, i, config->targets[i].name);
		if (!rp->dir_names[i]) {
			report_free(rp);
			return error_set(err, ENOMEM, "out of memory");
		}
	}
	if (o->junit_path) {
		char tmpl[] = "/tmp/vmtest-junit-XXXXXX";

		rp->fragments_fd = mkostemp(tmpl, O_CLOEXEC);
		if (rp->fragments_fd < 0) {
			r = error_set_errno(err, errno, "create a temporary file");
			report_free(rp);
			return r;
		}
		unlink(tmpl);
	}
	*ret = rp;
	return 0;
}

struct report *report_free(struct report *rp)
{
	if (!rp)
		return NULL;
	host_dir_free(rp->junit_dir);
	host_dir_free(rp->json_dir);
	host_dir_free(rp->out_dir);
	free(rp->junit_name);
	free(rp->json_name);
	for (size_t i = 0; rp->cases && i < rp->config->n_targets; i++) {
		free(rp->cases[i].reason);
		json_io_unref(rp->cases[i].tests);
		json_io_unref(rp->cases[i].tests_summary);
		for (size_t j = 0; j < rp->cases[i].n_kernel_warnings; j++)
			free(rp->cases[i].kernel_warnings[j]);
		free(rp->cases[i].kernel_warnings);
	}
	for (size_t i = 0; rp->dir_names && i < rp->config->n_targets; i++)
		free(rp->dir_names[i]);
	free(rp->cases);
	free(rp->dir_names);
	if (rp->fragments_fd >= 0)
		close(rp->fragments_fd);
	pthread_mutex_destroy(&rp->lock);
	free(rp);
	return NULL;
}

/*
 * The target's <testcase> (its command, its VM) into the fragments file,
 * then one per test it reported, behind a comment that --merge reads:
 * the target's place in the config and the block's length, so that
 * nothing a guest printed inside the block can pass for the next.
 */
/* The comment before a target's block, padded to one length: written
 * before the block, as a place holder, and again once its length is known. */
static int report_junit_mark(int fd, off_t at, size_t position, size_t len,
			     const struct report_tally *tally)
{
	char mark[REPORT_MARK_LEN + 1];
	int n = snprintf(mark, sizeof(mark), "    <!-- vmtest target %zu: %zu bytes, %zu tests, "
			 "%zu failures, %zu skipped", position, len, tally->tests, tally->failures,
			 tally->skipped);

	if (n < 0 || n > REPORT_MARK_LEN - 5)
		return -EOVERFLOW;
	memset(mark + n, ' ', (size_t)(REPORT_MARK_LEN - 4 - n));
	memcpy(mark + REPORT_MARK_LEN - 4, "-->\n", 4);
	return pwrite(fd, mark, REPORT_MARK_LEN, at) == REPORT_MARK_LEN ? 0 : -errno;
}

int report_junit_parse_mark(const char *p, size_t len, struct report_junit_mark *ret)
{
	char mark[REPORT_MARK_LEN + 1];
	int used = 0;

	if (len < REPORT_MARK_LEN || memcmp(p + REPORT_MARK_LEN - 4, "-->\n", 4) != 0)
		return -EINVAL;
	memcpy(mark, p, REPORT_MARK_LEN);
	mark[REPORT_MARK_LEN] = '\0';
	if (sscanf(mark, "    <!-- vmtest target %zu: %zu bytes, %zu tests, %zu failures, %zu "
		   "skipped%n", &ret->position, &ret->len, &ret->tests, &ret->failures,
		   &ret->skipped, &used) != 5 || !used)
		return -EINVAL;
	return 0;
}

static int report_junit_case(struct report *rp, const struct record *e, struct error *err)
{
	const struct target *t = &rp->config->targets[e->index];
	struct xml_writer x = { .fd = rp->fragments_fd };
	struct report_case *c = &rp->cases[e->index];
	char time_s[32];
	off_t end;
	int r;

	snprintf(time_s, sizeof(time_s), "%.3f", (double)e->total_ms / 1000);
	c->tally = (struct report_tally){ .tests = 1, .failures = e->outcome != RECORD_PASSED };
	c->junit_off = lseek(rp->fragments_fd, 0, SEEK_END);
	r = report_junit_mark(rp->fragments_fd, c->junit_off, 0, 0, &c->tally);
	if (r < 0)
		return error_set_errno(err, -r, "--junit %s: cannot keep a test case in a "
				       "temporary file", rp->o.junit_path);
	lseek(rp->fragments_fd, 0, SEEK_END);
	xml_raw(&x, "    <testcase");
	xml_attr(&x, "name", t->name);
	xml_attr(&x, "classname", rp->o.suite_name);
	xml_attr(&x, "time", time_s);
	xml_raw(&x, ">\n");
	if (e->outcome != RECORD_PASSED) {
		/* The reason, and the tail of what explains it. */
		xml_raw(&x, "      <failure");
		xml_attr(&x, "type", report_status_names[e->outcome]);
		xml_attr(&x, "message", e->reason[0] ? e->reason : "failed");
		xml_raw(&x, ">");
		xml_cdata_spool(&x, e->outcome == RECORD_ERROR ? e->console_fd : e->output_fd,
				REPORT_TAIL_BYTES);
		/* The kernel's splats, whole, after what the command printed. */
		for (size_t i = 0; e->kernel_warnings_fail && i < e->n_kernel_warnings; i++) {
			xml_cdata_text(&x, "\n--- kernel warning ---\n");
			xml_cdata_text(&x, e->kernel_warnings[i]);
		}
		xml_raw(&x, "</failure>\n");
	} else if (e->flaky) {
		xml_raw(&x, "      <flakyFailure");
		xml_attr(&x, "type", "failed");
		xml_raw(&x, " message=\"failed, then passed on attempt %u\"/>\n", e->attempts);
	}
	xml_raw(&x, "      <system-out>");
	xml_cdata_spool(&x, e->output_fd, (size_t)-1 / 2);
	xml_raw(&x, "</system-out>\n");
	if (e->outcome != RECORD_PASSED) {
		xml_raw(&x, "      <system-err>");
		xml_cdata_spool(&x, e->console_fd, REPORT_CONSOLE_BYTES);
		xml_raw(&x, "</system-err>\n");
	}
	xml_raw(&x, "    </testcase>\n");
	report_tests_junit(&x, t->name, e->results, &c->tally);
	xml_flush(&x);
	end = lseek(rp->fragments_fd, 0, SEEK_END);
	r = x.error ? -x.error
		    : report_junit_mark(rp->fragments_fd, c->junit_off, t->position,
					(size_t)(end - c->junit_off - REPORT_MARK_LEN), &c->tally);
	if (r < 0)
		return error_set_errno(err, -r, "--junit %s: cannot keep a test case in a "
				       "temporary file", rp->o.junit_path);
	c->junit_len = (size_t)(end - c->junit_off);
	return 0;
}

/* One target's facts, for --json and its result.json. */
static struct json_value *report_json_case(const struct report *rp, size_t index)
{
	static const char *const stage_keys[RECORD_N_STAGES] = {
		[RECORD_STAGE_NONE] = "preparing",
		[RECORD_STAGE_BOOTING] = "booting",
		[RECORD_STAGE_SETUP] = "setting_up",
		[RECORD_STAGE_COMMAND] = "running",
	};
	const struct target *t = &rp->config->targets[index];
	const struct report_case *c = &rp->cases[index];
	struct json_value *o = json_io_new_object(), *stages = json_io_new_object();
	int r = o && stages ? 0 : -ENOMEM;

	if (r >= 0)
		r = json_io_set_string(o, "name", t->name);
	if (r >= 0)
		r = json_io_set_string(o, t->kind == TARGET_KERNEL ? "kernel" : "image",
				       t->kind == TARGET_KERNEL ? t->kernel : t->image);
	if (r >= 0)
		r = json_io_set_int(o, "position", (int64_t)t->position);
	if (r >= 0)
		r = json_io_set_string(o, "status", c->flaky ? "flaky" : report_status_names[c->status]);
	if (r >= 0 && c->attempts > 1)
		r = json_io_set_int(o, "attempts", c->attempts);
	if (r >= 0)
		r = json_io_set_int(o, "exit_status", c->exit_status);
	if (r >= 0)
		r = c->reason ? json_io_set_string(o, "reason", c->reason)
			      : json_io_set(o, "reason", json_io_new_null());
	if (r >= 0) {
		struct json_value *warnings = json_io_new_array();

		r = warnings ? 0 : -ENOMEM;
		for (size_t i = 0; r >= 0 && i < c->n_kernel_warnings; i++)
			r = json_io_append_string(warnings, c->kernel_warnings[i]);
		if (r >= 0)
			r = json_io_set(o, "kernel_warnings", warnings);
		else
			json_io_unref(warnings);
	}
	if (r >= 0)
		r = json_io_set_real(o, "time", (double)c->total_ms / 1000);
	if (r >= 0 && c->tests_summary)
		r = json_io_set(o, "tests_summary", json_io_ref(c->tests_summary));
	if (r >= 0 && c->tests)
		r = json_io_set(o, "tests", json_io_ref(c->tests));
	for (int s = 0; r >= 0 && s < RECORD_N_STAGES; s++)
		r = json_io_set_real(stages, stage_keys[s], (double)c->stage_ms[s] / 1000);
	if (r >= 0) {
		r = json_io_set(o, "stages", stages);
		stages = NULL;
	}
	json_io_unref(stages);
	if (r < 0) {
		json_io_unref(o);
		return NULL;
	}
	return o;
}

/* The guest's memory (kdump-compressed), from the record's file, for its
 * owner alone: it holds whatever the guest read, and the guest read the
 * host's files with vmtest's rights. */
static int report_write_vmcore(struct host_dir *dir, const struct record *e, struct error *err)
{
	int fd = e->vmcore_fd;

	return host_dir_write_mode(dir, "vmcore", 0600, report_fill_from_spool, &fd, err);
}

static int report_write_artifacts(struct report *rp, const struct record *e,
				  struct error *err)
{
	_cleanup_free_ char *text = NULL, *result = NULL;
	_cleanup_json_ struct json_value *facts = report_json_case(rp, e->index);
	struct host_dir *dir = NULL;
	int console_fd = e->console_fd, output_fd = e->output_fd;
	int r;

	if (!facts || asprintf(&text, "%s\n", e->qemu_line ? e->qemu_line : "") < 0 ||
	    !(result = json_io_dump_pretty(facts)))
		return error_set(err, ENOMEM, "out of memory");
	r = host_dir_subdir(rp->out_dir, rp->dir_names[e->index], &dir, err);
	if (r >= 0)
		r = host_dir_write(dir, "console.log", report_fill_from_spool, &console_fd, err);
	if (r >= 0)
		r = host_dir_write(dir, "output.log", report_fill_from_spool, &output_fd, err);
	if (r >= 0)
		r = host_dir_write_text(dir, "qemu-command-line", text, err);
	if (r >= 0)
		r = host_dir_write_text(dir, "result.json", result, err);
	if (r >= 0 && e->vmcore_fd >= 0)
		r = report_write_vmcore(dir, e, err);
	/* An earlier run's would pass for this one's. */
	else if (r >= 0)
		r = host_dir_remove(dir, "vmcore", err);
	host_dir_free(dir);
	return r < 0 ? error_prefix(err, "--output-dir") : 0;
}

/* --dump without --output-dir: the vmcore alone, DIR/NAME/vmcore. */
static int report_write_dump(struct report *rp, const struct record *e, struct error *err)
{
	struct host_dir *dir = NULL;
	int r;

	if (e->vmcore_fd < 0)
		return 0;
	r = host_dir_subdir(rp->out_dir, rp->dir_names[e->index], &dir, err);
	if (r >= 0)
		r = report_write_vmcore(dir, e, err);
	host_dir_free(dir);
	return r < 0 ? error_prefix(err, "--dump") : 0;
}

int report_add(struct report *rp, const struct record *e, struct error *err)
{
	struct report_case *c;
	int r = 0;

	if (!rp)
		return 0;
	pthread_mutex_lock(&rp->lock);
	c = &rp->cases[e->index];
	c->done = true;
	c->status = e->outcome;
	c->exit_status = e->exit_status;
	c->reason = e->reason[0] ? strdup(e->reason) : NULL;
	c->kernel_warnings = e->n_kernel_warnings
				     ? calloc(e->n_kernel_warnings, sizeof(*c->kernel_warnings))
				     : NULL;
	for (size_t i = 0; c->kernel_warnings && i < e->n_kernel_warnings; i++)
		if ((c->kernel_warnings[i] = strdup(e->kernel_warnings[i])))
			c->n_kernel_warnings = i + 1;
	memcpy(c->stage_ms, e->stage_ms, sizeof(c->stage_ms));
	c->total_ms = e->total_ms;
	c->flaky = e->flaky;
	c->attempts = e->attempts;
	if (e->results) {
		c->tests = report_tests_json(e->results);
		c->tests_summary = report_tests_summary_json(e->results);
	}
	if (rp->fragments_fd >= 0)
		r = report_junit_case(rp, e, err);
	if (r >= 0 && rp->o.output_dir)
		r = report_write_artifacts(rp, e, err);
	else if (r >= 0 && rp->o.dump_dir)
		r = report_write_dump(rp, e, err);
	pthread_mutex_unlock(&rp->lock);
	return r;
}

/* The JUnit document into a new file: the head, each ended target's <testcase>, the tail. */
static int report_fill_junit(int fd, void *arg, struct error *err)
{
	struct report *rp = arg;
	struct xml_writer x = { .fd = fd };
	size_t tests = 0, failures = 0, skipped = 0;
	char stamp[64], time_s[32];
	struct tm tm;

	for (size_t i = 0; i < rp->config->n_targets; i++) {
		if (!rp->cases[i].done)
			continue;
		tests += rp->cases[i].tally.tests;
		failures += rp->cases[i].tally.failures;
		skipped += rp->cases[i].tally.skipped;
	}
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", gmtime_r(&rp->started, &tm));
	snprintf(time_s, sizeof(time_s), "%.3f", (double)(clock_now_ms() - rp->start_ms) / 1000);
	xml_raw(&x, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites");
	xml_attr(&x, "name", rp->o.suite_name);
	xml_raw(&x, " tests=\"%zu\" failures=\"%zu\" errors=\"0\"", tests, failures);
	xml_attr(&x, "time", time_s);
	xml_raw(&x, ">\n  <testsuite");
	xml_attr(&x, "name", rp->o.suite_name);
	xml_raw(&x, " tests=\"%zu\" failures=\"%zu\" errors=\"0\" skipped=\"%zu\"", tests,
		failures, skipped);
	xml_attr(&x, "time", time_s);
	xml_attr(&x, "timestamp", stamp);
	xml_raw(&x, ">\n");
	xml_flush(&x);
	for (size_t i = 0; !x.error && i < rp->config->n_targets; i++) {
		struct report_case *c = &rp->cases[i];
		char buf[65536];
		size_t left = c->junit_len;
		off_t off = c->junit_off;

		while (c->done && left) {
			ssize_t n = pread(rp->fragments_fd, buf, left < sizeof(buf) ? left : sizeof(buf),
					  off);
			int r;

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				return error_set_errno(err, n < 0 ? errno : EIO, "reading back a test case");
			r = io_write_all(fd, buf, (size_t)n);
			if (r < 0)
				return error_set_errno(err, -r, "write");
			off += n;
			left -= (size_t)n;
		}
	}
	xml_raw(&x, "  </testsuite>\n</testsuites>\n");
	xml_flush(&x);
	if (x.error)
		return error_set_errno(err, x.error, "write");
	if (fsync(fd) < 0)
		return error_set_errno(err, errno, "write");
	return 0;
}

static int report_finish_junit(struct report *rp, struct error *err)
{
	int r = host_dir_write(rp->junit_dir, rp->junit_name, report_fill_junit, rp, err);

	return r < 0 ? error_prefix(err, "--junit %s", rp->o.junit_path) : 0;
}

int report_json_counts(struct json_value *doc, size_t passed, size_t failed, size_t flaky)
{
	int r = json_io_set_int(doc, "passed", (int64_t)passed);

	if (r >= 0)
		r = json_io_set_int(doc, "failed", (int64_t)failed);
	return r >= 0 ? json_io_set_int(doc, "flaky", (int64_t)flaky) : r;
}

static int report_finish_json(struct report *rp, struct error *err)
{
	_cleanup_json_ struct json_value *doc = json_io_new_object();
	struct json_value *targets = json_io_new_array();
	_cleanup_free_ char *text = NULL;
	size_t passed = 0, failed = 0, flaky = 0;
	int r = doc && targets ? 0 : -ENOMEM;

	for (size_t i = 0; r >= 0 && i < rp->config->n_targets; i++) {
		if (!rp->cases[i].done)
			continue;
		passed += rp->cases[i].status == RECORD_PASSED && !rp->cases[i].flaky;
		flaky += rp->cases[i].flaky;
		failed += rp->cases[i].status != RECORD_PASSED;
	{
		struct json_value *c = report_json_case(rp, i);

		r = c ? json_io_append(targets, c) : -ENOMEM;
	}
	}
	if (r >= 0)
		r = report_json_counts(doc, passed, failed, flaky);
	if (r >= 0)
		r = rp->o.shard ? json_io_set_string(doc, "shard", rp->o.shard)
				: json_io_set(doc, "shard", json_io_new_null());
	if (r >= 0)
		r = rp->o.filter ? json_io_set_string(doc, "filter", rp->o.filter)
				 : json_io_set(doc, "filter", json_io_new_null());
	if (r >= 0)
		r = json_io_set_real(doc, "time", (double)(clock_now_ms() - rp->start_ms) / 1000);
	if (r >= 0) {
		r = json_io_set(doc, "targets", targets);
		targets = NULL;
	}
	json_io_unref(targets);
	if (r >= 0 && !(text = json_io_dump_pretty(doc)))
		r = -ENOMEM;
	if (r < 0)
		return error_set(err, ENOMEM, "out of memory");
	r = host_dir_write_text(rp->json_dir, rp->json_name, text, err);
	return r < 0 ? error_prefix(err, "--json %s", rp->o.json_path) : 0;
}

int report_finish(struct report *rp, struct error *err)
{
	int r = 0;

	if (!rp)
		return 0;
	pthread_mutex_lock(&rp->lock);
	if (rp->o.junit_path)
		r = report_finish_junit(rp, err);
	if (r >= 0 && rp->o.json_path)
		r = report_finish_json(rp, err);
	pthread_mutex_unlock(&rp->lock);
	return r;
}
