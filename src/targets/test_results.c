// SPDX-License-Identifier: MIT
#include "targets/test_results.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "io.h"
#include "base/clock.h"
#include "boot/qemu_argv.h"
#include "targets/target_run.h"

/* What is read of a results file or a kernel's log, at most. */
#define TEST_RESULTS_READ_MAX (64 << 20)

enum vm_results test_results_format(const struct target *t, const struct run_options *o)
{
	return o->results >= 0 ? (enum vm_results)o->results : t->vm.results;
}

const char *test_results_file(const struct target *t, const struct run_options *o)
{
	if (test_results_format(t, o) == VM_RESULTS_KUNIT)
		return NULL;
	return o->results_file ? o->results_file : t->vm.results_file;
}

int test_results_check(const struct config *config, const struct target *t,
		       const struct run_options *o, struct error *err)
{
	enum vm_results format = test_results_format(t, o);
	const char *file = test_results_file(t, o);
	_cleanup_free_ char *dir = NULL;

	if (format == VM_RESULTS_KUNIT && t->kind != TARGET_KERNEL)
		return error_usage(err, "target '%s': --results kunit applies only to kernel "
				   "targets: it reads the KTAP in the log records vmtest's guest "
				   "init forwards", t->name);
	if (file && format == VM_RESULTS_NONE)
		return error_usage(err, "target '%s': --results-file needs a format: --results or "
				   "vm.results", t->name);
	if (!file)
		return 0;
	/* The command writes it, so it must be where the guest can write:
	 * its directory, or the nearest that exists (the command may make it). */
	dir = strdup(file);
	if (!dir)
		return error_set(err, ENOMEM, "out of memory");
	do {
		/* One dirname a step: it cuts dir in place, so a second call
		 * would go up a second level. */
		const char *up = dirname(dir);

		memmove(dir, up, strlen(up) + 1);
	} while (access(dir, F_OK) < 0 && strcmp(dir, "/") != 0 && strcmp(dir, ".") != 0);
	if (!config_in_writable_share(config, t, dir))
		return error_usage(err, "target '%s': the results file %s is not in a directory "
				   "the guest can write (%s, shared at /mnt/vmtest, or a writable "
				   "vm.mounts)", t->name, file, config->base_dir);
	return 0;
}

/* The parser's listener: the output as it arrives, with the time. */
static void test_results_heard(void *data, int stream, const void *buf, size_t len)
{
	struct target_run *run = data;
	char progress[128];
	size_t ended;

	results_feed(run->results, stream, buf, len, clock_now_ms() * 1000);
	/* The count for the view, when it changed: the view draws it with its
	 * next tick, so that the last count before a pause is the one shown. */
	results_progress(run->results, progress, sizeof(progress), &ended);
	if (ended && strcmp(progress, run->progress) != 0) {
		memcpy(run->progress, progress, sizeof(progress));
		record_progress(run->record, progress);
	}
}

int test_results_begin(struct target_run *run, struct error *err)
{
	enum vm_results format = test_results_format(run->target, run->options);
	const char *file = test_results_file(run->target, run->options);

	run->results = results_free(run->results);
	if (format == VM_RESULTS_NONE)
		return 0;
	if (results_new(format, &run->results) < 0)
		return error_set(err, ENOMEM, "out of memory");
	/* A file an earlier run left is not this one's: its identity now. */
	if (file)
		run->results_file_existed = lstat(file, &run->results_file_before) == 0;
	if (!file && format != VM_RESULTS_KUNIT)
		run->listener = (struct output_listener){ test_results_heard, run };
	return 0;
}

static bool test_results_same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	       a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/*
 * The file the command wrote, fed to the parser.  The guest wrote it: a
 * link is not followed and only a regular file is read (a FIFO would hold
 * vmtest), up to TEST_RESULTS_READ_MAX.  A problem is said in the results.
 */
static void test_results_read_file(struct target_run *run, const char *path)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	_cleanup_free_ char *buf = NULL;
	size_t total = 0;
	struct stat st;

	if (fd < 0 || fstat(fd, &st) < 0) {
		results_problem(run->results, "the results file %s: %s", path,
				errno == ENOENT ? "the command did not write it" : strerror(errno));
		return;
	}
	if (!S_ISREG(st.st_mode)) {
		results_problem(run->results, "the results file %s is not a regular file", path);
		return;
	}
	if (run->results_file_existed && test_results_same_file(&st, &run->results_file_before)) {
		results_problem(run->results, "the results file %s is an earlier run's: the "
				"command did not write it", path);
		return;
	}
	buf = malloc(65536);
	while (buf && total < TEST_RESULTS_READ_MAX) {
		ssize_t n = read(fd, buf, 65536);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		results_feed(run->results, 1, buf, (size_t)n, -1);
		total += (size_t)n;
	}
	if (total >= TEST_RESULTS_READ_MAX)
		record_log(run->record, 0, "the results file %s holds more than %d MiB: the rest "
			   "was not read", path, TEST_RESULTS_READ_MAX >> 20);
}

/* KUnit's KTAP, in the log records the guest init forwarded. */
static void test_results_read_kmsg(struct target_run *run)
{
	_cleanup_free_ char *path = target_run_path(run, QEMU_FILE_KMSG);
	_cleanup_close_ int fd = path ? open(path, O_RDONLY | O_CLOEXEC) : -1;
	_cleanup_free_ char *log = NULL;
	struct stat st;
	size_t len = 0;

	if (fd < 0 || fstat(fd, &st) < 0)
		return;
	len = (uint64_t)st.st_size < TEST_RESULTS_READ_MAX ? (size_t)st.st_size
							  : TEST_RESULTS_READ_MAX;
	log = malloc(len + 1);
	if (!log || io_read_all(fd, log, len, &len) < 0)
		return;
	results_feed_kmsg(run->results, log, len);
}

void test_results_end(struct target_run *run)
{
	const char *file = test_results_file(run->target, run->options);
	const struct target *t = run->target;

	run->listener = (struct output_listener){ 0 };
	if (!run->results)
		return;
	if (file)
		test_results_read_file(run, file);
	else if (run->results->format == VM_RESULTS_KUNIT && run->run_dir)
		test_results_read_kmsg(run);
	results_finish(run->results);
	if (t->vm.n_expected_failures &&
	    results_expect_failures(run->results, t->vm.expected_failures) < 0)
		record_log(run->record, 0, "out of memory: vm.expected_failures were not applied");
}

void test_results_reason(const struct results *r, char *buf, size_t len)
{
	struct results_counts c;
	_cleanup_free_ char *failed = NULL;
	size_t at;

	buf[0] = '\0';
	if (!r || !results_failed(r))
		return;
	results_count(r, &c);
	if (!c.failed && !c.not_run) {
		snprintf(buf, len, "%s", r->problem ? r->problem : "no test results");
		return;
	}
	failed = results_failed_paths(r, 3);
	at = (size_t)snprintf(buf, len, "%zu test%s failed", c.failed + c.not_run,
			      c.failed + c.not_run == 1 ? "" : "s");
	if (c.not_run && at < len)
		at += (size_t)snprintf(buf + at, len - at, " (%zu never ran)", c.not_run);
	for (char *line = failed, *nl; line && *line && at < len; line = nl + 1) {
		nl = strchr(line, '\n');
		if (!nl)
			break;
		at += (size_t)snprintf(buf + at, len - at, "%s%.*s", line == failed ? ": " : ", ",
				       (int)(nl - line), line);
	}
}
