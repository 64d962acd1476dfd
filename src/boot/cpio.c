// SPDX-License-Identifier: MIT
#include "boot/cpio.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>

#define CPIO_MAGIC "070701"
#define CPIO_HEADER_SIZE 110
#define CPIO_TRAILER "TRAILER!!!"

void cpio_init(struct cpio *c, int fd)
{
	*c = (struct cpio){ .fd = fd, .next_ino = 1 };
}

static size_t cpio_pad4(uint64_t n)
{
	return (size_t)((4 - (n & 3)) & 3);
}

/* writev until everything is out: short writes happen on pipes. */
static int cpio_writev_all(int fd, struct iovec *iov, int n)
{
	while (n > 0) {
		ssize_t w;

		if (iov->iov_len == 0) {
			iov++;
			n--;
			continue;
		}
		w = writev(fd, iov, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		if (w == 0)
			return -EIO;
		for (; n > 0 && (size_t)w >= iov->iov_len; iov++, n--)
			w -= (ssize_t)iov->iov_len;
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
	return 0;
}

/* The kernel refuses names and symlink targets longer than PATH_MAX. */
static int cpio_check(const struct cpio *c, const char *name, size_t len, struct error *err)
{
	if (c->finished)
		return error_set(err, EINVAL, "cpio: '%s' added after the trailer", name);
	if (name[0] == '\0' || name[0] == '/')
		return error_set(err, EINVAL, "cpio: bad entry name '%s' (empty or absolute)", name);
	if (strlen(name) + 1 > PATH_MAX)
		return error_set(err, ENAMETOOLONG, "cpio: entry name too long: %.64s...", name);
	if (strcmp(name, CPIO_TRAILER) == 0)
		return error_set(err, EINVAL, "cpio: '%s' is a reserved name", name);
	if (len > UINT32_MAX)
		return error_set(err, EFBIG, "cpio: '%s' is larger than the format's 4 GiB", name);
	return 0;
}

/* One entry: header, name, padding, data, padding. */
static int cpio_write_entry(struct cpio *c, uint32_t ino, const char *name, uint32_t mode,
			    uint32_t nlink, const void *data, size_t len, struct error *err)
{
	static const char zeros[4];
	char header[CPIO_HEADER_SIZE + 1];
	size_t namesize = strlen(name) + 1;
	size_t name_pad = cpio_pad4(CPIO_HEADER_SIZE + namesize), data_pad = cpio_pad4(len);
	struct iovec iov[5];
	int r;

	/* ino mode uid gid nlink mtime filesize devmajor devminor rdevmajor rdevminor namesize check */
	snprintf(header, sizeof(header),
		 CPIO_MAGIC "%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		 ino, mode, 0u, 0u, nlink, c->mtime, (uint32_t)len, 0u, 0u, 0u, 0u,
		 (uint32_t)namesize, 0u);
	iov[0] = (struct iovec){ header, CPIO_HEADER_SIZE };
	iov[1] = (struct iovec){ (void *)name, namesize };
	iov[2] = (struct iovec){ (void *)zeros, name_pad };
	iov[3] = (struct iovec){ (void *)data, len };
	iov[4] = (struct iovec){ (void *)zeros, data_pad };
	r = cpio_writev_all(c->fd, iov, 5);
	if (r < 0)
		return error_set_errno(err, -r, "cpio: cannot write '%s'", name);
	c->offset += CPIO_HEADER_SIZE + namesize + name_pad + len + data_pad;
	return 0;
}

static int cpio_add(struct cpio *c, const char *name, uint32_t mode, uint32_t nlink,
		    const void *data, size_t len, struct error *err)
{
	int r = cpio_check(c, name, len, err);

	if (r < 0)
		return r;
	r = cpio_write_entry(c, c->next_ino, name, mode, nlink, data, len, err);
	if (r < 0)
		return r;
	c->next_ino++;
	return 0;
}

int cpio_add_dir(struct cpio *c, const char *name, mode_t perm, struct error *err)
{
	return cpio_add(c, name, S_IFDIR | (perm & 07777), 2, NULL, 0, err);
}

int cpio_add_file(struct cpio *c, const char *name, mode_t perm, const void *data, size_t len,
		  struct error *err)
{
	return cpio_add(c, name, S_IFREG | (perm & 07777), 1, data, len, err);
}

int cpio_add_symlink(struct cpio *c, const char *name, const char *target, struct error *err)
{
	size_t len = strlen(target);

	if (len == 0 || len > PATH_MAX)
		return error_set(err, EINVAL, "cpio: symlink '%s': bad target length", name);
	return cpio_add(c, name, S_IFLNK | 0777, 1, target, len, err);
}

int cpio_finish(struct cpio *c, struct error *err)
{
	int r;

	if (c->finished)
		return error_set(err, EINVAL, "cpio: archive already finished");
	r = cpio_write_entry(c, 0, CPIO_TRAILER, 0, 1, NULL, 0, err);
	if (r < 0)
		return r;
	c->finished = true;
	return 0;
}
