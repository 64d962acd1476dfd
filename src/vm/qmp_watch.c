// SPDX-License-Identifier: MIT
#include "vm/qmp_watch.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "cleanup.h"

struct qmp_watch {
	struct qmp *qmp;
	int stop_fd;		/* eventfd: the runner wants us to end */
	pthread_t thread;
	bool started;
	enum qmp_watch_end end;	/* written by the thread, read with __atomic */
	qmp_watch_fn fn;
	void *data;
};

enum qmp_watch_end qmp_watch_end_of_shutdown(const char *reason)
{
	/* QAPI's ShutdownCause, as QEMU 7.2 words it. */
	if (!reason)
		return QMP_WATCH_STOPPED;
	if (strcmp(reason, "guest-reset") == 0)
		return QMP_WATCH_RESET;
	if (strcmp(reason, "guest-panic") == 0)
		return QMP_WATCH_PANICKED;
	if (strcmp(reason, "guest-shutdown") == 0)
		return QMP_WATCH_POWERED_OFF;
	return QMP_WATCH_STOPPED;
}

/* The first end counts: a pvpanic's GUEST_PANICKED comes before its SHUTDOWN. */
static void qmp_watch_event(enum qmp_event event, const char *name, const struct json_value *data,
			    void *userdata)
{
	struct qmp_watch *w = userdata;
	enum qmp_watch_end end;

	(void)name;
	if (event == QMP_EVENT_GUEST_PANICKED)
		end = QMP_WATCH_PANICKED;
	else if (event == QMP_EVENT_SHUTDOWN)
		end = qmp_watch_end_of_shutdown(data ? json_io_get_string(data, "reason") : NULL);
	else
		return;
	if (__atomic_load_n(&w->end, __ATOMIC_ACQUIRE) == QMP_WATCH_RUNNING)
		__atomic_store_n(&w->end, end, __ATOMIC_RELEASE);
}

static void *qmp_watch_thread(void *arg)
{
	struct qmp_watch *w = arg;
	bool told = false;

	for (;;) {
		struct pollfd p[2] = { { .fd = qmp_fd(w->qmp), .events = POLLIN },
				       { .fd = w->stop_fd, .events = POLLIN } };
		struct error err = { 0 };
		int r;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return NULL;
		}
		if (p[1].revents & POLLIN)
			return NULL;
		r = qmp_pump(w->qmp, &err);
		if (!told && qmp_watch_state(w) != QMP_WATCH_RUNNING) {
			told = true;
			if (w->fn)
				w->fn(w->data, qmp_watch_state(w), w->qmp);
		}
		/* QEMU has gone: its last events are in. */
		if (r < 0)
			return NULL;
	}
}

int qmp_watch_start(const char *socket_path, int64_t deadline, qmp_watch_fn fn, void *data,
		    struct qmp_watch **ret, struct error *err)
{
	struct qmp_watch *w = calloc(1, sizeof(*w));
	int r;

	if (!w)
		return error_set(err, ENOMEM, "out of memory");
	w->fn = fn;
	w->data = data;
	w->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (w->stop_fd < 0) {
		r = error_set_errno(err, errno, "eventfd");
		qmp_watch_free(w);
		return r;
	}
	r = qmp_connect(socket_path, deadline, &w->qmp, err);
	if (r >= 0) {
		qmp_on_event(w->qmp, qmp_watch_event, w);
		r = -pthread_create(&w->thread, NULL, qmp_watch_thread, w);
		if (r < 0)
			error_set_errno(err, -r, "start the QMP watch's thread");
		w->started = r >= 0;
	}
	if (r < 0) {
		qmp_watch_free(w);
		return r;
	}
	*ret = w;
	return 0;
}

enum qmp_watch_end qmp_watch_state(const struct qmp_watch *w)
{
	return w ? __atomic_load_n(&w->end, __ATOMIC_ACQUIRE) : QMP_WATCH_RUNNING;
}

struct qmp_watch *qmp_watch_free(struct qmp_watch *w)
{
	uint64_t one = 1;

	if (!w)
		return NULL;
	if (w->started) {
		if (write(w->stop_fd, &one, sizeof(one)) < 0)
			pthread_cancel(w->thread);
		pthread_join(w->thread, NULL);
	}
	if (w->stop_fd >= 0)
		close(w->stop_fd);
	qmp_free(w->qmp);
	free(w);
	return NULL;
}
