// SPDX-License-Identifier: MIT
#include "vm/virtiofsd.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "base/clock.h"
#include "base/exec_path.h"

/* Where QEMU 7.2's C daemon writes its pid files (its localstatedir's run/virtiofsd). */
#define VIRTIOFSD_PID_DIR "/run/virtiofsd"

char *virtiofsd_find(void)
{
	static const char *const places[] = { "/usr/libexec/virtiofsd", "/usr/lib/qemu/virtiofsd" };

	for (size_t i = 0; i < ARRAY_SIZE(places); i++)
		if (access(places[i], X_OK) == 0)
			return strdup(places[i]);
	return exec_path_find("virtiofsd");
}

/* The C daemon's pid file: the socket's path with every '/' made '.'. */
static char *virtiofsd_pid_file(const char *socket)
{
	char *path;

	if (asprintf(&path, VIRTIOFSD_PID_DIR "/%s.pid", socket) < 0)
		return NULL;
	for (char *p = path + strlen(VIRTIOFSD_PID_DIR "/"); *p; p++)
		if (*p == '/')
			*p = '.';
	return path;
}

struct virtiofsd_view {
	const char *source;
	const char *view;
};

/*
 * In the daemon's child, before exec: a mount namespace of its own, with
 * source bound on view, read-only all the way down (submounts included).
 * Nothing of it reaches the host's mount table.
 */
static int virtiofsd_make_view(void *arg)
{
	const struct virtiofsd_view *v = arg;
	struct mount_attr attr = { .attr_set = MOUNT_ATTR_RDONLY };

	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount(v->source, v->view, NULL, MS_BIND | MS_REC, NULL) < 0 ||
	    syscall(SYS_mount_setattr, AT_FDCWD, v->view, AT_RECURSIVE, &attr, sizeof(attr)) < 0)
		return -errno;
	return 0;
}

static int virtiofsd_listening(struct virtiofsd *d, const char *binary, int64_t deadline,
			       struct error *err)
{
	char why[128];

	for (;;) {
		struct stat st;

		if (stat(d->socket, &st) == 0 && S_ISSOCK(st.st_mode))
			return 0;
		if (virtiofsd_exited(d, why, sizeof(why))) {
			_cleanup_free_ char *said = qemu_process_log_tail(&d->process, 400);

			if (said)
				said[strcspn(said, "\n")] = '\0';
			return error_set(err, EIO, "%s serving %s %s%s%s", binary, d->what, why,
					 said ? ": " : "", said ? said : "");
		}
		if (clock_now_ms() >= deadline)
			return error_set(err, ETIMEDOUT, "%s serving %s did not listen on %s", binary,
					 d->what, d->socket);
		clock_sleep(5, deadline);
	}
}

int virtiofsd_start(const char *binary, const char *run_dir, const struct virtiofsd_export *e,
		    int64_t deadline, struct virtiofsd *ret, struct error *err)
{
	const char *id = e->id, *source = e->source;
	bool writable = e->writable;
	_cleanup_free_ char *log = NULL, *source_opt = NULL, *socket_opt = NULL;
	struct virtiofsd_view view;
	int r;

	*ret = (struct virtiofsd){ .process = { .pidfd = -1 } };
	ret->id = strdup(id);
	ret->what = strdup(e->what);
	ret->socket = strdup(e->socket);
	if (!writable && asprintf(&ret->view, "%s/vfs-%s", run_dir, id) < 0)
		ret->view = NULL;
	if (asprintf(&log, "%s/virtiofsd-%s.log", run_dir, id) < 0)
		log = NULL;
	ret->pid_file = ret->socket ? virtiofsd_pid_file(ret->socket) : NULL;
	if (!ret->id || !ret->what || !ret->socket || (!writable && !ret->view) || !log || !ret->pid_file)
		return error_set(err, ENOMEM, "out of memory");
	if (ret->view && mkdir(ret->view, 0700) < 0)
		return error_set_errno(err, errno, "create %s", ret->view);
	view = (struct virtiofsd_view){ .source = source, .view = ret->view };
	if (asprintf(&source_opt, "source=%s", ret->view ? ret->view : source) < 0 ||
	    asprintf(&socket_opt, "--socket-path=%s", ret->socket) < 0)
		return error_set(err, ENOMEM, "out of memory");
	{
		/*
		 * cache=always for the read-only root: nothing changes under it
		 * during a run.  auto for what the guest writes: shared
		 * writable mmap needs the page cache (Linux 6.1's FUSE refuses
		 * it on direct-io files, which cache=none makes).
		 */
		char *const argv[] = {
			(char *)binary, socket_opt, "-o", source_opt, "-o",
			writable ? "cache=auto" : "cache=always", "-o", "modcaps=-mknod",
			"-o", "sandbox=namespace", e->submounts ? "-o" : NULL, "announce_submounts",
			NULL,
		};

		r = qemu_process_start_with(argv, NULL, ret->view ? virtiofsd_make_view : NULL,
					    &view, log, &ret->process, err);
	}
	if (r < 0)
		return r;
	return virtiofsd_listening(ret, binary, deadline, err);
}

bool virtiofsd_exited(struct virtiofsd *d, char *ret_why, size_t why_len)
{
	int st;

	if (!qemu_process_exited(&d->process))
		return false;
	st = d->process.wstatus;
	if (WIFSIGNALED(st))
		snprintf(ret_why, why_len, "was killed by signal %d", WTERMSIG(st));
	else
		snprintf(ret_why, why_len, "exited with status %d", WEXITSTATUS(st));
	return true;
}

void virtiofsd_stop(struct virtiofsd *d)
{
	if (d->process.pid)
		qemu_process_stop(&d->process);
	qemu_process_clear(&d->process);
	if (d->socket)
		unlink(d->socket);
	if (d->pid_file)
		unlink(d->pid_file);
	if (d->view)
		rmdir(d->view);
	free(d->id);
	free(d->what);
	free(d->socket);
	free(d->view);
	free(d->pid_file);
	*d = (struct virtiofsd){ .process = { .pidfd = -1 } };
}

/* A walk of /usr holds some 170k inodes. */
#define VIRTIOFSD_FILES_WANTED 1048576UL

unsigned long virtiofsd_files_limit(void)
{
	struct rlimit now, more;

	if (getrlimit(RLIMIT_NOFILE, &now) < 0 || now.rlim_max >= VIRTIOFSD_FILES_WANTED)
		return 0;
	/* Could the daemon raise it?  Try it on ourselves, and put it back. */
	more = (struct rlimit){ now.rlim_cur, now.rlim_max + 1 };
	if (setrlimit(RLIMIT_NOFILE, &more) == 0) {
		setrlimit(RLIMIT_NOFILE, &now);
		return 0;
	}
	return (unsigned long)now.rlim_max;
}

void virtiofsd_sweep(void)
{
	DIR *d = opendir(VIRTIOFSD_PID_DIR);
	struct dirent *de;

	while (d && (de = readdir(d))) {
		/* ".tmp.vmtest-PID-XXXXXX.vfs-root.sock.pid": a run of vmtest PID. */
		const char *run = strstr(de->d_name, ".vmtest-");
		char *end;
		long pid;

		if (!run || !strstr(de->d_name, ".vfs-"))
			continue;
		pid = strtol(run + 8, &end, 10);
		if (end == run + 8 || *end != '-' || pid <= 0 || pid == getpid())
			continue;
		if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		unlinkat(dirfd(d), de->d_name, 0);
	}
	if (d)
		closedir(d);
}
