// SPDX-License-Identifier: MIT
#include "vm/qemu_process.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "base/clock.h"

/* In the child: never returns.  Failures go to the log, which vmtest reads. */
static void qemu_process_child(char *const *argv, int log_fd, int exec_fd, pid_t parent)
{
	int null_fd;
	sigset_t none;

	/* Die with vmtest; then check it did not die already before that. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(127);
	setpgid(0, 0);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	null_fd = open("/dev/null", O_RDONLY);
	if (null_fd < 0 || dup2(null_fd, 0) < 0 || dup2(log_fd, 1) < 0 || dup2(log_fd, 2) < 0)
		_exit(127);
	execvp(argv[0], argv);
	/* exec_fd closes on a successful exec; a failure sends its errno. */
	{
		int e = errno;

		dprintf(2, "cannot run %s: %s\n", argv[0], strerror(e));
		if (write(exec_fd, &e, sizeof(e)) < 0)
			_exit(126);
		_exit(e == ENOENT ? 127 : 126);
	}
}

int qemu_process_start(char *const *argv, const char *log_path, struct qemu_process *ret,
		       struct error *err)
{
	_cleanup_close_ int log_fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	pid_t parent = getpid(), pid;
	int exec_pipe[2], child_errno = 0;
	ssize_t n;

	*ret = (struct qemu_process){ .pidfd = -1 };
	if (log_fd < 0)
		return error_set_errno(err, errno, "create %s", log_path);
	ret->log_path = strdup(log_path);
	if (!ret->log_path)
		return error_set(err, ENOMEM, "out of memory");
	if (pipe2(exec_pipe, O_CLOEXEC) < 0)
		return error_set_errno(err, errno, "pipe");
	pid = fork();
	if (pid < 0) {
		int e = errno;

		close(exec_pipe[0]);
		close(exec_pipe[1]);
		return error_set_errno(err, e, "fork");
	}
	if (pid == 0)
		qemu_process_child(argv, log_fd, exec_pipe[1], parent);
	close(exec_pipe[1]);
	ret->pid = pid;
	ret->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	/* Wait for the exec: a QEMU that cannot run is said at once, not
	 * after the sockets it never creates time out. */
	while ((n = read(exec_pipe[0], &child_errno, sizeof(child_errno))) < 0 && errno == EINTR)
		;
	close(exec_pipe[0]);
	if (n == sizeof(child_errno)) {
		qemu_process_wait(ret, 5000);
		return error_set(err, ENOENT, "cannot run %s: %s", argv[0], strerror(child_errno));
	}
	return 0;
}

bool qemu_process_exited(struct qemu_process *q)
{
	if (!q->pid)
		return true;
	if (waitpid(q->pid, &q->wstatus, WNOHANG) != q->pid)
		return false;
	q->pid = 0;
	return true;
}

bool qemu_process_wait(struct qemu_process *q, int timeout_ms)
{
	int64_t end = clock_now_ms() + timeout_ms;

	while (!qemu_process_exited(q)) {
		int64_t left = end - clock_now_ms();

		if (left <= 0)
			return false;
		if (q->pidfd >= 0)
			poll(&(struct pollfd){ .fd = q->pidfd, .events = POLLIN }, 1, (int)left);
		else
			nanosleep(&(struct timespec){ .tv_nsec = 10 * 1000 * 1000 }, NULL);
	}
	return true;
}

void qemu_process_stop(struct qemu_process *q)
{
	if (qemu_process_exited(q))
		return;
	kill(q->pid, SIGTERM);
	if (qemu_process_wait(q, 3000))
		return;
	kill(q->pid, SIGKILL);
	qemu_process_wait(q, 10000);
}

char *qemu_process_log_tail(const struct qemu_process *q, size_t max)
{
	_cleanup_close_ int fd = q->log_path ? open(q->log_path, O_RDONLY | O_CLOEXEC) : -1;
	off_t size;
	char *buf;
	ssize_t n;

	if (fd < 0)
		return NULL;
	size = lseek(fd, 0, SEEK_END);
	if (size <= 0)
		return NULL;
	if ((size_t)size > max)
		lseek(fd, size - (off_t)max, SEEK_SET);
	else
		lseek(fd, 0, SEEK_SET);
	buf = malloc(max + 1);
	if (!buf)
		return NULL;
	n = read(fd, buf, max);
	if (n < 0)
		n = 0;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		n--;
	buf[n] = '\0';
	return buf;
}

void qemu_process_clear(struct qemu_process *q)
{
	qemu_process_stop(q);
	if (q->pidfd >= 0)
		close(q->pidfd);
	free(q->log_path);
	*q = (struct qemu_process){ .pidfd = -1 };
}
