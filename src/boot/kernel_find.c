// SPDX-License-Identifier: MIT
#include "boot/kernel_find.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cleanup.h"

#define KERNEL_PREFIX "vmlinuz-"

static void cleanup_closedirp(DIR **d)
{
	if (*d)
		closedir(*d);
}

static bool kernel_is_file(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* The highest version among boot_dir/vmlinuz-*, ignoring rescue images. */
static int kernel_find_newest(const char *boot_dir, char **ret_name, struct error *err)
{
	_cleanup_(cleanup_closedirp) DIR *dir = opendir(boot_dir);
	_cleanup_free_ char *best = NULL;
	struct dirent *de;

	if (!dir)
		return error_set_errno(err, errno, "cannot look for the host's kernel in %s", boot_dir);
	while ((de = readdir(dir))) {
		_cleanup_free_ char *path = NULL;

		if (strncmp(de->d_name, KERNEL_PREFIX, strlen(KERNEL_PREFIX)) != 0 ||
		    strstr(de->d_name, "rescue"))
			continue;
		if (asprintf(&path, "%s/%s", boot_dir, de->d_name) < 0)
			return error_set(err, ENOMEM, "out of memory");
		if (!kernel_is_file(path))
			continue;
		if (best && strverscmp(de->d_name, best) <= 0)
			continue;
		free(best);
		best = strdup(de->d_name);
		if (!best)
			return error_set(err, ENOMEM, "out of memory");
	}
	if (!best)
		return error_set(err, ENOENT,
				 "no kernel given and none found in %s (no %s* file): pass one with -k",
				 boot_dir, KERNEL_PREFIX);
	*ret_name = TAKE_PTR(best);
	return 0;
}

int kernel_find_host(const char *boot_dir, const char *release, char **ret_path,
		     struct error *err)
{
	_cleanup_free_ char *path = NULL, *name = NULL;
	int r;

	if (asprintf(&path, "%s/" KERNEL_PREFIX "%s", boot_dir, release) < 0)
		return error_set(err, ENOMEM, "out of memory");
	if (kernel_is_file(path)) {
		*ret_path = TAKE_PTR(path);
		return 0;
	}
	r = kernel_find_newest(boot_dir, &name, err);
	if (r < 0)
		return r;
	free(path);
	if (asprintf(&path, "%s/%s", boot_dir, name) < 0)
		return error_set(err, ENOMEM, "out of memory");
	*ret_path = TAKE_PTR(path);
	return 0;
}
