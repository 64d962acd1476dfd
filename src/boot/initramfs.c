// SPDX-License-Identifier: MIT
#include "boot/initramfs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "guest_proto.h"
#include "boot/cache.h"
#include "boot/cpio.h"

/* A name for the archive that changes whenever any byte of it would. */
static uint64_t initramfs_key(const unsigned char *init, size_t init_len,
			      const struct modules_list *modules)
{
	uint64_t key = cache_hash(init, init_len);

	for (size_t i = 0; modules && i < modules->n; i++) {
		key = key * 31 + cache_hash(modules->files[i].name, strlen(modules->files[i].name));
		key = key * 31 + cache_hash(modules->files[i].data, modules->files[i].len);
	}
	return key;
}

static int initramfs_write(int fd, const unsigned char *init, size_t init_len,
			   const struct modules_list *modules, struct error *err)
{
	struct cpio c;
	int r;

	cpio_init(&c, fd);
	r = cpio_add_file(&c, "init", 0755, init, init_len, err);
	if (r >= 0)
		r = cpio_add_dir(&c, "vmtest", 0755, err);
	if (r >= 0)
		r = cpio_add_dir(&c, GUEST_MODULES_DIR + 1, 0755, err);
	for (size_t i = 0; r >= 0 && modules && i < modules->n; i++) {
		char name[512];

		/* The init loads them in name order: dependencies first. */
		snprintf(name, sizeof(name), "%s/%03zu-%s.ko", GUEST_MODULES_DIR + 1, i,
			 modules->files[i].name);
		r = cpio_add_file(&c, name, 0644, modules->files[i].data, modules->files[i].len, err);
	}
	if (r >= 0)
		r = cpio_finish(&c, err);
	return r;
}

int initramfs_get(const char *cache_dir, const unsigned char *init, size_t init_len,
		  const struct modules_list *modules, char **ret_path, struct error *err)
{
	_cleanup_free_ char *path = NULL, *tmp = NULL;
	_cleanup_close_ int fd = -1;
	int r;

	if (asprintf(&path, "%s/initramfs-%016llx.cpio", cache_dir,
		     (unsigned long long)initramfs_key(init, init_len, modules)) < 0 ||
	    asprintf(&tmp, "%s/.initramfs-XXXXXX", cache_dir) < 0)
		return error_set(err, ENOMEM, "out of memory");
	if (cache_trusted(path)) {
		*ret_path = TAKE_PTR(path);
		return 0;
	}
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return error_set_errno(err, errno, "cannot create a file in the cache %s", cache_dir);
	r = initramfs_write(fd, init, init_len, modules, err);
	if (r >= 0 && fsync(fd) < 0)
		r = error_set_errno(err, errno, "write %s", tmp);
	if (r < 0)
		unlink(tmp);
	else
		r = cache_publish(fd, tmp, path, err);
	if (r < 0)
		return error_prefix(err, "cannot write the initramfs in the cache %s", cache_dir);
	*ret_path = TAKE_PTR(path);
	return 0;
}
