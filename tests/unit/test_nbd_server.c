// SPDX-License-Identifier: MIT
/*
 * vm/nbd_server: QEMU's own NBD client (qemu-io, from qemu-utils, the
 * block layer QEMU runs) reads the disk: the handshake, reads that come
 * from the callback at the right offsets, a failing read reported as an
 * I/O error, writes refused, and a read that waits for the callback.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "vm/nbd_server.h"

#define DISK_SIZE ((uint64_t)1 << 30)
#define BAD_OFFSET ((uint64_t)512 << 20)

struct disk {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool hold;		/* reads wait while set */
	bool arrived;		/* a read came, and waits or waited */
	unsigned reads;
};

/* Each 4 KiB block is filled with its number (mod 256); past BAD_OFFSET, EIO. */
static int disk_read(void *opaque, uint64_t offset, void *buf, size_t len)
{
	struct disk *d = opaque;
	unsigned char *p = buf;

	pthread_mutex_lock(&d->lock);
	d->arrived = true;
	pthread_cond_broadcast(&d->cond);
	while (d->hold)
		pthread_cond_wait(&d->cond, &d->lock);
	d->reads++;
	pthread_mutex_unlock(&d->lock);
	if (offset + len > BAD_OFFSET)
		return -EIO;
	for (size_t i = 0; i < len; i++)
		p[i] = (unsigned char)((offset + i) / 4096);
	return 0;
}

/* qemu-io's output for commands against the disk on socket. */
static int qemu_io(const char *socket, const char *commands, char *out, size_t out_len)
{
	char cmd[PATH_MAX * 2];
	FILE *f;
	size_t n;

	snprintf(cmd, sizeof(cmd), "qemu-io -r -f raw 'nbd+unix:///?socket=%s' %s 2>&1", socket,
		 commands);
	f = popen(cmd, "r");
	assert_non_null(f);
	n = fread(out, 1, out_len - 1, f);
	out[n] = '\0';
	return pclose(f);
}

static char *socket_path(void)
{
	char *dir = strdup("/tmp/vmtest-nbd-XXXXXX"), *path = NULL;

	assert_non_null(mkdtemp(dir));
	assert_true(asprintf(&path, "%s/disk.sock", dir) > 0);
	free(dir);
	return path;
}

static void remove_socket_dir(char *path)
{
	*strrchr(path, '/') = '\0';
	assert_int_equal(rmdir(path), 0);
}

static void test_qemu_reads_the_disk(void **state)
{
	_cleanup_free_ char *path = socket_path();
	struct disk d = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, false, 0 };
	struct nbd_server *server = NULL;
	struct error err = { 0 };
	uint64_t reads, failed, bytes;
	char out[8192];
	int status;

	assert_int_equal(nbd_server_start(path, DISK_SIZE, disk_read, &d, &server, &err), 0);
	/* Block 3 holds 3s, block 0x1234 holds 0x34s; the size is announced. */
	status = qemu_io(path, "-c 'read -P 3 12288 4096' -c 'read -P 0x34 0x1234000 4096' "
			 "-c 'length'", out, sizeof(out));
	if (status != 0 || strstr(out, "Pattern verification failed"))
		fail_msg("qemu-io: %s", out);
	assert_non_null(strstr(out, "1 GiB"));
	/* A failing read is the guest's I/O error, not a hang or garbage. */
	status = qemu_io(path, "-c 'read 0x20000000 4096'", out, sizeof(out));
	assert_non_null(strstr(out, "Input/output error"));
	/* Read-only: qemu-io cannot even open it for writing. */
	{
		char cmd[PATH_MAX * 2];

		snprintf(cmd, sizeof(cmd), "qemu-io -f raw 'nbd+unix:///?socket=%s' "
			 "-c 'write 0 4096' >/dev/null 2>&1", path);
		assert_int_not_equal(system(cmd), 0);
	}
	nbd_server_counts(server, &reads, &failed, &bytes);
	assert_true(reads >= 3);
	assert_true(failed >= 1);
	assert_true(bytes >= 8192);
	nbd_server_stop(server);
	assert_int_equal(access(path, F_OK), -1);
	remove_socket_dir(path);
}

static void *release_later(void *arg)
{
	struct disk *d = arg;

	/* The read arrives and waits: nothing is served until it may go. */
	pthread_mutex_lock(&d->lock);
	while (!d->arrived)
		pthread_cond_wait(&d->cond, &d->lock);
	assert_int_equal(d->reads, 0);
	d->hold = false;
	pthread_cond_broadcast(&d->cond);
	pthread_mutex_unlock(&d->lock);
	return NULL;
}

/* The handshake is answered at once; a read waits for the callback, as the
 * guest's first reads wait for the walk of /usr. */
static void test_a_read_waits_for_the_callback(void **state)
{
	_cleanup_free_ char *path = socket_path();
	struct disk d = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, true, false, 0 };
	struct nbd_server *server = NULL;
	struct error err = { 0 };
	pthread_t t;
	char out[4096];

	assert_int_equal(nbd_server_start(path, DISK_SIZE, disk_read, &d, &server, &err), 0);
	assert_int_equal(pthread_create(&t, NULL, release_later, &d), 0);
	assert_int_equal(qemu_io(path, "-c 'read -P 1 4096 4096'", out, sizeof(out)), 0);
	assert_null(strstr(out, "failed"));
	pthread_join(t, NULL);
	assert_int_equal(d.reads, 1);
	nbd_server_stop(server);
	remove_socket_dir(path);
}

static void test_errors_name_the_socket(void **state)
{
	struct nbd_server *server = NULL;
	struct error err = { 0 };

	assert_true(nbd_server_start("/nonexistent/dir/disk.sock", DISK_SIZE, disk_read, NULL,
				     &server, &err) < 0);
	assert_non_null(strstr(err.msg, "/nonexistent/dir/disk.sock"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_qemu_reads_the_disk),
		cmocka_unit_test(test_a_read_waits_for_the_callback),
		cmocka_unit_test(test_errors_name_the_socket),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
