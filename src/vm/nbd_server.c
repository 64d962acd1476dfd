// SPDX-License-Identifier: MIT
#include "vm/nbd_server.h"

#include <endian.h>
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cleanup.h"
#include "io.h"

/* The protocol's numbers (the NBD protocol document, "fixed newstyle"). */
#define NBD_MAGIC 0x4e42444d41474943ull		/* "NBDMAGIC" */
#define NBD_OPTS_MAGIC 0x49484156454f5054ull	/* "IHAVEOPT" */
#define NBD_REP_MAGIC 0x0003e889045565a9ull
#define NBD_REQUEST_MAGIC 0x25609513u
#define NBD_SIMPLE_REPLY_MAGIC 0x67446698u
#define NBD_FLAG_FIXED_NEWSTYLE 1u
#define NBD_FLAG_NO_ZEROES 2u
#define NBD_FLAG_HAS_FLAGS 1u
#define NBD_FLAG_READ_ONLY 2u
#define NBD_FLAG_CAN_MULTI_CONN (1u << 8)
#define NBD_OPT_EXPORT_NAME 1u
#define NBD_OPT_ABORT 2u
#define NBD_OPT_INFO 6u
#define NBD_OPT_GO 7u
#define NBD_REP_ACK 1u
#define NBD_REP_INFO 3u
#define NBD_REP_ERR_UNSUP 0x80000001u
#define NBD_REP_ERR_INVALID 0x80000003u
#define NBD_INFO_EXPORT 0u
#define NBD_INFO_BLOCK_SIZE 3u
#define NBD_CMD_READ 0u
#define NBD_CMD_DISC 2u
#define NBD_CMD_FLUSH 3u
#define NBD_EPERM 1u
#define NBD_EIO 5u
#define NBD_EINVAL 22u

/* Options longer than this are refused: none of ours carries more. */
#define NBD_MAX_OPTION 4096u
/* QEMU asks for at most 32 MiB a request. */
#define NBD_MAX_READ (32u << 20)

struct nbd_server {
	char *path;
	int listen_fd;
	bool bound;		/* the socket file is ours to unlink */
	int stop_pipe[2];
	uint64_t size;
	nbd_read_fn read;
	void *opaque;
	pthread_t thread;
	unsigned char *buf;
	_Atomic uint64_t reads, failed, bytes;
};

/* All of len bytes, or -1 when the client left or vmtest stops. */
static int nbd_recv(struct nbd_server *s, int fd, void *buf, size_t len)
{
	unsigned char *p = buf;

	while (len) {
		struct pollfd fds[2] = { { fd, POLLIN, 0 }, { s->stop_pipe[0], POLLIN, 0 } };
		ssize_t n;

		if (poll(fds, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (fds[1].revents)
			return -1;
		n = read(fd, p, len);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			return -1;
		p += n, len -= (size_t)n;
	}
	return 0;
}

/*
 * All of len bytes to QEMU, or -1.  MSG_NOSIGNAL: a QEMU gone with a
 * request in flight is an error here, never a SIGPIPE, which vmtest takes
 * as the user's and which would end every target of the run.
 */
static int nbd_send(int fd, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n, len -= (size_t)n;
	}
	return 0;
}

static void put16(unsigned char *p, uint16_t v) { v = htobe16(v); memcpy(p, &v, 2); }
static void put32(unsigned char *p, uint32_t v) { v = htobe32(v); memcpy(p, &v, 4); }
static void put64(unsigned char *p, uint64_t v) { v = htobe64(v); memcpy(p, &v, 8); }
static uint16_t get16(const unsigned char *p) { uint16_t v; memcpy(&v, p, 2); return be16toh(v); }
static uint32_t get32(const unsigned char *p) { uint32_t v; memcpy(&v, p, 4); return be32toh(v); }
static uint64_t get64(const unsigned char *p) { uint64_t v; memcpy(&v, p, 8); return be64toh(v); }

static int nbd_option_reply(int fd, uint32_t option, uint32_t type, const void *data,
			    uint32_t len)
{
	unsigned char head[20];

	put64(head, NBD_REP_MAGIC);
	put32(head + 8, option);
	put32(head + 12, type);
	put32(head + 16, len);
	if (nbd_send(fd, head, sizeof(head)) < 0)
		return -1;
	return len ? nbd_send(fd, data, len) : 0;
}

/* NBD_OPT_INFO and NBD_OPT_GO: the export (any name: there is one), its
 * size and flags, and the block sizes QEMU should use. */
static int nbd_option_info(struct nbd_server *s, int fd, uint32_t option)
{
	unsigned char export[12], sizes[14];

	put16(export, NBD_INFO_EXPORT);
	put64(export + 2, s->size);
	put16(export + 10, NBD_FLAG_HAS_FLAGS | NBD_FLAG_READ_ONLY | NBD_FLAG_CAN_MULTI_CONN);
	put16(sizes, NBD_INFO_BLOCK_SIZE);
	put32(sizes + 2, 1);
	put32(sizes + 6, 4096);
	put32(sizes + 10, NBD_MAX_READ);
	if (nbd_option_reply(fd, option, NBD_REP_INFO, export, sizeof(export)) < 0 ||
	    nbd_option_reply(fd, option, NBD_REP_INFO, sizes, sizeof(sizes)) < 0)
		return -1;
	return nbd_option_reply(fd, option, NBD_REP_ACK, NULL, 0);
}

/* The handshake: 1 when the client may send commands, 0 when it left. */
static int nbd_handshake(struct nbd_server *s, int fd)
{
	unsigned char hello[18], flags[4], opt[16];
	_cleanup_free_ unsigned char *data = NULL;

	put64(hello, NBD_MAGIC);
	put64(hello + 8, NBD_OPTS_MAGIC);
	put16(hello + 16, NBD_FLAG_FIXED_NEWSTYLE | NBD_FLAG_NO_ZEROES);
	if (nbd_send(fd, hello, sizeof(hello)) < 0 || nbd_recv(s, fd, flags, 4) < 0)
		return 0;
	data = malloc(NBD_MAX_OPTION);
	if (!data)
		return 0;
	for (;;) {
		uint32_t option, len;

		if (nbd_recv(s, fd, opt, sizeof(opt)) < 0 || get64(opt) != NBD_OPTS_MAGIC)
			return 0;
		option = get32(opt + 8), len = get32(opt + 12);
		if (len > NBD_MAX_OPTION) {
			/* Too long for any option of ours: read it away, refuse it. */
			while (len) {
				uint32_t n = len < NBD_MAX_OPTION ? len : NBD_MAX_OPTION;

				if (nbd_recv(s, fd, data, n) < 0)
					return 0;
				len -= n;
			}
			if (nbd_option_reply(fd, option, NBD_REP_ERR_INVALID, NULL, 0) < 0)
				return 0;
			continue;
		}
		if (len && nbd_recv(s, fd, data, len) < 0)
			return 0;
		if (option == NBD_OPT_EXPORT_NAME) {
			unsigned char reply[10];

			/* The old way: no reply header, and no zeroes (NO_ZEROES). */
			put64(reply, s->size);
			put16(reply + 8, NBD_FLAG_HAS_FLAGS | NBD_FLAG_READ_ONLY);
			return nbd_send(fd, reply, sizeof(reply)) == 0;
		}
		if (option == NBD_OPT_ABORT) {
			nbd_option_reply(fd, option, NBD_REP_ACK, NULL, 0);
			return 0;
		}
		if (option == NBD_OPT_INFO || option == NBD_OPT_GO) {
			if (nbd_option_info(s, fd, option) < 0)
				return 0;
			if (option == NBD_OPT_GO)
				return 1;
			continue;
		}
		/* Structured replies, meta contexts, TLS, lists: not served. */
		if (nbd_option_reply(fd, option, NBD_REP_ERR_UNSUP, NULL, 0) < 0)
			return 0;
	}
}

static int nbd_simple_reply(int fd, uint32_t error, uint64_t handle, const void *data,
			    size_t len)
{
	unsigned char head[16];

	put32(head, NBD_SIMPLE_REPLY_MAGIC);
	put32(head + 4, error);
	put64(head + 8, handle);
	if (nbd_send(fd, head, sizeof(head)) < 0)
		return -1;
	return len ? nbd_send(fd, data, len) : 0;
}

/* Requests until the client disconnects or vmtest stops. */
static void nbd_serve(struct nbd_server *s, int fd)
{
	unsigned char req[28];

	while (nbd_recv(s, fd, req, sizeof(req)) == 0 && get32(req) == NBD_REQUEST_MAGIC) {
		uint16_t type = get16(req + 6);
		uint64_t handle = get64(req + 8), offset = get64(req + 16);
		uint32_t len = get32(req + 24);

		if (type == NBD_CMD_DISC)
			return;
		if (type == NBD_CMD_READ) {
			uint32_t error = 0;

			if (len > NBD_MAX_READ || offset > s->size || len > s->size - offset)
				error = NBD_EINVAL;
			else if (s->read(s->opaque, offset, s->buf, len) < 0)
				error = NBD_EIO;
			s->reads++;
			if (error)
				s->failed++;
			else
				s->bytes += len;
			if (nbd_simple_reply(fd, error, handle, s->buf, error ? 0 : len) < 0)
				return;
			continue;
		}
		if (type == NBD_CMD_FLUSH) {
			if (nbd_simple_reply(fd, 0, handle, NULL, 0) < 0)
				return;
			continue;
		}
		/* A write's payload follows its header: read it away, refuse it. */
		if (type == 1) {
			for (uint32_t left = len; left;) {
				uint32_t n = left < NBD_MAX_READ ? left : NBD_MAX_READ;

				if (nbd_recv(s, fd, s->buf, n) < 0)
					return;
				left -= n;
			}
		}
		if (nbd_simple_reply(fd, type == 1 ? NBD_EPERM : NBD_EINVAL, handle, NULL, 0) < 0)
			return;
	}
}

static void *nbd_thread(void *arg)
{
	struct nbd_server *s = arg;
	sigset_t all;

	/* Signals are for the threads that run targets (vm/interrupt.h). */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	for (;;) {
		struct pollfd fds[2] = { { s->listen_fd, POLLIN, 0 }, { s->stop_pipe[0], POLLIN, 0 } };
		int fd;

		if (poll(fds, 2, -1) < 0 && errno != EINTR)
			break;
		if (fds[1].revents)
			break;
		if (!(fds[0].revents & POLLIN))
			continue;
		fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		/* Out of file descriptors: not a reason to spin on the listener. */
		if (fd < 0 && (errno == EMFILE || errno == ENFILE || errno == ENOMEM))
			poll(NULL, 0, 100);
		if (fd < 0)
			continue;
		if (nbd_handshake(s, fd) == 1)
			nbd_serve(s, fd);
		close(fd);
	}
	return NULL;
}

int nbd_server_start(const char *socket_path, uint64_t size, nbd_read_fn read, void *opaque,
		     struct nbd_server **ret_server, struct error *err)
{
	struct nbd_server *s = calloc(1, sizeof(*s));
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int r;

	if (!s)
		return error_set(err, ENOMEM, "out of memory");
	s->listen_fd = -1;
	s->stop_pipe[0] = s->stop_pipe[1] = -1;
	s->size = size, s->read = read, s->opaque = opaque;
	s->path = strdup(socket_path);
	s->buf = malloc(NBD_MAX_READ);
	if (!s->path || !s->buf) {
		nbd_server_stop(s);
		return error_set(err, ENOMEM, "out of memory");
	}
	if (strlen(socket_path) >= sizeof(addr.sun_path)) {
		nbd_server_stop(s);
		return error_set(err, ENAMETOOLONG, "%s: too long for a socket's path", socket_path);
	}
	memcpy(addr.sun_path, socket_path, strlen(socket_path) + 1);
	s->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s->listen_fd >= 0 && bind(s->listen_fd, (struct sockaddr *)&addr, sizeof(addr)) == 0)
		s->bound = true;
	if (!s->bound || listen(s->listen_fd, 4) < 0 || pipe2(s->stop_pipe, O_CLOEXEC) < 0) {
		r = errno;
		nbd_server_stop(s);
		return error_set_errno(err, r, "listen on %s", socket_path);
	}
	r = pthread_create(&s->thread, NULL, nbd_thread, s);
	if (r) {
		close(s->stop_pipe[1]);
		s->stop_pipe[1] = -1;
		nbd_server_stop(s);
		return error_set_errno(err, r, "start the disk's server");
	}
	*ret_server = s;
	return 0;
}

void nbd_server_counts(const struct nbd_server *s, uint64_t *ret_reads, uint64_t *ret_failed,
		       uint64_t *ret_bytes)
{
	*ret_reads = s->reads;
	*ret_failed = s->failed;
	*ret_bytes = s->bytes;
}

void nbd_server_stop(struct nbd_server *s)
{
	if (!s)
		return;
	if (s->stop_pipe[1] >= 0) {
		/* The thread sees the pipe's end at its next poll, and leaves. */
		close(s->stop_pipe[1]);
		pthread_join(s->thread, NULL);
	}
	if (s->stop_pipe[0] >= 0)
		close(s->stop_pipe[0]);
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	if (s->bound)
		unlink(s->path);
	free(s->buf);
	free(s->path);
	free(s);
}
