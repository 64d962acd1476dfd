// SPDX-License-Identifier: MIT
#include "boot/target_files.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "boot/kernel_image.h"

/* "vmtest.toml:3:10: target 'x': kernel" or "-k", to prefix a file problem. */
static void target_files_origin(const struct config *config, const struct target *t,
				const struct origin *o, const char *field, char *buf,
				size_t len)
{
	if (o->option || !config->path)
		snprintf(buf, len, "%s", o->option ? o->option : field);
	else
		snprintf(buf, len, "%s:%d:%d: target '%s': %s", config->path, o->pos.line,
			 o->pos.column, t->name, field);
}

static int target_files_check_path(const struct config *config, const struct target *t,
				   const struct origin *o, const char *field, const char *path,
				   bool want_dir, struct error *err)
{
	char where[1024];
	struct stat st;

	target_files_origin(config, t, o, field, where, sizeof(where));
	if (stat(path, &st) < 0)
		return error_usage(err, "%s: %s: %s", where, path, strerror(errno));
	if (want_dir && !S_ISDIR(st.st_mode))
		return error_usage(err, "%s: %s: not a directory", where, path);
	if (!want_dir && S_ISDIR(st.st_mode))
		return error_usage(err, "%s: %s: is a directory, expected a file", where, path);
	if (access(path, R_OK) < 0)
		return error_usage(err, "%s: %s: %s", where, path, strerror(errno));
	return 0;
}

/* A file that is not a kernel (empty, truncated, text) is bad input like a
 * missing one: said before any VM starts, with where it was named. */
static int target_files_check_kernel(const struct config *config, const struct target *t,
				     struct error *err)
{
	struct kernel_image *image = NULL;
	char where[1024];
	int r = kernel_image_open(t->kernel, &image, err);

	kernel_image_free(image);
	if (r >= 0)
		return 0;
	target_files_origin(config, t, &t->kernel_origin, "kernel", where, sizeof(where));
	err->status = EXIT_STATUS_USAGE;
	return error_prefix(err, "%s", where);
}

int target_files_check(const struct config *config, const struct target *t, struct error *err)
{
	int r = 0;

	if (t->kernel)
		r = target_files_check_path(config, t, &t->kernel_origin, "kernel", t->kernel, false, err);
	if (r >= 0 && t->kernel)
		r = target_files_check_kernel(config, t, err);
	if (r >= 0 && t->image)
		r = target_files_check_path(config, t, &t->image_origin, "image", t->image, false, err);
	if (r >= 0 && t->rootfs)
		r = target_files_check_path(config, t, &t->rootfs_origin, "rootfs", t->rootfs, true, err);
	if (r >= 0 && t->vm.bios)
		r = target_files_check_path(config, t, &t->vm.bios_origin, "vm.bios", t->vm.bios, false,
				      err);
	for (size_t i = 0; r >= 0 && i < t->vm.n_mounts; i++) {
		const struct mount *m = &t->vm.mounts[i];

		r = target_files_check_path(config, t, &m->origin, "vm.mounts", m->host_path, true, err);
	}
	return r;
}
