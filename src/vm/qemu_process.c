// SPDX-License-Identifier: MIT
#include "vm/qemu_process.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
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

struct qemu_process_spawn {
	char *const *argv;
	const int *keep_fds;
	int (*setup)(void *arg);
	void *setup_arg;
	int log_fd;
	pid_t pid;		/* or -errno */
	int exec_errno;
	bool done;
};

/* In the child: never returns.  Failures go to the log, which vmtest reads. */
static void qemu_process_child(const struct qemu_process_spawn *req, int exec_fd, pid_t parent)
{
	char *const *argv = req->argv;
	const int *keep_fds = req->keep_fds;
	int log_fd = req->log_fd;
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
	/* The files QEMU is given by number (/proc/self/fd/N, fd:N): every
	 * other descriptor of vmtest's is close-on-exec. */
	for (const int *fd = keep_fds; fd && *fd >= 0; fd++)
		if (fcntl(*fd, F_SETFD, 0) < 0)
			_exit(127);
	if (req->setup) {
		int e = -req->setup(req->setup_arg);

		if (e > 0) {
			dprintf(2, "cannot prepare %s: %s\n", argv[0], strerror(e));
			if (write(exec_fd, &e, sizeof(e)) < 0)
				_exit(126);
			_exit(126);
		}
	}
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

/* fork and exec, on the spawner's thread: the pid, or -errno; *ret_exec_errno
 * when the exec itself failed. */
static pid_t qemu_process_fork(const struct qemu_process_spawn *req, int *ret_exec_errno)
{
	int exec_pipe[2], child_errno = 0;
	pid_t parent = getpid(), pid;
	ssize_t n;

	*ret_exec_errno = 0;
	if (pipe2(exec_pipe, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		int e = errno;

		close(exec_pipe[0]);
		close(exec_pipe[1]);
		return -e;
	}
	if (pid == 0)
		qemu_process_child(req, exec_pipe[1], parent);
	close(exec_pipe[1]);
	/* Wait for the exec: a QEMU that cannot run is said at once, not
	 * after the sockets it never creates time out. */
	while ((n = read(exec_pipe[0], &child_errno, sizeof(child_errno))) < 0 && errno == EINTR)
		;
	close(exec_pipe[0]);
	if (n == sizeof(child_errno))
		*ret_exec_errno = child_errno;
	return pid;
}

/*
 * PR_SET_PDEATHSIG fires when the *thread* that forked a child exits, not
 * the process.  Targets run on worker threads (-j), so QEMU (and any helper
 * daemon to come) is forked by one thread that lives as long as vmtest: the
 * spawner.  A request is handed over under the lock and waited for.
 */

static pthread_mutex_t qemu_process_spawn_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t qemu_process_spawn_cond = PTHREAD_COND_INITIALIZER;
static struct qemu_process_spawn *qemu_process_spawn_pending;
static pthread_once_t qemu_process_spawner_once = PTHREAD_ONCE_INIT;
static bool qemu_process_spawner_running;
static bool qemu_process_spawner_stopping;
static pthread_t qemu_process_spawner_thread;

static void *qemu_process_spawner(void *arg)
{
	sigset_t all;

	(void)arg;
	/* Signals are for the threads that run targets: they must see EINTR. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	pthread_mutex_lock(&qemu_process_spawn_lock);
	for (;;) {
		struct qemu_process_spawn *req;

		while (!qemu_process_spawn_pending && !qemu_process_spawner_stopping)
			pthread_cond_wait(&qemu_process_spawn_cond, &qemu_process_spawn_lock);
		if (qemu_process_spawner_stopping)
			break;
		req = qemu_process_spawn_pending;
		qemu_process_spawn_pending = NULL;
		pthread_mutex_unlock(&qemu_process_spawn_lock);
		req->pid = qemu_process_fork(req, &req->exec_errno);
		pthread_mutex_lock(&qemu_process_spawn_lock);
		req->done = true;
		pthread_cond_broadcast(&qemu_process_spawn_cond);
	}
	pthread_mutex_unlock(&qemu_process_spawn_lock);
	return NULL;
}

/*
 * At exit, when every QEMU is gone: the spawner ends and is joined, so that
 * nothing of it is left for leak checkers to find (valgrind counts a
 * running thread's TLS as possibly lost).
 */
static void qemu_process_stop_spawner(void)
{
	pthread_mutex_lock(&qemu_process_spawn_lock);
	qemu_process_spawner_stopping = true;
	pthread_cond_broadcast(&qemu_process_spawn_cond);
	pthread_mutex_unlock(&qemu_process_spawn_lock);
	pthread_join(qemu_process_spawner_thread, NULL);
}

static void qemu_process_start_spawner(void)
{
	qemu_process_spawner_running = pthread_create(&qemu_process_spawner_thread, NULL,
						      qemu_process_spawner, NULL) == 0;
	if (qemu_process_spawner_running)
		atexit(qemu_process_stop_spawner);
}

/* The spawner forks; without one (no thread to be had), this thread does. */
static pid_t qemu_process_spawn(struct qemu_process_spawn *req_in, int *ret_exec_errno)
{
	struct qemu_process_spawn req = *req_in;

	pthread_once(&qemu_process_spawner_once, qemu_process_start_spawner);
	if (!qemu_process_spawner_running)
		return qemu_process_fork(&req, ret_exec_errno);
	pthread_mutex_lock(&qemu_process_spawn_lock);
	while (qemu_process_spawn_pending)
		pthread_cond_wait(&qemu_process_spawn_cond, &qemu_process_spawn_lock);
	qemu_process_spawn_pending = &req;
	pthread_cond_broadcast(&qemu_process_spawn_cond);
	while (!req.done)
		pthread_cond_wait(&qemu_process_spawn_cond, &qemu_process_spawn_lock);
	pthread_mutex_unlock(&qemu_process_spawn_lock);
	*ret_exec_errno = req.exec_errno;
	return req.pid;
}

int qemu_process_start(char *const *argv, const int *keep_fds, const char *log_path,
		       struct qemu_process *ret, struct error *err)
{
	return qemu_process_start_with(argv, keep_fds, NULL, NULL, log_path, ret, err);
}

int qemu_process_start_with(char *const *argv, const int *keep_fds, int (*setup)(void *arg),
			    void *setup_arg, const char *log_path, struct qemu_process *ret,
			    struct error *err)
{
	_cleanup_close_ int log_fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int exec_errno;
	pid_t pid;

	*ret = (struct qemu_process){ .pidfd = -1 };
	if (log_fd < 0)
		return error_set_errno(err, errno, "create %s", log_path);
	ret->log_path = strdup(log_path);
	if (!ret->log_path)
		return error_set(err, ENOMEM, "out of memory");
	pid = qemu_process_spawn(&(struct qemu_process_spawn){ .argv = argv, .keep_fds = keep_fds,
							       .setup = setup, .setup_arg = setup_arg,
							       .log_fd = log_fd },
				 &exec_errno);
	if (pid < 0)
		return error_set_errno(err, -pid, "cannot start %s", argv[0]);
	ret->pid = pid;
	ret->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (exec_errno) {
		qemu_process_wait(ret, 5000);
		return error_set(err, ENOENT, "cannot run %s: %s", argv[0], strerror(exec_errno));
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

/* Through the pidfd where there is one; the pid is not reaped before this
 * thread reaps it, so it is QEMU's either way. */
static void qemu_process_signal(const struct qemu_process *q, int sig)
{
	if ((q->pidfd < 0 || syscall(SYS_pidfd_send_signal, q->pidfd, sig, NULL, 0) < 0) &&
	    q->pid > 0)
		kill(q->pid, sig);
}

void qemu_process_stop(struct qemu_process *q)
{
	if (qemu_process_exited(q))
		return;
	qemu_process_signal(q, SIGTERM);
	if (qemu_process_wait(q, 3000))
		return;
	qemu_process_signal(q, SIGKILL);
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
