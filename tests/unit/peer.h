/* SPDX-License-Identifier: MIT */
/*
 * peer: a real program at the other end of the clients under test (QEMU's
 * monitor for test_qmp.c, qemu-ga for test_qga.c): found in the usual
 * directories or where an environment variable says, started in a
 * private directory with its output in a log there, and killed with the
 * test (PR_SET_PDEATHSIG).
 */
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

/*
 * The program `name` into path: $override_env when set (then only that),
 * else the first of the system's bin directories that has it.  false (and
 * path empty) when there is none.
 */
static inline bool peer_find(const char *override_env, const char *name, char *path, size_t size)
{
	static const char *const dirs[] = { "/usr/sbin", "/usr/bin", "/sbin", "/bin",
					    "/usr/local/sbin", "/usr/local/bin" };
	const char *override = getenv(override_env);

	if (override) {
		snprintf(path, size, "%s", override);
		if (access(override, X_OK) == 0)
			return true;
		path[0] = '\0';
		return false;
	}
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(path, size, "%s/%s", dirs[i], name);
		if (access(path, X_OK) == 0)
			return true;
	}
	path[0] = '\0';
	return false;
}

/* A private directory /tmp/vmtest-unit-TAG-XXXXXX into dir. */
static inline bool peer_dir_make(char *dir, size_t size, const char *tag)
{
	snprintf(dir, size, "/tmp/vmtest-unit-%s-XXXXXX", tag);
	return mkdtemp(dir) != NULL;
}

static inline int peer_dir_remove(const char *dir)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Start argv with stdout and stderr appended to log; the pid, or -1. */
static inline pid_t peer_start(char *const *argv, const char *log)
{
	pid_t parent = getpid(), pid = fork();

	if (pid == 0) {
		int fd;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (getppid() != parent || fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
			_exit(126);
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}
