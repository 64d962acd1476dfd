// SPDX-License-Identifier: MIT
#include "targets/warm_start.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "io.h"
#include "base/clock.h"
#include "base/shell_quote.h"
#include "boot/cache.h"
#include "boot/snapshot.h"
#include "targets/target_run.h"
#include "vm/json_io.h"

/* Device state without RAM is a few hundred kB: a save takes well under a second. */
#define WARM_MIGRATE_TIMEOUT_MS 30000
#define WARM_STATE_FILE "snapshot.state"

enum warm_mode {
	WARM_OFF,	/* RAM as QEMU's own, no snapshot */
	WARM_SAVE,	/* boot cold, then save */
	WARM_RESTORE,	/* restore the snapshot */
};

struct warm_start {
	enum warm_mode mode;
	char *cache_dir;
	uint64_t key;
	struct snapshot *snapshot;	/* to restore */
	struct snapshot_files files;	/* the run's files that go with it */
	int ram_fd;			/* this run's guest RAM */
	int state_fd;			/* the device state to load */
	int fds[3];
	char ram_path[64];
};

static struct warm_start *warm(const struct target_run *run)
{
	return run->warm;
}

bool warm_start_restoring(const struct target_run *run)
{
	return warm(run) && warm(run)->mode == WARM_RESTORE;
}

bool warm_start_saving(const struct target_run *run)
{
	return warm(run) && warm(run)->mode == WARM_SAVE;
}

/* A new memfd for the guest's RAM, and its name for QEMU. */
static int warm_new_ram(struct target_run *run, struct error *err)
{
	struct warm_start *w = warm(run);

	if (w->ram_fd >= 0)
		close(w->ram_fd);
	w->ram_fd = snapshot_memfd("vmtest-guest-ram", run->target->vm.memory_bytes, err);
	if (w->ram_fd < 0)
		return w->ram_fd;
	snprintf(w->ram_path, sizeof(w->ram_path), "/proc/self/fd/%d", w->ram_fd);
	return 0;
}

/*
 * How this run boots, for a guest whose snapshot key is key (0: warm
 * starts are off, and why_off says why, for -v).  files: the run's files
 * that its guest's boot writes (NULL: none), paths that stay valid.
 */
static int warm_choose(struct target_run *run, uint64_t key, const struct snapshot_files *files,
		       const char *why_off, struct error *err)
{
	struct warm_start *w;
	char why[512] = "";
	int r;

	if (!key) {
		record_log(run->record, 1, "booting cold: %s", why_off);
		return 0;
	}
	w = calloc(1, sizeof(*w));
	if (!w)
		return error_set(err, ENOMEM, "out of memory");
	run->warm = w;
	w->ram_fd = w->state_fd = -1;
	w->key = key;
	if (files)
		w->files = *files;
	r = cache_dir_get(&w->cache_dir, err);
	if (r >= 0)
		r = snapshot_open(w->cache_dir, key, &w->files, &w->snapshot, why, sizeof(why));
	if (r < 0)
		return r;
	if (r == 2) {
		record_log(run->record, 1, "booting cold: %s", why);
		warm_start_clear(run);
		return 0;
	}
	w->mode = r ? WARM_RESTORE : WARM_SAVE;
	if (r == 0) {
		record_log(run->record, 1, "booting cold, to save a snapshot (%016llx): %s",
			   (unsigned long long)key, why);
		/* One that is there but unusable makes room for this run's. */
		snapshot_remove(w->cache_dir, key);
	}
	return warm_new_ram(run, err);
}

/*
 * Whether extra_args touch what a warm start sets itself: the machine and
 * its memory (a second -m or -machine would not match the memory backend),
 * or a snapshot of QEMU's own.
 */
static bool warm_extra_args_own_memory(const struct target *t)
{
	static const char *const options[] = { "-m", "-M", "-machine", "-mem-path", "-mem-prealloc",
					       "-numa", "-incoming", "-loadvm" };

	for (size_t i = 0; i < t->vm.n_extra_args; i++) {
		const char *a = t->vm.extra_args[i];

		if (strstr(a, "memory-backend"))
			return true;
		for (size_t j = 0; j < ARRAY_SIZE(options); j++)
			if (strcmp(a, options[j]) == 0 ||
			    (strncmp(a, options[j], strlen(options[j])) == 0 &&
			     a[strlen(options[j])] == '='))
				return true;
	}
	return false;
}

/* Why this run boots cold whatever the cache holds; NULL: it need not. */
static const char *warm_off(const struct target_run *run, const struct target_kind_ops *kind)
{
	if (run->options->no_snapshot)
		return "--no-snapshot";
	if (run->target->vm.no_snapshot)
		return "vm.snapshot = false";
	if (warm_extra_args_own_memory(run->target))
		return "vm.extra_args set the machine, its memory or a snapshot of QEMU's own";
	if (!cache_trust_available())
		return "the kernel keyring is out of reach, so vmtest could not vouch for a snapshot";
	if (run->gdb_port)
		return "--gdb: the debugger follows the boot from its first instruction";
	return kind->warm_off ? kind->warm_off(run) : NULL;
}

/*
 * The snapshot key of this target's guest: its QEMU command line without
 * the run's own paths, and the files it boots.
 */
static int warm_key(struct target_run *run, const struct target_kind_ops *kind,
		    uint64_t *ret_key, struct error *err)
{
	struct qemu_plan plan = {
		.run_dir = "@run",
		.shared_dir = run->config->base_dir ? "@shared" : NULL,
		.accel = run->accel,
		.ram_path = "@ram",
		.for_key = true,
		.dump = dump_wanted(&run->dump),
		/* Forwards too: QEMU sets them up from its command line. */
		.network = run->network,
		.forwards = run->forwards,
		.n_forwards = run->n_forwards,
	};
	struct strv argv = { 0 };
	size_t n = 0;
	int r;

	kind->plan(run, &plan);
	r = qemu_argv_build(run->target, &plan, &argv, err);
	if (r < 0)
		return r;
	/* The files booted, as they are now: a name need not change with its
	 * contents.  For an image, its UEFI variables are the template's. */
	const char *booted[] = { run->target->kernel, plan.boot_kernel, plan.initrd,
				 run->target->image,  plan.firmware_code, plan.firmware_vars,
				 plan.firmware_bios };
	const char *files[ARRAY_SIZE(booted) + 1] = { 0 };

	for (size_t i = 0; i < ARRAY_SIZE(booted); i++)
		if (booted[i])
			files[n++] = booted[i];
	*ret_key = snapshot_key(argv.items, files, run->accel == QEMU_ACCEL_KVM);
	strv_clear(&argv);
	return 0;
}

int warm_start_decide(struct target_run *run, const struct target_kind_ops *kind,
		      struct error *err)
{
	struct snapshot_files files = { 0 };
	const char *off;
	uint64_t key = 0;
	int r;

	if (!kind->warm_start)
		return 0;
	off = warm_off(run, kind);
	if (off)
		return warm_choose(run, 0, NULL, off, err);
	r = warm_key(run, kind, &key, err);
	if (kind->warm_files)
		kind->warm_files(run, &files);
	if (r >= 0)
		r = warm_choose(run, key, &files, "the snapshot key could not be computed", err);
	return r;
}

void warm_start_plan(const struct target_run *run, struct qemu_plan *plan)
{
	if (!warm(run))
		return;
	plan->ram_path = warm(run)->ram_path;
	plan->incoming = warm(run)->mode == WARM_RESTORE;
	plan->migratable = true;
}

const int *warm_start_fds(const struct target_run *run)
{
	struct warm_start *w = warm(run);

	if (!w)
		return NULL;
	w->fds[0] = w->ram_fd;
	w->fds[1] = w->mode == WARM_RESTORE ? w->state_fd : -1;
	w->fds[2] = -1;
	return w->fds;
}

int warm_start_before_qemu(struct target_run *run, struct error *err)
{
	struct warm_start *w = warm(run);
	_cleanup_free_ char *boot_log = NULL;
	size_t boot_log_len = 0;
	int64_t start = clock_now_ms();
	int r;

	if (!warm_start_restoring(run))
		return 0;
	if (w->state_fd >= 0)
		close(w->state_fd);
	w->state_fd = -1;
	r = snapshot_load(w->snapshot, w->ram_fd, &w->files, &w->state_fd, &boot_log, &boot_log_len,
			  err);
	if (r < 0)
		return r;
	/* The boot the snapshot was taken from is this guest's boot: its
	 * console, kernel warnings included, is this run's too. */
	r = io_write_all(run->record->console_fd, boot_log, boot_log_len);
	if (r < 0)
		run->console_errno = -r;
	record_log(run->record, 1, "restoring the snapshot %016llx (its memory read in %.2f s)",
		   (unsigned long long)w->key, (double)(clock_now_ms() - start) / 1000);
	return 0;
}

/* migrate-set-capabilities: RAM is in the memfd, not in the stream. */
static int warm_ignore_shared(struct target_run *run, struct error *err)
{
	_cleanup_json_ struct json_value *args = json_io_new_object();
	struct json_value *caps = json_io_new_array(), *cap = json_io_new_object();
	int r = args && caps && cap ? 0 : -ENOMEM;

	if (r >= 0)
		r = json_io_set_string(cap, "capability", "x-ignore-shared");
	if (r >= 0)
		r = json_io_set_bool(cap, "state", true);
	if (r >= 0) {
		r = json_io_append(caps, cap);
		cap = NULL;
	}
	if (r >= 0) {
		r = json_io_set(args, "capabilities", caps);
		caps = NULL;
	}
	json_io_unref(cap);
	json_io_unref(caps);
	if (r < 0)
		return error_set(err, ENOMEM, "out of memory");
	return qmp_execute(run->qmp, "migrate-set-capabilities", args,
			   clock_deadline(WARM_MIGRATE_TIMEOUT_MS), NULL, err);
}

/* A QMP command whose one argument is "uri". */
static int warm_uri_command(struct target_run *run, const char *command, const char *uri,
			    struct error *err)
{
	_cleanup_json_ struct json_value *args = json_io_new_object();

	if (!args || json_io_set_string(args, "uri", uri) < 0)
		return error_set(err, ENOMEM, "out of memory");
	return qmp_execute(run->qmp, command, args, clock_deadline(WARM_MIGRATE_TIMEOUT_MS), NULL,
			   err);
}

int warm_start_load(struct target_run *run, struct error *err)
{
	char uri[32];
	int r;

	if (!warm_start_restoring(run))
		return 0;
	snprintf(uri, sizeof(uri), "fd:%d", warm(run)->state_fd);
	r = warm_ignore_shared(run, err);
	if (r >= 0)
		r = warm_uri_command(run, "migrate-incoming", uri, err);
	return r;
}

int warm_start_fall_back(struct target_run *run, const char *why, struct error *err)
{
	struct warm_start *w = warm(run);
	const char *last = strrchr(why, '\n');

	/* One line: QEMU's last word says enough; -v has them all. */
	if (last) {
		record_log(run->record, 1, "the restore failed: %s", why);
		why = last + 1;
	}
	record_log(run->record, 0, "the snapshot %016llx could not be restored (%s): booting cold",
		   (unsigned long long)w->key, why);
	snapshot_remove(w->cache_dir, w->key);
	w->snapshot = snapshot_close(w->snapshot);
	if (w->state_fd >= 0)
		close(w->state_fd);
	w->state_fd = -1;
	w->mode = WARM_SAVE;
	/* The console restarts with the cold boot. */
	if (ftruncate(run->record->console_fd, 0) == 0)
		lseek(run->record->console_fd, 0, SEEK_SET);
	return warm_new_ram(run, err);
}

/* Wait for the migration to end: "completed", or why not. */
static int warm_migration_done(struct target_run *run, struct error *err)
{
	int64_t deadline = clock_deadline(WARM_MIGRATE_TIMEOUT_MS);

	for (;;) {
		_cleanup_json_ struct json_value *ret = NULL;
		const char *status;
		int r = qmp_execute(run->qmp, "query-migrate", NULL, deadline, &ret, err);

		if (r < 0)
			return r;
		status = json_io_get_string(ret, "status");
		if (status && strcmp(status, "completed") == 0)
			return 0;
		if (status && (strcmp(status, "failed") == 0 || strcmp(status, "cancelled") == 0))
			return error_set(err, EIO, "the migration %s: %s", status,
					 json_io_get_string(ret, "error-desc") ?: "no reason given");
		if (clock_now_ms() >= deadline)
			return error_set(err, ETIMEDOUT, "the migration did not end within %d s",
					 WARM_MIGRATE_TIMEOUT_MS / 1000);
		clock_sleep(5, deadline);
	}
}

/* The console so far: the boot, kept with the snapshot. */
static char *warm_boot_log(const struct target_run *run, size_t *ret_len)
{
	struct stat st;
	char *buf;
	ssize_t n;

	*ret_len = 0;
	if (fstat(run->record->console_fd, &st) < 0 || st.st_size > (4 << 20))
		return NULL;
	buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		return NULL;
	n = pread(run->record->console_fd, buf, (size_t)st.st_size, 0);
	*ret_len = n > 0 ? (size_t)n : 0;
	return buf;
}

/* Migrate the device state to a file and keep it with the RAM; the VM is paused after. */
static int warm_save_snapshot(struct target_run *run, bool *ret_paused, struct error *err)
{
	struct warm_start *w = warm(run);
	_cleanup_free_ char *state = NULL, *quoted = NULL, *uri = NULL, *boot_log = NULL;
	size_t boot_log_len;
	int r;

	/* In the run's private directory, which no guest reaches. */
	if (asprintf(&state, "%s/" WARM_STATE_FILE, run->run_dir) < 0)
		state = NULL;
	quoted = state ? shell_quote_word(state) : NULL;
	if (!quoted || asprintf(&uri, "exec:cat > %s", quoted) < 0)
		return error_set(err, ENOMEM, "out of memory");
	r = warm_ignore_shared(run, err);
	if (r >= 0)
		r = warm_uri_command(run, "migrate", uri, err);
	if (r >= 0)
		r = warm_migration_done(run, err);
	if (r < 0)
		return r;
	*ret_paused = true;
	/* The boot's console goes with the snapshot: not a part of it. */
	if (run->console_errno || (run->console && !console_spool_whole(run->console)))
		return error_set(err, EIO, "the console's spool is incomplete (%s): a snapshot "
				 "keeps its boot's log whole or not at all",
				 strerror(run->console_errno ?: ENOSPC));
	boot_log = warm_boot_log(run, &boot_log_len);
	r = snapshot_save(w->cache_dir, w->key, w->ram_fd, run->target->vm.memory_bytes, state,
			  &w->files, boot_log ? boot_log : "", boot_log_len, err);
	unlink(state);
	return r;
}

int warm_start_save(struct target_run *run, struct error *err)
{
	struct warm_start *w = warm(run);
	struct error save_err = { 0 };
	int64_t start = clock_now_ms();
	bool paused = false;
	int r;

	if (!w || w->mode != WARM_SAVE)
		return 0;
	r = warm_save_snapshot(run, &paused, &save_err);
	/* QEMU said no (a device that blocks migration): no use asking again. */
	if (r == -EREMOTEIO)
		snapshot_refuse(w->cache_dir, w->key, save_err.msg);
	/* Only the speed of later runs is at stake: said with -v. */
	if (r < 0)
		record_log(run->record, 1, "could not save a snapshot of the booted guest (%s): "
			   "the next run boots cold too", save_err.msg);
	else
		record_log(run->record, 1, "saved the snapshot %016llx in %.2f s",
			   (unsigned long long)w->key, (double)(clock_now_ms() - start) / 1000);
	/* A failed migration leaves the guest running; a completed one paused. */
	if (!paused)
		return 0;
	return qmp_execute(run->qmp, "cont", NULL, clock_deadline(WARM_MIGRATE_TIMEOUT_MS), NULL,
			   err);
}

void warm_start_clear(struct target_run *run)
{
	struct warm_start *w = warm(run);

	if (!w)
		return;
	snapshot_close(w->snapshot);
	if (w->ram_fd >= 0)
		close(w->ram_fd);
	if (w->state_fd >= 0)
		close(w->state_fd);
	free(w->cache_dir);
	free(w);
	run->warm = NULL;
}
