// SPDX-License-Identifier: MIT
/*
 * The snapshot store: its key tells guests apart, a snapshot comes back
 * whole and sparse, one changed behind vmtest's back is refused, and the
 * cache keeps to its size.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "boot/cache.h"
#include "boot/snapshot.h"

#define RAM_SIZE (16 << 20)

static char dir[] = "/tmp/vmtest-test-snapshot-XXXXXX";

static void test_key(void **state)
{
	char *argv[] = { "qemu-system-x86_64", "-m", "4G", NULL };
	char *other[] = { "qemu-system-x86_64", "-m", "2G", NULL };
	char file[PATH_MAX];
	const char *files[] = { file, NULL };
	uint64_t a, b;
	int fd;

	snprintf(file, sizeof(file), "%s/kernel", dir);
	fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0 && write(fd, "kernel", 6) == 6);
	close(fd);
	a = snapshot_key(argv, files, false);
	assert_int_not_equal(a, 0);
	assert_int_equal(snapshot_key(argv, files, false), a);
	assert_int_not_equal(snapshot_key(other, files, false), a);
	assert_int_not_equal(snapshot_key(argv, files, true), a);
	/* The same name, rewritten: another kernel, as far as anyone can tell. */
	fd = open(file, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0 && write(fd, "kernel", 6) == 6);
	close(fd);
	b = snapshot_key(argv, files, false);
	assert_int_not_equal(b, a);
}

/* A guest's RAM: a few pages written here and there, the rest never touched. */
static int ram_with_pages(void)
{
	struct error err = { 0 };
	int fd = snapshot_memfd("test-ram", RAM_SIZE, &err);
	char page[4096];

	assert_true(fd >= 0);
	for (int i = 0; i < 8; i++) {
		memset(page, 'a' + i, sizeof(page));
		assert_int_equal(pwrite(fd, page, sizeof(page), (off_t)i * (1 << 20)), sizeof(page));
	}
	/* Touched, but zero: left out of the snapshot. */
	memset(page, 0, sizeof(page));
	assert_int_equal(pwrite(fd, page, sizeof(page), 12 << 20), sizeof(page));
	return fd;
}

static void save_with(uint64_t key, int ram, const struct snapshot_files *files)
{
	char state[PATH_MAX];
	struct error err = { 0 };
	FILE *f;

	snprintf(state, sizeof(state), "%s/state-in", dir);
	f = fopen(state, "w");
	assert_non_null(f);
	fputs("device state", f);
	fclose(f);
	if (snapshot_save(dir, key, ram, RAM_SIZE, state, files, "boot log\n", 9, &err) < 0)
		fail_msg("%s", err.msg);
}

static void save(uint64_t key, int ram)
{
	save_with(key, ram, NULL);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void assert_file_text(const char *path, const char *text)
{
	char buf[256] = "";
	FILE *f = fopen(path, "r");

	assert_non_null(f);
	fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	assert_string_equal(buf, text);
}

static void test_round_trip(void **state)
{
	int ram = ram_with_pages(), ram2;
	struct snapshot *s = NULL;
	struct error err = { 0 };
	char why[512] = "", path[PATH_MAX], *log = NULL, buf[64];
	size_t log_len;
	int state_fd = -1;
	struct stat st;

	if (!cache_trust_available())
		fail_msg("the kernel keyring is out of reach: snapshots cannot be trusted here");
	assert_int_equal(snapshot_open(dir, 0x1234, NULL, &s, why, sizeof(why)), 0);
	assert_string_equal(why, "no snapshot yet for this kernel and machine");
	save(0x1234, ram);
	/* Sparse: eight pages of data, not 16 MiB. */
	snprintf(path, sizeof(path), "%s/snapshots/0000000000001234/ram", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, RAM_SIZE);
	assert_true(st.st_blocks * 512 <= 64 * 4096);

	assert_int_equal(snapshot_open(dir, 0x1234, NULL, &s, why, sizeof(why)), 1);
	ram2 = snapshot_memfd("test-ram2", RAM_SIZE, &err);
	assert_int_equal(snapshot_load(s, ram2, NULL, &state_fd, &log, &log_len, &err), 0);
	for (int i = 0; i < 8; i++) {
		assert_int_equal(pread(ram2, buf, sizeof(buf), (off_t)i * (1 << 20) + 100), sizeof(buf));
		for (size_t j = 0; j < sizeof(buf); j++)
			assert_int_equal(buf[j], 'a' + i);
	}
	assert_int_equal(read(state_fd, buf, sizeof(buf)), 12);
	assert_memory_equal(buf, "device state", 12);
	assert_int_equal(log_len, 9);
	assert_memory_equal(log, "boot log\n", 9);
	free(log);
	close(state_fd);
	snapshot_close(s);

	/* Changed behind vmtest's back: refused. */
	snprintf(path, sizeof(path), "%s/snapshots/0000000000001234/state", dir);
	truncate(path, 3);
	assert_int_equal(snapshot_open(dir, 0x1234, NULL, &s, why, sizeof(why)), 0);
	assert_non_null(strstr(why, "is not one vmtest wrote"));
	/* A guest of another size cannot take it. */
	snapshot_remove(dir, 0x1234);
	save(0x1234, ram);
	assert_int_equal(snapshot_open(dir, 0x1234, NULL, &s, why, sizeof(why)), 1);
	close(ram2);
	ram2 = snapshot_memfd("test-ram3", RAM_SIZE / 2, &err);
	assert_int_equal(snapshot_load(s, ram2, NULL, &state_fd, &log, &log_len, &err), -EINVAL);
	snapshot_close(s);
	close(ram2);
	close(ram);
}

/*
 * An image's disk layer and UEFI variables go with its snapshot, and each
 * restore gets copies of its own; a snapshot without them serves no guest
 * that has them.
 */
static void test_run_files(void **state)
{
	int ram = ram_with_pages(), ram2;
	char disk[PATH_MAX], vars[PATH_MAX], disk2[PATH_MAX], vars2[PATH_MAX], why[512];
	struct snapshot_files files = { disk, vars }, restored = { disk2, vars2 };
	struct snapshot *s = NULL;
	struct error err = { 0 };
	size_t log_len;
	char *log = NULL;
	int state_fd = -1;

	snprintf(disk, sizeof(disk), "%s/disk-in", dir);
	snprintf(vars, sizeof(vars), "%s/vars-in", dir);
	snprintf(disk2, sizeof(disk2), "%s/disk-out", dir);
	snprintf(vars2, sizeof(vars2), "%s/vars-out", dir);
	write_file(disk, "the disk layer");
	write_file(vars, "uefi variables");
	/* A snapshot without them cannot stand in for a guest with them. */
	save(0x4242, ram);
	assert_int_equal(snapshot_open(dir, 0x4242, &files, &s, why, sizeof(why)), 0);
	assert_non_null(strstr(why, "is incomplete (disk"));
	snapshot_remove(dir, 0x4242);

	save_with(0x4242, ram, &files);
	/* The run goes on writing its own: the snapshot keeps what it saved. */
	write_file(disk, "written after the save");
	write_file(disk2, "an older run's layer");
	assert_int_equal(snapshot_open(dir, 0x4242, &restored, &s, why, sizeof(why)), 1);
	ram2 = snapshot_memfd("test-ram4", RAM_SIZE, &err);
	if (snapshot_load(s, ram2, &restored, &state_fd, &log, &log_len, &err) < 0)
		fail_msg("%s", err.msg);
	assert_file_text(disk2, "the disk layer");
	assert_file_text(vars2, "uefi variables");
	free(log);
	close(state_fd);
	snapshot_close(s);
	close(ram2);
	close(ram);
}

/* A second save of the same key keeps the first; a small cache keeps the newest. */
static void test_concurrent_and_full(void **state)
{
	int ram = ram_with_pages();
	char path[PATH_MAX];
	struct stat first, again;

	save(0x5678, ram);
	snprintf(path, sizeof(path), "%s/snapshots/0000000000005678/ram", dir);
	assert_int_equal(stat(path, &first), 0);
	save(0x5678, ram);
	assert_int_equal(stat(path, &again), 0);
	assert_int_equal(first.st_ino, again.st_ino);

	setenv("VMTEST_SNAPSHOT_CACHE_SIZE", "1", 1);
	save(0x9abc, ram);
	unsetenv("VMTEST_SNAPSHOT_CACHE_SIZE");
	assert_int_equal(access(path, F_OK), -1);
	snprintf(path, sizeof(path), "%s/snapshots/0000000000009abc/ram", dir);
	assert_int_equal(access(path, F_OK), 0);
	close(ram);
}

/*
 * Several processes record files at once, as parallel vmtest runs do: the
 * key is read, changed and written by each, and no record may be lost
 * (one lost is a file made again, a snapshot saved again).
 */
static void test_trust_from_several_processes(void **state)
{
	enum { PROCS = 8, FILES = 12 };
	pid_t pids[PROCS];
	char path[PATH_MAX], go;
	int start[2];

	if (!cache_trust_available())
		fail_msg("the kernel keyring is out of reach: cache files cannot be trusted here");
	assert_int_equal(pipe(start), 0);
	for (int p = 0; p < PROCS; p++) {
		pids[p] = fork();
		assert_true(pids[p] >= 0);
		if (pids[p] == 0) {
			/* All at once: each waits for the parent's end to close. */
			close(start[1]);
			if (read(start[0], &go, 1) != 0)
				_exit(1);
			for (int f = 0; f < FILES; f++) {
				int fd;

				snprintf(path, sizeof(path), "%s/trust-%d-%d", dir, p, f);
				fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
				if (fd < 0 || write(fd, path, strlen(path)) < 0)
					_exit(1);
				cache_trust(fd, path);
				close(fd);
			}
			_exit(0);
		}
	}
	close(start[0]);
	close(start[1]);
	for (int p = 0; p < PROCS; p++) {
		int status;

		assert_int_equal(waitpid(pids[p], &status, 0), pids[p]);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	for (int p = 0; p < PROCS; p++)
		for (int f = 0; f < FILES; f++) {
			snprintf(path, sizeof(path), "%s/trust-%d-%d", dir, p, f);
			if (!cache_trusted(path))
				fail_msg("the record of %s was lost", path);
		}
}

/*
 * Runs that make the same cache file at the same time (three one-liners
 * started together) end with one file, the first published: each sees the
 * file it was given stay put, trusted, the same inode for all.  A file
 * vmtest did not record is replaced.
 */
static void test_publish_from_several_processes(void **state)
{
	enum { PROCS = 6 };
	char path[PATH_MAX], go;
	pid_t pids[PROCS];
	int start[2], published[2], check[2], seen[2];
	ino_t first = 0;

	if (!cache_trust_available())
		fail_msg("the kernel keyring is out of reach: cache files cannot be trusted here");
	snprintf(path, sizeof(path), "%s/published", dir);
	assert_int_equal(pipe(start), 0);
	assert_int_equal(pipe(published), 0);
	assert_int_equal(pipe(check), 0);
	assert_int_equal(pipe(seen), 0);
	for (int p = 0; p < PROCS; p++) {
		pids[p] = fork();
		assert_true(pids[p] >= 0);
		if (pids[p] == 0) {
			struct error err = { 0 };
			struct stat mine, later;

			close(start[1]);
			close(published[0]);
			close(check[1]);
			if (read(start[0], &go, 1) != 0)
				_exit(1);
			if (cache_write(dir, "published", "same", 4, &err) < 0 || stat(path, &mine) < 0)
				_exit(2);
			/* Once every process has published, the file given has stayed. */
			if (write(published[1], "p", 1) != 1)
				_exit(5);
			close(published[1]);	/* so that one that failed is seen */
			if (read(check[0], &go, 1) != 0)
				_exit(5);
			if (stat(path, &later) < 0 || !cache_same_file(&mine, &later) ||
			    !cache_trusted(path))
				_exit(3);
			if (write(seen[1], &mine.st_ino, sizeof(mine.st_ino)) != sizeof(mine.st_ino))
				_exit(4);
			_exit(0);
		}
	}
	close(start[0]);
	close(start[1]);
	close(published[1]);
	close(check[0]);
	close(seen[1]);
	for (int p = 0; p < PROCS; p++)
		assert_int_equal(read(published[0], &go, 1), 1);
	close(published[0]);
	close(check[1]);
	for (int p = 0; p < PROCS; p++) {
		int status;
		ino_t ino;

		assert_int_equal(waitpid(pids[p], &status, 0), pids[p]);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			fail_msg("process %d: the file it was given changed under it (%d)", p,
				 WEXITSTATUS(status));
		assert_int_equal(read(seen[0], &ino, sizeof(ino)), sizeof(ino));
		if (p == 0)
			first = ino;
		assert_int_equal(ino, first);
	}
	close(seen[0]);
	/* A file planted there, not recorded: replaced by the next write. */
	assert_int_equal(unlink(path), 0);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, "evil", 4), 4);
	close(fd);
	assert_false(cache_trusted(path));
	assert_int_equal(cache_write(dir, "published", "same", 4, &(struct error){ 0 }), 0);
	assert_true(cache_trusted(path));
	char got[8] = { 0 };

	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, got, sizeof(got)), 4);
	assert_string_equal(got, "same");
	close(fd);
	/* No temporary file left by the writes that lost. */
	DIR *d = opendir(dir);
	struct dirent *e;

	assert_non_null(d);
	while ((e = readdir(d)))
		if (strncmp(e->d_name, ".published.", 11) == 0)
			fail_msg("%s left in the cache", e->d_name);
	closedir(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_run_files),
		cmocka_unit_test(test_concurrent_and_full),
		cmocka_unit_test(test_trust_from_several_processes),
		cmocka_unit_test(test_publish_from_several_processes),
	};
	int r;

	if (!mkdtemp(dir))
		return 1;
	r = cmocka_run_group_tests(tests, NULL, NULL);
	{
		char cmd[PATH_MAX + 16];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd) != 0)
			r = 1;
	}
	return r;
}
