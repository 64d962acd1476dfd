// SPDX-License-Identifier: MIT
#include "exec.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "guest_proto.h"
#include "log.h"

struct capture {
	char *data;
	size_t len;
	bool truncated;
};

struct job {
	pid_t pid;		/* 0: slot free */
	int fds[2];		/* stdout and stderr read ends (a pty: its master
				 * as stdout), -1 when closed */
	bool capture, stream, tty;
	struct capture out[2];
	bool exited;
	int wstatus;
};

static struct job jobs[EXEC_MAX_JOBS];
static int output_fd = -1;

void exec_set_output_fd(int fd)
{
	output_fd = fd;
}

static struct job *exec_find(pid_t pid)
{
	for (size_t i = 0; i < EXEC_MAX_JOBS; i++)
		if (jobs[i].pid == pid && pid > 0)
			return &jobs[i];
	return NULL;
}

static void exec_send_record(uint8_t type, pid_t pid, const void *data, size_t len)
{
	uint8_t header[GUEST_RECORD_HEADER_SIZE];
	int r;

	if (output_fd < 0)
		return;
	guest_record_encode(header, type, (uint32_t)pid, (uint32_t)len);
	r = io_write_all(output_fd, header, sizeof(header));
	if (r >= 0 && len)
		r = io_write_all(output_fd, data, len);
	if (r < 0)
		log_msg("write to the output port: %s", strerror(-r));
}

static void exec_capture(struct capture *c, const char *data, size_t len)
{
	size_t room = EXEC_CAPTURE_MAX - c->len;
	char *grown;

	if (len > room) {
		c->truncated = true;
		len = room;
	}
	if (!len)
		return;
	grown = realloc(c->data, c->len + len);
	if (!grown) {
		c->truncated = true;
		return;
	}
	memcpy(grown + c->len, data, len);
	c->data = grown;
	c->len += len;
}

/* Read what one pipe has now; false at EOF or error. */
static bool exec_pump(struct job *j, int stream)
{
	char buf[GUEST_RECORD_MAX_DATA];
	ssize_t n = read_some(j->fds[stream], buf, sizeof(buf));

	/* A pty's master reads EIO once the last slave is closed: its EOF. */
	if (n <= 0)
		return n == -EAGAIN;
	if (j->stream)
		exec_send_record(stream ? GUEST_RECORD_STDERR : GUEST_RECORD_STDOUT, j->pid, buf, n);
	else if (j->capture)
		exec_capture(&j->out[stream], buf, n);
	return true;
}

static void exec_close_stream(struct job *j, int stream)
{
	if (j->fds[stream] >= 0)
		close(j->fds[stream]);
	j->fds[stream] = -1;
}

size_t exec_fill_pollfds(struct pollfd *pfds, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < EXEC_MAX_JOBS; i++)
		for (int s = 0; s < 2; s++)
			if (jobs[i].pid && jobs[i].fds[s] >= 0 && n < max)
				pfds[n++] = (struct pollfd){ .fd = jobs[i].fds[s], .events = POLLIN };
	return n;
}

static struct job *exec_find_fd(int fd, int *ret_stream)
{
	for (size_t i = 0; i < EXEC_MAX_JOBS; i++)
		for (int s = 0; s < 2; s++)
			if (jobs[i].pid && jobs[i].fds[s] == fd) {
				*ret_stream = s;
				return &jobs[i];
			}
	return NULL;
}

void exec_handle_pollfds(const struct pollfd *pfds, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct job *j;
		int s;

		if (!(pfds[i].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		j = exec_find_fd(pfds[i].fd, &s);
		if (j && !exec_pump(j, s))
			exec_close_stream(j, s);
	}
}

/*
 * The command has exited: take what its pipes still hold, then close them
 * even if a daemon it left behind keeps them open (it would otherwise hold
 * the verdict back forever), and mark the end of its output.
 */
void exec_child_exited(pid_t pid, int wstatus)
{
	struct job *j = exec_find(pid);

	if (!j)
		return;
	for (int s = 0; s < 2; s++) {
		if (j->fds[s] < 0)
			continue;
		fcntl(j->fds[s], F_SETFL, O_NONBLOCK);
		while (exec_pump(j, s) && j->fds[s] >= 0) {
			struct pollfd p = { .fd = j->fds[s], .events = POLLIN };

			if (poll(&p, 1, 0) <= 0)
				break;
		}
		exec_close_stream(j, s);
	}
	if (j->stream)
		exec_send_record(GUEST_RECORD_END, pid, NULL, 0);
	j->exited = true;
	j->wstatus = wstatus;
}

int exec_status(pid_t pid, struct exec_status *ret)
{
	struct job *j = exec_find(pid);

	if (!j)
		return -ESRCH;
	*ret = (struct exec_status){ .exited = j->exited };
	if (!j->exited)
		return 0;
	if (WIFSIGNALED(j->wstatus))
		ret->signal = WTERMSIG(j->wstatus);
	else
		ret->exit_code = WEXITSTATUS(j->wstatus);
	ret->out = j->out[0].data;
	ret->out_len = j->out[0].len;
	ret->out_truncated = j->out[0].truncated;
	ret->err = j->out[1].data;
	ret->err_len = j->out[1].len;
	ret->err_truncated = j->out[1].truncated;
	memset(j, 0, sizeof(*j));
	j->fds[0] = j->fds[1] = -1;
	return 0;
}

/* stdin from memory: a memfd holds any size without a writer to feed it. */
static int exec_stdin_fd(const struct exec_request *req)
{
	int fd;

	if (!req->input)
		return open("/dev/null", O_RDONLY | O_CLOEXEC);
	fd = memfd_create("vmtest-stdin", MFD_CLOEXEC);
	if (fd < 0)
		return -1;
	if (io_write_all(fd, req->input, req->input_len) < 0 || lseek(fd, 0, SEEK_SET) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* In the child: never returns.  Exit statuses follow the shell's.  For a
 * pty, in, out and err are all its slave, which becomes the controlling
 * terminal of the new session. */
static void exec_child(const struct exec_request *req, int in, int out, int err)
{
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	setsid();
	if (req->tty && ioctl(in, TIOCSCTTY, 0) < 0)
		_exit(126);
	if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
		_exit(126);
	if (!req->cwd || chdir(req->cwd) < 0)
		if (chdir("/") < 0)
			_exit(126);
	execve(req->path, req->argv, req->envp);
	dprintf(2, "vmtest: cannot run %s: %s\n", req->path, strerror(errno));
	_exit(errno == ENOENT ? 127 : 126);
}

/* A pty of the given size: *ret_master for us, *ret_slave for the child. */
static int exec_open_pty(const struct exec_request *req, int *ret_master, int *ret_slave)
{
	struct winsize ws = { .ws_row = req->rows ? req->rows : 24,
			      .ws_col = req->cols ? req->cols : 80 };
	int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC), slave;

	/* Non-blocking: keystrokes for a program that does not read them must
	 * not stop PID 1 (they are dropped once the pty's buffer is full). */
	if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0 ||
	    fcntl(master, F_SETFL, O_NONBLOCK) < 0)
		goto fail;
	slave = open(ptsname(master), O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (slave < 0)
		goto fail;
	ioctl(slave, TIOCSWINSZ, &ws);
	*ret_master = master;
	*ret_slave = slave;
	return 0;
fail:
	if (master >= 0)
		close(master);
	return -1;
}

static int exec_start_tty(const struct exec_request *req, struct job *j, pid_t *ret_pid,
			  char *err, size_t err_len)
{
	int master, slave;
	pid_t pid;

	if (exec_open_pty(req, &master, &slave) < 0) {
		snprintf(err, err_len, "cannot open a pty: %s", strerror(errno));
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		snprintf(err, err_len, "fork: %s", strerror(errno));
		close(master);
		close(slave);
		return -1;
	}
	if (pid == 0)
		exec_child(req, slave, slave, slave);
	close(slave);
	*j = (struct job){ .pid = pid, .fds = { master, -1 }, .stream = true, .tty = true };
	*ret_pid = pid;
	return 0;
}

int exec_start(const struct exec_request *req, pid_t *ret_pid, char *err, size_t err_len)
{
	struct job *j = NULL;
	int out[2] = { -1, -1 }, errp[2] = { -1, -1 }, in = -1;
	pid_t pid;

	for (size_t i = 0; !j && i < EXEC_MAX_JOBS; i++)
		if (!jobs[i].pid)
			j = &jobs[i];
	if (!j) {
		snprintf(err, err_len, "too many commands running");
		return -1;
	}
	if (req->tty)
		return exec_start_tty(req, j, ret_pid, err, err_len);
	in = exec_stdin_fd(req);
	if (in < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0) {
		snprintf(err, err_len, "cannot create pipes: %s", strerror(errno));
		goto fail;
	}
	pid = fork();
	if (pid < 0) {
		snprintf(err, err_len, "fork: %s", strerror(errno));
		goto fail;
	}
	if (pid == 0)
		exec_child(req, in, out[1], errp[1]);
	close(in);
	close(out[1]);
	close(errp[1]);
	*j = (struct job){ .pid = pid, .fds = { out[0], errp[0] }, .capture = req->capture,
			   .stream = req->stream };
	*ret_pid = pid;
	return 0;
fail:
	for (int i = 0; i < 2; i++) {
		if (out[i] >= 0)
			close(out[i]);
		if (errp[i] >= 0)
			close(errp[i]);
	}
	if (in >= 0)
		close(in);
	return -1;
}

bool exec_has_tty(void)
{
	for (size_t i = 0; i < EXEC_MAX_JOBS; i++)
		if (jobs[i].pid && jobs[i].tty && jobs[i].fds[0] >= 0)
			return true;
	return false;
}

static void exec_deliver(const struct guest_record_header *h, const uint8_t *data)
{
	struct job *j = exec_find((pid_t)h->exec_id);

	if (!j || !j->tty || j->fds[0] < 0)
		return;
	if (h->type == GUEST_RECORD_STDIN) {
		/* EAGAIN: the program is not reading; EIO: it is gone. */
		(void)io_write_all(j->fds[0], data, h->len);
	} else if (h->type == GUEST_RECORD_WINSIZE && h->len == 4) {
		struct winsize ws = { .ws_row = (unsigned short)(data[0] | data[1] << 8),
				      .ws_col = (unsigned short)(data[2] | data[3] << 8) };

		/* The kernel sends SIGWINCH to the pty's foreground group. */
		ioctl(j->fds[0], TIOCSWINSZ, &ws);
	}
}

/* Records may arrive split anywhere: keep the partial one until the rest. */
void exec_handle_port_input(int port_fd)
{
	static uint8_t buf[GUEST_RECORD_HEADER_SIZE + GUEST_RECORD_MAX_DATA];
	static size_t have;
	ssize_t n = read_some(port_fd, buf + have, sizeof(buf) - have);
	size_t at = 0;

	if (n <= 0)
		return;
	have += (size_t)n;
	while (have - at >= GUEST_RECORD_HEADER_SIZE) {
		struct guest_record_header h;

		guest_record_decode(buf + at, &h);
		if (h.len > GUEST_RECORD_MAX_DATA) {
			have = at = 0; /* garbage: drop everything */
			break;
		}
		if (have - at < GUEST_RECORD_HEADER_SIZE + h.len)
			break;
		exec_deliver(&h, buf + at + GUEST_RECORD_HEADER_SIZE);
		at += GUEST_RECORD_HEADER_SIZE + h.len;
	}
	memmove(buf, buf + at, have - at);
	have -= at;
}
