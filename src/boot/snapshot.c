// SPDX-License-Identifier: MIT
#include "boot/snapshot.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "io.h"
#include "base/exec_path.h"
#include "base/size.h"
#include "boot/cache.h"

/* Changed whenever what a snapshot holds, or how, changes. */
#define SNAPSHOT_FORMAT "vmtest-snapshot-1"
#define SNAPSHOT_PAGE 4096
/* A migration stream without RAM is a few hundred kB; anything near this is not one. */
#define SNAPSHOT_STATE_MAX (64 << 20)
#define SNAPSHOT_CONSOLE_MAX (4 << 20)

/* Every snapshot has the first three; the run's files (snapshot_files) only when its guest has them. */
enum {
	SNAPSHOT_RAM,
	SNAPSHOT_STATE,
	SNAPSHOT_CONSOLE,
	SNAPSHOT_DISK,
	SNAPSHOT_VARS,
	SNAPSHOT_N_FILES
};
static const char *const snapshot_file_names[SNAPSHOT_N_FILES] = { "ram", "state", "console",
								    "disk", "vars" };

struct snapshot {
	char *dir;
	int fds[SNAPSHOT_N_FILES];
	struct stat st[SNAPSHOT_N_FILES];
};

/* The run's path of file i, for the files a run has; NULL for the others. */
static const char *snapshot_run_path(const struct snapshot_files *files, int i)
{
	if (!files)
		return NULL;
	return i == SNAPSHOT_DISK ? files->disk : i == SNAPSHOT_VARS ? files->vars : NULL;
}

static bool snapshot_has(const struct snapshot_files *files, int i)
{
	return i < SNAPSHOT_DISK || snapshot_run_path(files, i);
}

/* --- the key ----------------------------------------------------------------- */

static void snapshot_key_file(FILE *f, const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0) {
		fprintf(f, "%s -\n", path);
		return;
	}
	fprintf(f, "%s %llu %llu %lld %lld.%09ld %lld.%09ld\n", path, (unsigned long long)st.st_dev,
		(unsigned long long)st.st_ino, (long long)st.st_size, (long long)st.st_mtim.tv_sec,
		st.st_mtim.tv_nsec, (long long)st.st_ctim.tv_sec, st.st_ctim.tv_nsec);
}

/* Every file of a directory QEMU reads firmware and option ROMs from. */
static void snapshot_key_dir(FILE *f, const char *dir)
{
	struct dirent **names;
	int n = scandir(dir, &names, NULL, alphasort);

	for (int i = 0; i < n; i++) {
		char path[PATH_MAX];

		if (names[i]->d_name[0] != '.' &&
		    snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name) < (int)sizeof(path))
			snapshot_key_file(f, path);
		free(names[i]);
	}
	if (n >= 0)
		free(names);
}

/* The QEMU binary as exec finds it. */
static void snapshot_key_qemu(FILE *f, const char *command)
{
	_cleanup_free_ char *path = exec_path_find(command);

	if (path)
		snapshot_key_file(f, path);
	else
		fprintf(f, "%s not found\n", command);
}

/* Under KVM the guest sees the host's CPU (-cpu host) through the host's kernel. */
static void snapshot_key_host_cpu(FILE *f)
{
	_cleanup_fclose_ FILE *cpuinfo = fopen("/proc/cpuinfo", "re");
	struct utsname u;
	char line[8192];

	if (uname(&u) == 0)
		fprintf(f, "%s %s\n", u.release, u.version);
	while (cpuinfo && fgets(line, sizeof(line), cpuinfo) && line[0] != '\n')
		if (!strncmp(line, "vendor_id", 9) || !strncmp(line, "model", 5) ||
		    !strncmp(line, "cpu family", 10) || !strncmp(line, "stepping", 8) ||
		    !strncmp(line, "microcode", 9) || !strncmp(line, "flags", 5) ||
		    !strncmp(line, "Features", 8) || !strncmp(line, "CPU ", 4))
			fputs(line, f);
}

uint64_t snapshot_key(char *const *key_argv, const char *const *files, bool kvm)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	uint64_t key;

	if (!f)
		return 0;
	fprintf(f, "%s\n", SNAPSHOT_FORMAT);
	for (char *const *a = key_argv; *a; a++)
		fprintf(f, "%s%c", *a, 0);
	fputc('\n', f);
	for (const char *const *p = files; *p; p++)
		snapshot_key_file(f, *p);
	snapshot_key_qemu(f, key_argv[0]);
	snapshot_key_dir(f, "/usr/share/qemu");
	snapshot_key_dir(f, "/usr/local/share/qemu");
	if (kvm)
		snapshot_key_host_cpu(f);
	if (fclose(f) != 0 || !text)
		return 0;
	key = cache_hash(text, len);
	return key ? key : 1;
}

/* --- paths -------------------------------------------------------------------- */

static char *snapshot_root(const char *cache_dir)
{
	char *root;

	return asprintf(&root, "%s/snapshots", cache_dir) < 0 ? NULL : root;
}

static char *snapshot_dir(const char *cache_dir, uint64_t key)
{
	char *dir;

	return asprintf(&dir, "%s/snapshots/%016llx", cache_dir, (unsigned long long)key) < 0
		       ? NULL : dir;
}

/* Remove a snapshot directory and what it holds (best effort). */
static void snapshot_remove_dir(const char *dir)
{
	_cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *d = dfd >= 0 ? fdopendir(dup(dfd)) : NULL;
	struct dirent *e;

	while (d && (e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			unlinkat(dfd, e->d_name, 0);
	if (d)
		closedir(d);
	if (rmdir(dir) < 0 && dfd < 0)
		unlink(dir); /* not a directory: a guest's */
}

void snapshot_remove(const char *cache_dir, uint64_t key)
{
	_cleanup_free_ char *dir = snapshot_dir(cache_dir, key);

	if (dir)
		snapshot_remove_dir(dir);
}

/* --- reading ------------------------------------------------------------------- */

struct snapshot *snapshot_close(struct snapshot *s)
{
	if (!s)
		return NULL;
	for (int i = 0; i < SNAPSHOT_N_FILES; i++)
		if (s->fds[i] >= 0)
			close(s->fds[i]);
	free(s->dir);
	free(s);
	return NULL;
}

/* Open one file and check it is the one vmtest recorded. */
static int snapshot_open_file(struct snapshot *s, int i, char *why, size_t why_len)
{
	_cleanup_free_ char *path = NULL;
	struct stat st;

	if (asprintf(&path, "%s/%s", s->dir, snapshot_file_names[i]) < 0)
		return -ENOMEM;
	s->fds[i] = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (s->fds[i] < 0 || fstat(s->fds[i], &s->st[i]) < 0) {
		snprintf(why, why_len, "the snapshot %s is incomplete (%s: %s)", s->dir,
			 snapshot_file_names[i], strerror(errno));
		return 0;
	}
	if (!cache_trusted(path) || stat(path, &st) < 0 || !cache_same_file(&st, &s->st[i])) {
		snprintf(why, why_len, "the snapshot %s is not one vmtest wrote, or it changed since",
			 s->dir);
		return 0;
	}
	return 1;
}

/* The reason QEMU gave when it refused to save KEY, if vmtest recorded one. */
static bool snapshot_refused(const char *cache_dir, uint64_t key, char *why, size_t why_len)
{
	_cleanup_free_ char *path = NULL;
	_cleanup_close_ int fd = -1;
	char reason[512];
	ssize_t n;

	if (asprintf(&path, "%s/snapshots/%016llx.refused", cache_dir, (unsigned long long)key) < 0)
		return false;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || !cache_trusted(path))
		return false;
	n = read(fd, reason, sizeof(reason) - 1);
	reason[n > 0 ? n : 0] = '\0';
	snprintf(why, why_len, "QEMU could not save a snapshot of this guest before (%s); remove %s to try again",
		 reason, path);
	return true;
}

void snapshot_refuse(const char *cache_dir, uint64_t key, const char *why)
{
	_cleanup_free_ char *root = snapshot_root(cache_dir);
	struct error ignored = { 0 };
	char name[64];

	if (!root || (mkdir(root, 0700) < 0 && errno != EEXIST))
		return;
	snprintf(name, sizeof(name), "%016llx.refused", (unsigned long long)key);
	cache_write(root, name, why, strlen(why), &ignored);
}

int snapshot_open(const char *cache_dir, uint64_t key, const struct snapshot_files *files,
		  struct snapshot **ret, char *why, size_t why_len)
{
	struct snapshot *s;
	int r;

	if (snapshot_refused(cache_dir, key, why, why_len))
		return 2;
	s = calloc(1, sizeof(*s));
	r = s ? 1 : -ENOMEM;

	for (int i = 0; i < SNAPSHOT_N_FILES && s; i++)
		s->fds[i] = -1;
	if (r > 0 && !(s->dir = snapshot_dir(cache_dir, key)))
		r = -ENOMEM;
	if (r > 0 && access(s->dir, F_OK) < 0) {
		snprintf(why, why_len, "no snapshot yet for this kernel and machine");
		r = 0;
	}
	for (int i = 0; r > 0 && i < SNAPSHOT_N_FILES; i++)
		if (snapshot_has(files, i))
			r = snapshot_open_file(s, i, why, why_len);
	if (r <= 0) {
		snapshot_close(s);
		return r;
	}
	*ret = s;
	return 1;
}

/* The data extents of src into the same offsets of the map. */
static int snapshot_copy_extents(int src, off_t size, unsigned char *map)
{
	off_t off = 0;

	for (;;) {
		off_t data = lseek(src, off, SEEK_DATA), hole;

		if (data < 0)
			return errno == ENXIO ? 0 : -errno;
		hole = lseek(src, data, SEEK_HOLE);
		if (hole < 0 || hole > size)
			hole = size;
		for (off = data; off < hole;) {
			ssize_t n = pread(src, map + off, (size_t)(hole - off), off);

			if (n <= 0)
				return n < 0 ? -errno : -EIO;
			off += n;
		}
	}
}

static int snapshot_read_all(int fd, off_t size, off_t max, char **ret)
{
	char *buf;
	ssize_t n;

	if (size > max)
		return -EFBIG;
	buf = malloc((size_t)size + 1);
	if (!buf)
		return -ENOMEM;
	n = pread(fd, buf, (size_t)size, 0);
	if (n != size) {
		free(buf);
		return n < 0 ? -errno : -EIO;
	}
	buf[size] = '\0';
	*ret = buf;
	return 0;
}

/* Whether the files are still those opened, unchanged (a write changes the ctime). */
static bool snapshot_unchanged(const struct snapshot *s)
{
	for (int i = 0; i < SNAPSHOT_N_FILES; i++) {
		struct stat st;

		if (s->fds[i] >= 0 &&
		    (fstat(s->fds[i], &st) < 0 || !cache_same_file(&st, &s->st[i])))
			return false;
	}
	return true;
}

/* The snapshot's copy of a run's file, as the run's own (a new file). */
static int snapshot_load_file(const struct snapshot *s, int i, const char *to, struct error *err)
{
	_cleanup_close_ int out = -1;
	int r;

	unlink(to);
	out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	r = out < 0 ? -errno : io_copy_all(s->fds[i], out);
	if (r < 0)
		return error_set_errno(err, -r, "copy %s/%s to %s", s->dir, snapshot_file_names[i], to);
	return 0;
}

int snapshot_load(const struct snapshot *s, int ram_fd, const struct snapshot_files *files,
		  int *ret_state_fd, char **ret_boot_log, size_t *ret_boot_log_len,
		  struct error *err)
{
	_cleanup_free_ char *state = NULL, *console = NULL;
	_cleanup_close_ int state_fd = -1;
	struct stat ram_st;
	unsigned char *map;
	int r;

	if (fstat(ram_fd, &ram_st) < 0 || ram_st.st_size != s->st[SNAPSHOT_RAM].st_size)
		return error_set(err, EINVAL, "the snapshot's RAM (%lld bytes) is not the guest's size",
				 (long long)s->st[SNAPSHOT_RAM].st_size);
	map = mmap(NULL, (size_t)ram_st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, ram_fd, 0);
	if (map == MAP_FAILED)
		return error_set_errno(err, errno, "map the guest's RAM");
	r = snapshot_copy_extents(s->fds[SNAPSHOT_RAM], ram_st.st_size, map);
	munmap(map, (size_t)ram_st.st_size);
	if (r < 0)
		return error_set_errno(err, -r, "read %s/ram", s->dir);
	r = snapshot_read_all(s->fds[SNAPSHOT_STATE], s->st[SNAPSHOT_STATE].st_size,
			      SNAPSHOT_STATE_MAX, &state);
	if (r >= 0)
		r = snapshot_read_all(s->fds[SNAPSHOT_CONSOLE], s->st[SNAPSHOT_CONSOLE].st_size,
				      SNAPSHOT_CONSOLE_MAX, &console);
	if (r < 0)
		return error_set_errno(err, -r, "read the snapshot %s", s->dir);
	for (int i = SNAPSHOT_DISK; i < SNAPSHOT_N_FILES; i++)
		if (s->fds[i] >= 0 && snapshot_run_path(files, i) &&
		    snapshot_load_file(s, i, snapshot_run_path(files, i), err) < 0)
			return -err->code;
	if (!snapshot_unchanged(s))
		return error_set(err, ESTALE, "the snapshot %s changed while it was read", s->dir);
	state_fd = snapshot_memfd("vmtest-state", 0, err);
	if (state_fd < 0)
		return state_fd;
	r = io_write_all(state_fd, state, (size_t)s->st[SNAPSHOT_STATE].st_size);
	if (r >= 0 && lseek(state_fd, 0, SEEK_SET) < 0)
		r = -errno;
	if (r < 0)
		return error_set_errno(err, -r, "keep the snapshot's state in memory");
	/* Used: the least recently used go first. */
	utimensat(AT_FDCWD, s->dir, NULL, 0);
	*ret_state_fd = TAKE_FD(state_fd);
	*ret_boot_log_len = (size_t)s->st[SNAPSHOT_CONSOLE].st_size;
	*ret_boot_log = TAKE_PTR(console);
	return 0;
}

/* --- writing ------------------------------------------------------------------- */

int snapshot_memfd(const char *name, uint64_t size, struct error *err)
{
	int fd = memfd_create(name, MFD_CLOEXEC);

	if (fd < 0)
		return error_set_errno(err, errno, "memfd_create");
	if (ftruncate(fd, (off_t)size) < 0) {
		int e = errno;

		close(fd);
		return error_set_errno(err, e, "size the guest's memory (%llu bytes)",
				       (unsigned long long)size);
	}
	return fd;
}

static bool snapshot_page_zero(const unsigned char *page)
{
	static const unsigned char zero[SNAPSHOT_PAGE];

	return memcmp(page, zero, SNAPSHOT_PAGE) == 0;
}

/* RAM into out, sparse: the data extents of ram_fd without their zero pages. */
static int snapshot_write_ram(int ram_fd, uint64_t size, int out)
{
	unsigned char *map;
	off_t off = 0;
	int r = 0;

	if (ftruncate(out, (off_t)size) < 0)
		return -errno;
	map = mmap(NULL, size, PROT_READ, MAP_SHARED, ram_fd, 0);
	if (map == MAP_FAILED)
		return -errno;
	while (r >= 0) {
		off_t data = lseek(ram_fd, off, SEEK_DATA), hole;

		if (data < 0) {
			r = errno == ENXIO ? 0 : -errno;
			break;
		}
		hole = lseek(ram_fd, data, SEEK_HOLE);
		if (hole < 0 || (uint64_t)hole > size)
			hole = (off_t)size;
		for (off = data; off < hole && r >= 0;) {
			off_t run = off;

			while (run < hole && !snapshot_page_zero(map + run))
				run += SNAPSHOT_PAGE;
			if (run > off)
				r = io_pwrite_all(out, map + off, (size_t)(run - off), off);
			off = run + SNAPSHOT_PAGE;
		}
		if (r >= 0 && off >= (off_t)size)
			break;
	}
	munmap(map, size);
	return r;
}

static int snapshot_copy_file(const char *from, int out)
{
	_cleanup_close_ int in = open(from, O_RDONLY | O_CLOEXEC);

	return in < 0 ? -errno : io_copy_all(in, out);
}

struct snapshot_entry {
	char name[32];
	time_t used;
	uint64_t bytes;
};

static int snapshot_entry_cmp(const void *a, const void *b)
{
	const struct snapshot_entry *x = a, *y = b;

	return (x->used > y->used) - (x->used < y->used);
}

static uint64_t snapshot_dir_bytes(int rootfd, const char *name)
{
	_cleanup_close_ int dfd = openat(rootfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	uint64_t bytes = 0;

	for (int i = 0; dfd >= 0 && i < SNAPSHOT_N_FILES; i++) {
		struct stat st;

		if (fstatat(dfd, snapshot_file_names[i], &st, AT_SYMLINK_NOFOLLOW) == 0)
			bytes += (uint64_t)st.st_blocks * 512;
	}
	return bytes;
}

/* The least recently used snapshots out, until the rest fit; keep stays. */
static void snapshot_trim(const char *root, const char *keep, uint64_t max)
{
	_cleanup_free_ struct snapshot_entry *entries = NULL;
	size_t n = 0, cap = 0;
	uint64_t total = 0;
	DIR *d = opendir(root);
	struct dirent *e;

	while (d && (e = readdir(d))) {
		struct stat st;

		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		/* A save that never finished (its vmtest was killed): an hour is
		 * far longer than any save takes. */
		if (strncmp(e->d_name, ".new-", 5) == 0 && st.st_mtime < time(NULL) - 3600) {
			char path[PATH_MAX];

			snprintf(path, sizeof(path), "%s/%s", root, e->d_name);
			snapshot_remove_dir(path);
			continue;
		}
		if (e->d_name[0] == '.' || strlen(e->d_name) >= sizeof(entries->name))
			continue;
		if (n == cap) {
			struct snapshot_entry *more = realloc(entries, (cap = cap ? 2 * cap : 16) *
								       sizeof(*entries));
			if (!more)
				break;
			entries = more;
		}
		snprintf(entries[n].name, sizeof(entries[n].name), "%.31s", e->d_name);
		entries[n].used = st.st_mtime;
		entries[n].bytes = snapshot_dir_bytes(dirfd(d), e->d_name);
		total += entries[n++].bytes;
	}
	if (d)
		closedir(d);
	qsort(entries, n, sizeof(*entries), snapshot_entry_cmp);
	for (size_t i = 0; i < n && total > max; i++) {
		char path[PATH_MAX];

		if (strcmp(entries[i].name, keep) == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", root, entries[i].name);
		snapshot_remove_dir(path);
		total -= entries[i].bytes;
	}
}

uint64_t snapshot_cache_size(void)
{
	const char *text = getenv("VMTEST_SNAPSHOT_CACHE_SIZE");
	uint64_t bytes;

	if (text && *text && size_parse(text, 1, &bytes))
		return bytes;
	return SNAPSHOT_CACHE_SIZE_DEFAULT;
}

/* The files, written into the directory tmp; fds[] kept to trust them once in place. */
static int snapshot_write_files(const char *tmp, int ram_fd, uint64_t ram_size,
				const char *state_path, const struct snapshot_files *files,
				const char *boot_log, size_t boot_log_len,
				int fds[SNAPSHOT_N_FILES])
{
	int r = 0;

	for (int i = 0; r >= 0 && i < SNAPSHOT_N_FILES; i++) {
		_cleanup_free_ char *path = NULL;

		if (!snapshot_has(files, i))
			continue;
		if (asprintf(&path, "%s/%s", tmp, snapshot_file_names[i]) < 0)
			return -ENOMEM;
		fds[i] = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fds[i] < 0)
			return -errno;
	}
	r = snapshot_write_ram(ram_fd, ram_size, fds[SNAPSHOT_RAM]);
	if (r >= 0)
		r = snapshot_copy_file(state_path, fds[SNAPSHOT_STATE]);
	if (r >= 0)
		r = io_write_all(fds[SNAPSHOT_CONSOLE], boot_log, boot_log_len);
	for (int i = SNAPSHOT_DISK; r >= 0 && i < SNAPSHOT_N_FILES; i++)
		if (fds[i] >= 0)
			r = snapshot_copy_file(snapshot_run_path(files, i), fds[i]);
	/* On disk before it has a name: a crash must not leave a snapshot
	 * whose RAM is partly holes. */
	for (int i = 0; r >= 0 && i < SNAPSHOT_N_FILES; i++)
		if (fds[i] >= 0 && fsync(fds[i]) < 0)
			r = -errno;
	return r;
}

int snapshot_save(const char *cache_dir, uint64_t key, int ram_fd, uint64_t ram_size,
		  const char *state_path, const struct snapshot_files *files, const char *boot_log,
		  size_t boot_log_len, struct error *err)
{
	_cleanup_free_ char *root = snapshot_root(cache_dir), *dir = snapshot_dir(cache_dir, key);
	_cleanup_free_ char *tmp = NULL;
	int fds[SNAPSHOT_N_FILES];
	int r;

	for (int i = 0; i < SNAPSHOT_N_FILES; i++)
		fds[i] = -1;
	if (!root || !dir || asprintf(&tmp, "%s/.new-XXXXXX", root) < 0)
		return error_set(err, ENOMEM, "out of memory");
	if (mkdir(root, 0700) < 0 && errno != EEXIST)
		return error_set_errno(err, errno, "create %s", root);
	if (!mkdtemp(tmp))
		return error_set_errno(err, errno, "create a directory in %s", root);
	r = snapshot_write_files(tmp, ram_fd, ram_size, state_path, files, boot_log, boot_log_len,
				 fds);
	if (r >= 0 && rename(tmp, dir) < 0) {
		/* Another run saved it first, or an old one is there: a
		 * snapshot that could be opened is used, not replaced. */
		r = errno == EEXIST || errno == ENOTEMPTY ? 1 : -errno;
	}
	if (r < 0 || r == 1)
		snapshot_remove_dir(tmp);
	for (int i = 0; i < SNAPSHOT_N_FILES; i++) {
		char path[PATH_MAX];

		snprintf(path, sizeof(path), "%s/%s", dir, snapshot_file_names[i]);
		if (r == 0 && fds[i] >= 0)
			cache_trust(fds[i], path);
		if (fds[i] >= 0)
			close(fds[i]);
	}
	if (r < 0)
		return error_set_errno(err, -r, "save a snapshot in %s", root);
	snapshot_trim(root, strrchr(dir, '/') + 1, snapshot_cache_size());
	return 0;
}
