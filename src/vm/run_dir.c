// SPDX-License-Identifier: MIT
#include "vm/run_dir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"

const char *run_dir_base(size_t i)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	const char *bases[] = { xdg && *xdg ? xdg : NULL, "/tmp", "/var/tmp", "/dev/shm" };

	for (size_t k = 0; k < ARRAY_SIZE(bases); k++) {
		if (!bases[k] || strlen(bases[k]) > 72 || access(bases[k], W_OK) < 0)
			continue;
		if (i-- == 0)
			return bases[k];
	}
	return NULL;
}

int run_dir_make(bool (*avoid)(const char *base, void *data), void *data, char **ret_dir,
		 struct error *err)
{
	const char *base = run_dir_base(0);
	char *dir;

	for (size_t i = 0; run_dir_base(i); i++)
		if (!avoid || !avoid(run_dir_base(i), data)) {
			base = run_dir_base(i);
			break;
		}
	if (!base)
		return error_set(err, EACCES, "no place for vmtest's private directory: neither "
				 "XDG_RUNTIME_DIR, /tmp, /var/tmp nor /dev/shm can be written");
	if (asprintf(&dir, "%s/vmtest-%d-XXXXXX", base, (int)getpid()) < 0)
		return error_set(err, ENOMEM, "out of memory");
	if (!mkdtemp(dir)) {
		int e = errno;

		free(dir);
		return error_set_errno(err, e, "create a private directory in %s", base);
	}
	*ret_dir = dir;
	return 0;
}

static void run_dir_remove_at(int parent, const char *name)
{
	int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return;
	}
	/* Empty directories too (a virtiofs view, mounted only in its daemon's
	 * namespace): never anything below them. */
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0 &&
		    unlinkat(dirfd(d), de->d_name, 0) < 0 && errno == EISDIR)
			unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR);
	closedir(d);
	unlinkat(parent, name, AT_REMOVEDIR);
}

void run_dir_remove(const char *dir)
{
	if (dir)
		run_dir_remove_at(AT_FDCWD, dir);
}

static void run_dir_sweep_base(const char *base)
{
	DIR *d = opendir(base);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		struct stat st;
		char *end;
		long pid;

		if (strncmp(de->d_name, "vmtest-", 7) != 0)
			continue;
		pid = strtol(de->d_name + 7, &end, 10);
		if (end == de->d_name + 7 || *end != '-' || pid <= 0 || pid == getpid())
			continue;
		/* Ours, and its vmtest is gone. */
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISDIR(st.st_mode) || st.st_uid != geteuid())
			continue;
		if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		run_dir_remove_at(dirfd(d), de->d_name);
	}
	closedir(d);
}

void run_dir_sweep(void)
{
	for (size_t i = 0; run_dir_base(i); i++)
		run_dir_sweep_base(run_dir_base(i));
}
