// SPDX-License-Identifier: MIT
#include "base/host_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "io.h"

struct host_dir {
	int fd;			/* O_PATH: the directory itself, whatever its path becomes */
	char *path;		/* as named, for messages */
	dev_t dev;
	ino_t ino;
	struct host_dir *parent;	/* to say which path changed; NULL for the user's */
};

struct host_dir *host_dir_free(struct host_dir *d)
{
	if (!d)
		return NULL;
	if (d->fd >= 0)
		close(d->fd);
	free(d->path);
	free(d);
	return NULL;
}

const char *host_dir_path(const struct host_dir *d)
{
	return d->path;
}

static int host_dir_new(int fd, const char *path, struct host_dir **ret, struct error *err)
{
	struct host_dir *d = calloc(1, sizeof(*d));
	struct stat st;

	if (!d || !(d->path = strdup(path))) {
		free(d);
		close(fd);
		return error_set(err, ENOMEM, "out of memory");
	}
	d->fd = fd;
	if (fstat(fd, &st) < 0) {
		int r = error_set_errno(err, errno, "%s", path);

		host_dir_free(d);
		return r;
	}
	d->dev = st.st_dev;
	d->ino = st.st_ino;
	*ret = d;
	return 0;
}

int host_dir_open(const char *path, bool create, struct host_dir **ret, struct error *err)
{
	int fd;

	if (create && mkdir(path, 0755) < 0 && errno != EEXIST)
		return error_set_errno(err, errno, "cannot create %s", path);
	fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return error_set_errno(err, errno, "%s", path);
	return host_dir_new(fd, path, ret, err);
}

/*
 * Why d can no longer be written, when it changed: removed (no links
 * left), or its path now leads elsewhere (moved, or replaced by a link).
 * NULL when it looks as it did.
 */
static const char *host_dir_changed(const struct host_dir *d)
{
	struct stat st;

	if (fstat(d->fd, &st) == 0 && st.st_nlink == 0)
		return "it was removed";
	if (stat(d->path, &st) < 0)
		return "it was removed or moved";
	if (st.st_dev != d->dev || st.st_ino != d->ino)
		return "its path now leads elsewhere: it was moved, or replaced by a link";
	return NULL;
}

/* An error about d's path: "changed during the run" when it did. */
static int host_dir_error(const struct host_dir *d, const char *name, int e, struct error *err)
{
	const char *why = host_dir_changed(d);

	if (why)
		return error_set(err, ESTALE, "%s changed during the run (%s); %s%snot written", d->path,
				 why, name ? name : "", name ? " was " : "");
	return error_set_errno(err, e, "cannot write %s/%s", d->path, name ? name : "");
}

int host_dir_subdir(struct host_dir *d, const char *name, struct host_dir **ret,
		    struct error *err)
{
	_cleanup_free_ char *path = NULL;
	struct stat st;
	int fd;

	if (asprintf(&path, "%s/%s", d->path, name) < 0)
		return error_set(err, ENOMEM, "out of memory");
	if (host_dir_changed(d))
		return host_dir_error(d, NULL, 0, err);
	if (mkdirat(d->fd, name, 0755) < 0 && errno != EEXIST)
		return host_dir_error(d, name, errno, err);
	fd = openat(d->fd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;

		if (fstatat(d->fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
			return error_set(err, ESTALE, "%s has been replaced by %s; not written", path,
					 S_ISLNK(st.st_mode) ? "a symbolic link" : "something not a directory");
		return host_dir_error(d, name, e, err);
	}
	return host_dir_new(fd, path, ret, err);
}

int host_unlinked_file(const char *dir)
{
	_cleanup_free_ char *path = NULL;
	int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

	if (fd >= 0)
		return fd;
	if (asprintf(&path, "%s/.vmtest-XXXXXX", dir) < 0)
		return -ENOMEM;
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	unlink(path);
	return fd;
}

/* A new regular file in d, for us alone: O_EXCL on a random name, no link followed. */
static int host_dir_temp(struct host_dir *d, const char *name, mode_t mode, char *tmp,
			 size_t size, struct error *err)
{
	for (int attempt = 0; attempt < 16; attempt++) {
		unsigned long long rnd = 0;
		int fd;

		if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
			rnd ^= (unsigned long long)getpid() << 20 ^ (unsigned long long)attempt;
		snprintf(tmp, size, ".%.64s.tmp-%016llx", name, rnd);
		fd = openat(d->fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
		if (fd >= 0)
			return fd;
		if (errno != EEXIST)
			return host_dir_error(d, name, errno, err);
	}
	return error_set(err, EEXIST, "cannot make a temporary file in %s", d->path);
}

/* Rename tmp over name in d; a directory at name is a change we refuse. */
static int host_dir_commit(struct host_dir *d, const char *tmp, const char *name,
			   struct error *err)
{
	if (renameat(d->fd, tmp, d->fd, name) == 0)
		return 0;
	{
		int e = errno;

		unlinkat(d->fd, tmp, 0);
		if (e == EISDIR || e == ENOTEMPTY || e == EEXIST)
			return error_set(err, ESTALE, "%s/%s changed during the run (it is now a directory); not written",
					 d->path, name);
		return host_dir_error(d, name, e, err);
	}
}

int host_dir_write_mode(struct host_dir *d, const char *name, mode_t mode, host_file_fill fill,
			void *arg, struct error *err)
{
	char tmp[128];
	int fd, r;

	if (host_dir_changed(d))
		return host_dir_error(d, name, 0, err);
	fd = host_dir_temp(d, name, mode, tmp, sizeof(tmp), err);
	if (fd < 0)
		return fd;
	r = fill(fd, arg, err);
	if (r >= 0 && close(fd) < 0)
		r = error_set_errno(err, errno, "cannot write %s/%s", d->path, name);
	else if (r < 0)
		close(fd);
	if (r < 0) {
		unlinkat(d->fd, tmp, 0);
		return r;
	}
	return host_dir_commit(d, tmp, name, err);
}

int host_dir_write(struct host_dir *d, const char *name, host_file_fill fill, void *arg,
		   struct error *err)
{
	return host_dir_write_mode(d, name, 0644, fill, arg, err);
}

int host_dir_remove(struct host_dir *d, const char *name, struct error *err)
{
	if (host_dir_changed(d))
		return host_dir_error(d, name, 0, err);
	if (unlinkat(d->fd, name, 0) < 0 && errno != ENOENT)
		return host_dir_error(d, name, errno, err);
	return 0;
}

static int host_file_fill_text(int fd, void *arg, struct error *err)
{
	const char *text = arg;

	int r = io_write_all(fd, text, strlen(text));

	return r < 0 ? error_set_errno(err, -r, "write") : 0;
}

int host_dir_write_text(struct host_dir *d, const char *name, const char *text,
			struct error *err)
{
	return host_dir_write(d, name, host_file_fill_text, (void *)text, err);
}

int host_dir_create(struct host_dir *d, const char *name, int *ret_fd, struct error *err)
{
	char tmp[128];
	int fd, r;

	fd = host_dir_temp(d, name, 0644, tmp, sizeof(tmp), err);
	if (fd < 0)
		return fd;
	r = host_dir_commit(d, tmp, name, err);
	if (r < 0) {
		close(fd);
		return r;
	}
	*ret_fd = fd;
	return 0;
}

int host_file_open_parent(const char *path, struct host_dir **ret_dir, char **ret_name,
			  struct error *err)
{
	_cleanup_free_ char *dir = strdup(path);
	char *slash, *name;
	int r;

	if (!dir)
		return error_set(err, ENOMEM, "out of memory");
	slash = strrchr(dir, '/');
	name = strdup(slash ? slash + 1 : dir);
	if (!name)
		return error_set(err, ENOMEM, "out of memory");
	if (!*name || strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
		free(name);
		return error_set(err, EISDIR, "%s: names a directory, not a file", path);
	}
	if (slash)
		slash[slash == dir ? 1 : 0] = '\0';
	r = host_dir_open(slash ? dir : ".", false, ret_dir, err);
	if (r < 0) {
		free(name);
		return r;
	}
	*ret_name = name;
	return 0;
}
