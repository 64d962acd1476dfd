// SPDX-License-Identifier: MIT
/*
 * boot/erofs_image: a tree laid out as EROFS, written out through
 * erofs_image_read, then checked and extracted by erofs-utils' fsck.erofs
 * (another implementation of the format), and the extract compared with
 * the tree: types, modes, owners, sizes, mtimes to the nanosecond,
 * contents, symlink targets.  Then what a run must never do: serve a file
 * that changed after the walk.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <grp.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "boot/erofs_image.h"

static char *tmp_dir(void)
{
	char *dir = strdup("/tmp/vmtest-erofs-XXXXXX");

	assert_non_null(mkdtemp(dir));
	return dir;
}

static void rm_rf(const char *dir)
{
	char cmd[2 * PATH_MAX];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static void write_file(const char *path, size_t size, unsigned seed)
{
	FILE *f = fopen(path, "we");

	assert_non_null(f);
	for (size_t i = 0; i < size; i++)
		fputc((int)((i * 131 + seed) % 251), f);
	assert_int_equal(fclose(f), 0);
}

static void set_mtime(const char *path, time_t sec, long nsec)
{
	struct timespec ts[2] = { { sec, nsec }, { sec, nsec } };

	assert_int_equal(utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW), 0);
}

/* A tree with what /usr holds, and the corners of the layout. */
static void make_tree(const char *root)
{
	char p[PATH_MAX], target[4091];
	static const size_t sizes[] = { 0, 1, 4095, 4096, 4097, 100000, 1 << 20 };

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		snprintf(p, sizeof(p), "%s/file-%zu", root, sizes[i]);
		write_file(p, sizes[i], (unsigned)i);
	}
	snprintf(p, sizeof(p), "%s/file-1", root);
	set_mtime(p, 1234567890, 123456789);
	snprintf(p, sizeof(p), "%s/setuid", root);
	write_file(p, 10, 7);
	assert_int_equal(chmod(p, 04755), 0);
	/* hard links: one inode in the image */
	snprintf(p, sizeof(p), "%s/file-4096", root);
	snprintf(target, sizeof(target), "%s/hardlink", root);
	assert_int_equal(link(p, target), 0);
	/* symlinks: short, and one too long to sit inline beside its inode */
	snprintf(p, sizeof(p), "%s/link", root);
	assert_int_equal(symlink("file-1", p), 0);
	memset(target, 'x', 4090);
	target[4090] = '\0';
	snprintf(p, sizeof(p), "%s/long-link", root);
	assert_int_equal(symlink(target, p), 0);
	snprintf(p, sizeof(p), "%s/fifo", root);
	assert_int_equal(mkfifo(p, 0640), 0);
	/* a directory of several blocks of entries, and a deep one */
	snprintf(p, sizeof(p), "%s/many", root);
	assert_int_equal(mkdir(p, 0755), 0);
	for (int i = 0; i < 700; i++) {
		char f[PATH_MAX];

		snprintf(f, sizeof(f), "%s/many/entry-with-a-rather-long-name-%04d", root, i);
		write_file(f, (size_t)(i % 3), (unsigned)i);
	}
	snprintf(p, sizeof(p), "%s/a/b/c/d/e", root);
	for (char *s = p + strlen(root) + 1; (s = strchr(s, '/')); s++) {
		*s = '\0';
		assert_int_equal(mkdir(p, 0750), 0);
		*s = '/';
	}
	assert_int_equal(mkdir(p, 0700), 0);
	snprintf(p, sizeof(p), "%s/a/b/c/d/e/deep", root);
	write_file(p, 5000, 3);
	/* names sorted around "." and "..": '-' and '+' come before '.' */
	snprintf(p, sizeof(p), "%s/-dash", root);
	write_file(p, 1, 1);
	snprintf(p, sizeof(p), "%s/+plus", root);
	write_file(p, 1, 1);
	snprintf(p, sizeof(p), "%s/.hidden", root);
	write_file(p, 1, 1);
	/* left out: 9p answers for it */
	snprintf(p, sizeof(p), "%s/local", root);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/local/mine", root);
	write_file(p, 3, 3);
}

static void write_image(struct erofs_image *image, const char *path)
{
	const struct erofs_image_stats *s = erofs_image_stats(image);
	static unsigned char buf[1 << 16];
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	for (uint64_t off = 0; off < s->image_bytes; off += sizeof(buf)) {
		size_t n = s->image_bytes - off < sizeof(buf) ? (size_t)(s->image_bytes - off)
							       : sizeof(buf);
		const char *bad = NULL;

		assert_int_equal(erofs_image_read(image, off, buf, n, &bad), 0);
		assert_int_equal(write(fd, buf, n), (ssize_t)n);
	}
	assert_int_equal(close(fd), 0);
}

static bool same_contents(const char *a, const char *b)
{
	char cmd[2 * PATH_MAX + 32];

	snprintf(cmd, sizeof(cmd), "cmp -s '%s' '%s'", a, b);
	return system(cmd) == 0;
}

/* Every entry of want, as it is in got; returns how many were compared. */
static int compare_trees(const char *want, const char *got)
{
	DIR *d = opendir(want);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d))) {
		char w[PATH_MAX], g[PATH_MAX];
		struct stat ws, gs;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(w, sizeof(w), "%s/%s", want, de->d_name);
		snprintf(g, sizeof(g), "%s/%s", got, de->d_name);
		assert_int_equal(lstat(w, &ws), 0);
		if (lstat(g, &gs) < 0)
			fail_msg("%s is missing from the image", w);
		n++;
		/* fsck.erofs chowns after its chmod, which drops set-id bits:
		 * the guest's test (test_usr_image.py) checks those. */
		if ((ws.st_mode & ~(mode_t)(S_ISUID | S_ISGID)) !=
		    (gs.st_mode & ~(mode_t)(S_ISUID | S_ISGID)))
			fail_msg("%s: mode %o, the image's %o", w, ws.st_mode, gs.st_mode);
		assert_int_equal(ws.st_uid, gs.st_uid);
		assert_int_equal(ws.st_gid, gs.st_gid);
		if (S_ISDIR(ws.st_mode)) {
			n += compare_trees(w, g);
			continue;
		}
		if (S_ISLNK(ws.st_mode)) {
			char wl[PATH_MAX] = "", gl[PATH_MAX] = "";

			assert_true(readlink(w, wl, sizeof(wl) - 1) > 0);
			assert_true(readlink(g, gl, sizeof(gl) - 1) > 0);
			assert_string_equal(wl, gl);
			continue;
		}
		if (ws.st_mtim.tv_sec != gs.st_mtim.tv_sec || ws.st_mtim.tv_nsec != gs.st_mtim.tv_nsec)
			fail_msg("%s: mtime %lld.%09ld, the image's %lld.%09ld", w,
				 (long long)ws.st_mtim.tv_sec, ws.st_mtim.tv_nsec,
				 (long long)gs.st_mtim.tv_sec, gs.st_mtim.tv_nsec);
		if (S_ISREG(ws.st_mode)) {
			assert_int_equal(ws.st_size, gs.st_size);
			if (!same_contents(w, g))
				fail_msg("%s: the image's contents differ", w);
		}
	}
	closedir(d);
	return n;
}

static void test_fsck_extract_matches_the_tree(void **state)
{
	_cleanup_free_ char *root = tmp_dir(), *work = tmp_dir();
	const char *leave_out[] = { "local", NULL };
	struct erofs_image *image = NULL;
	struct error err = { 0 };
	char img[PATH_MAX], out[PATH_MAX], cmd[3 * PATH_MAX], local[PATH_MAX + 16];
	const struct erofs_image_stats *s;

	make_tree(root);
	assert_int_equal(erofs_image_build(root, leave_out, &image, &err), 0);
	s = erofs_image_stats(image);
	assert_int_equal(s->left_out, 1);
	/* root, 7 sized files, setuid, 2 links, fifo, many + 700, a..e, deep, 3 dotted;
	 * the hard link is an entry of its own */
	assert_int_equal(s->entries, 1 + 7 + 1 + 1 + 2 + 1 + 1 + 700 + 5 + 1 + 3);
	snprintf(img, sizeof(img), "%s/usr.img", work);
	snprintf(out, sizeof(out), "%s/extract", work);
	write_image(image, img);
	snprintf(cmd, sizeof(cmd), "fsck.erofs --extract='%s' --preserve '%s' >'%s/fsck.log' 2>&1",
		 out, img, work);
	if (system(cmd) != 0) {
		snprintf(cmd, sizeof(cmd), "cat '%s/fsck.log' >&2", work);
		assert_int_equal(system(cmd), 0);
		fail_msg("fsck.erofs (erofs-utils) rejected the image");
	}
	snprintf(local, sizeof(local), "%s/local", root);
	rm_rf(local);	/* left out: not in the image */
	assert_int_equal(compare_trees(root, out), (int)s->entries - 1);
	snprintf(local, sizeof(local), "%s/local", out);
	assert_int_equal(access(local, F_OK), -1);
	erofs_image_free(image);
	rm_rf(root);
	rm_rf(work);
}

/* The block of file-4097's data, found by its contents in the image. */
static uint64_t find_data(struct erofs_image *image, const char *path)
{
	const struct erofs_image_stats *s = erofs_image_stats(image);
	unsigned char want[EROFS_IMAGE_BLOCK], got[EROFS_IMAGE_BLOCK];
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(read(fd, want, sizeof(want)), (ssize_t)sizeof(want));
	close(fd);
	for (uint64_t off = 0; off < s->image_bytes; off += EROFS_IMAGE_BLOCK) {
		const char *bad = NULL;

		if (erofs_image_read(image, off, got, sizeof(got), &bad) == 0 &&
		    memcmp(want, got, sizeof(got)) == 0)
			return off;
	}
	fail_msg("%s's data is not in the image", path);
	return 0;
}

static void test_a_file_changed_after_the_walk_is_never_served(void **state)
{
	_cleanup_free_ char *root = tmp_dir();
	struct erofs_image *image = NULL;
	struct error err = { 0 };
	unsigned char buf[EROFS_IMAGE_BLOCK];
	char path[PATH_MAX], tmp[PATH_MAX];
	const char *bad = NULL;
	uint64_t at;

	snprintf(path, sizeof(path), "%s/file-4097", root);
	write_file(path, 4097, 1);
	assert_int_equal(erofs_image_build(root, NULL, &image, &err), 0);
	at = find_data(image, path);
	/* past the image: zeros */
	assert_int_equal(erofs_image_read(image, EROFS_IMAGE_DEVICE_BYTES - sizeof(buf), buf,
					  sizeof(buf), &bad), 0);
	for (size_t i = 0; i < sizeof(buf); i++)
		assert_int_equal(buf[i], 0);

	/* Rewritten in place, same size: its times changed. */
	write_file(path, 4097, 2);
	set_mtime(path, 1000, 0);
	assert_int_equal(erofs_image_read(image, at, buf, sizeof(buf), &bad), -EIO);
	assert_string_equal(bad, path);
	erofs_image_free(image);

	/* Replaced by a rename, as package managers do: another inode.  (While
	 * vmtest holds the old one open, it serves the walk's file whole.) */
	write_file(path, 4097, 1);
	assert_int_equal(erofs_image_build(root, NULL, &image, &err), 0);
	at = find_data(image, path);
	assert_int_equal(erofs_image_read(image, 0, buf, sizeof(buf), &bad), 0);
	erofs_image_free(image);
	assert_int_equal(erofs_image_build(root, NULL, &image, &err), 0);
	snprintf(tmp, sizeof(tmp), "%s/new", root);
	write_file(tmp, 4097, 1);
	assert_int_equal(rename(tmp, path), 0);
	bad = NULL;
	assert_int_equal(erofs_image_read(image, at, buf, sizeof(buf), &bad), -EIO);
	assert_string_equal(bad, path);
	erofs_image_free(image);

	/* Removed. */
	assert_int_equal(erofs_image_build(root, NULL, &image, &err), 0);
	at = find_data(image, path);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(erofs_image_read(image, at, buf, sizeof(buf), &bad), -EIO);
	erofs_image_free(image);
	rm_rf(root);
}

/* What the user running vmtest cannot read stays out, and its directory
 * is not opaque, so that 9p answers for it as the host does. */
static void test_unreadable_entries_are_left_to_9p(void **state)
{
	_cleanup_free_ char *root = tmp_dir();
	char secret[PATH_MAX], private[PATH_MAX], p[PATH_MAX];
	bool as_root = geteuid() == 0;
	pid_t pid;
	int status;

	assert_int_equal(chmod(root, 0755), 0);
	snprintf(secret, sizeof(secret), "%s/secret", root);
	write_file(secret, 10, 1);
	/* root's, or ours with no bits for us */
	assert_int_equal(chmod(secret, as_root ? 0600 : 0), 0);
	snprintf(private, sizeof(private), "%s/private", root);
	assert_int_equal(mkdir(private, as_root ? 0700 : 0), 0);
	snprintf(p, sizeof(p), "%s/public", root);
	write_file(p, 10, 1);
	/* Deeper: a/b/secret.  Not only b, a too must not be opaque, or
	 * overlayfs would never look under a in 9p. */
	snprintf(p, sizeof(p), "%s/a", root);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/a/pub", root);
	write_file(p, 10, 1);
	snprintf(p, sizeof(p), "%s/a/b", root);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/a/b/pub", root);
	write_file(p, 10, 1);
	snprintf(p, sizeof(p), "%s/a/b/secret", root);
	write_file(p, 10, 1);
	assert_int_equal(chmod(p, as_root ? 0600 : 0), 0);
	snprintf(p, sizeof(p), "%s/c", root);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/c/pub", root);
	write_file(p, 10, 1);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct erofs_image *image = NULL;
		struct error err = { 0 };

		/* As root, nothing is unreadable: be someone else. */
		if (as_root && (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0))
			_exit(10);
		if (erofs_image_build(root, NULL, &image, &err) < 0)
			_exit(12);
		/* root, public, a, a/pub, a/b, a/b/pub, c, c/pub; secret,
		 * private and a/b/secret left out */
		if (erofs_image_stats(image)->entries != 8 || erofs_image_stats(image)->left_out != 3)
			_exit(13);
		_exit(!erofs_image_opaque(image, "") && !erofs_image_opaque(image, "a") &&
		      !erofs_image_opaque(image, "a/b") && erofs_image_opaque(image, "c") ? 0 : 14);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(chmod(private, 0700), 0);
	rm_rf(root);
}

static void test_errors_name_the_path(void **state)
{
	struct erofs_image *image = NULL;
	struct error err = { 0 };

	assert_true(erofs_image_build("/nonexistent/usr", NULL, &image, &err) < 0);
	assert_non_null(strstr(err.msg, "/nonexistent/usr"));
	assert_null(image);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fsck_extract_matches_the_tree),
		cmocka_unit_test(test_a_file_changed_after_the_walk_is_never_served),
		cmocka_unit_test(test_unreadable_entries_are_left_to_9p),
		cmocka_unit_test(test_errors_name_the_path),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
