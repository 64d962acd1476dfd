// SPDX-License-Identifier: MIT
#include "targets/usr_image.h"

#include <errno.h>
#include <signal.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "base/clock.h"
#include "boot/erofs_image.h"
#include "vm/nbd_server.h"

struct usr_image {
	char *dir;			/* <rootfs>/usr */
	pthread_t walker;
	bool walker_started;
	pthread_mutex_t lock;
	pthread_cond_t built_cond;
	bool built;			/* the walk ended, with image or error */
	struct erofs_image *image;	/* NULL: none (error says why) */
	struct error error;
	int64_t walk_ms;
	struct nbd_server *server;
	char *changed;			/* the first file read that was not the walk's */
	char summary[sizeof(((struct error *)0)->msg) + 512];
};

/* /usr/local is where users install what they build: 9p shows it live. */
static const char *const usr_image_left_out[] = { "local", NULL };

static void *usr_image_walk(void *arg)
{
	struct usr_image *u = arg;
	struct erofs_image *image = NULL;
	struct error err = { 0 };
	int64_t start = clock_now_ms();
	sigset_t all;
	int r;

	/* Signals are for the threads that run targets (vm/interrupt.h). */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	r = erofs_image_build(u->dir, usr_image_left_out, &image, &err);

	pthread_mutex_lock(&u->lock);
	u->image = r < 0 ? NULL : image;
	u->error = err;
	u->walk_ms = clock_now_ms() - start;
	u->built = true;
	pthread_cond_broadcast(&u->built_cond);
	pthread_mutex_unlock(&u->lock);
	return NULL;
}

static void usr_image_wait(struct usr_image *u)
{
	pthread_mutex_lock(&u->lock);
	while (!u->built)
		pthread_cond_wait(&u->built_cond, &u->lock);
	pthread_mutex_unlock(&u->lock);
}

/* The disk's reads: the image once built.  Without one, every read fails
 * and the guest's mount with it: /usr stays 9p's. */
static int usr_image_read(void *opaque, uint64_t offset, void *buf, size_t len)
{
	struct usr_image *u = opaque;
	const char *path = NULL;
	int r;

	usr_image_wait(u);
	if (!u->image)
		return -EIO;
	r = erofs_image_read(u->image, offset, buf, len, &path);
	if (r < 0 && path && !u->changed) {
		pthread_mutex_lock(&u->lock);
		u->changed = strdup(path);
		pthread_mutex_unlock(&u->lock);
	}
	return r;
}

int usr_image_start(const char *rootfs, const char *socket_path, struct usr_image **ret,
		    struct error *err)
{
	struct usr_image *u = calloc(1, sizeof(*u));
	int r;

	if (!u)
		return error_set(err, ENOMEM, "out of memory");
	pthread_mutex_init(&u->lock, NULL);
	pthread_cond_init(&u->built_cond, NULL);
	if (asprintf(&u->dir, "%s%susr", rootfs, rootfs[strlen(rootfs) - 1] == '/' ? "" : "/") < 0) {
		u->dir = NULL;
		usr_image_stop(u);
		return error_set(err, ENOMEM, "out of memory");
	}
	r = nbd_server_start(socket_path, EROFS_IMAGE_DEVICE_BYTES, usr_image_read, u, &u->server,
			     err);
	if (r < 0) {
		usr_image_stop(u);
		return r;
	}
	r = pthread_create(&u->walker, NULL, usr_image_walk, u);
	if (r) {
		usr_image_stop(u);
		return error_set_errno(err, r, "start the walk of /usr");
	}
	u->walker_started = true;
	*ret = u;
	return 0;
}

const char *usr_image_summary(struct usr_image *u)
{
	usr_image_wait(u);
	if (!u->image) {
		snprintf(u->summary, sizeof(u->summary), "no image: %s", u->error.msg);
	} else {
		const struct erofs_image_stats *s = erofs_image_stats(u->image);
		snprintf(u->summary, sizeof(u->summary),
			 "%s as an image: %llu entries (%llu files, %.1f GiB) walked in %.2f s, "
			 "%llu left to 9p, %.1f MiB of metadata", u->dir,
			 (unsigned long long)s->entries, (unsigned long long)s->files,
			 (double)s->data_bytes / (1u << 30), (double)u->walk_ms / 1000,
			 (unsigned long long)s->left_out, (double)s->memory_bytes / (1u << 20));
	}
	return u->summary;
}

const char *usr_image_served(struct usr_image *u)
{
	uint64_t reads = 0, failed = 0, bytes = 0;

	nbd_server_counts(u->server, &reads, &failed, &bytes);
	snprintf(u->summary, sizeof(u->summary), "%llu reads of the disk, %.1f MiB, %llu failed",
		 (unsigned long long)reads, (double)bytes / (1u << 20), (unsigned long long)failed);
	return u->summary;
}

const char *usr_image_changed_file(struct usr_image *u)
{
	const char *changed;

	pthread_mutex_lock(&u->lock);
	changed = u->changed;
	pthread_mutex_unlock(&u->lock);
	return changed;
}

void usr_image_stop(struct usr_image *u)
{
	if (!u)
		return;
	/* The walk first: a read the server is serving may be waiting for it. */
	if (u->walker_started)
		pthread_join(u->walker, NULL);
	nbd_server_stop(u->server);
	erofs_image_free(u->image);
	pthread_cond_destroy(&u->built_cond);
	pthread_mutex_destroy(&u->lock);
	free(u->changed);
	free(u->dir);
	free(u);
}
