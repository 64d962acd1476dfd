// SPDX-License-Identifier: MIT
#include "targets/network.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "targets/target_run.h"

int network_check(const struct target *t, const struct run_options *o, struct error *err)
{
	for (size_t i = 0; i < o->n_forwards; i++)
		for (size_t j = 0; j < t->vm.n_forwards; j++)
			if (vm_forward_clash(&o->forwards[i], &t->vm.forwards[j]))
				return error_usage(err, "target '%s': --forward and vm.forward both "
						   "forward host port %u", t->name,
						   o->forwards[i].host_port);
	return 0;
}

/* --network none takes the NIC and the target's forwards away. */
int network_prepare(struct target_run *run, struct error *err)
{
	const struct target *t = run->target;
	const struct run_options *o = run->options;
	size_t n = 0;

	if (o->network >= 0)
		run->network = o->network == VM_NETWORK_USER;
	else
		run->network = t->vm.network == VM_NETWORK_USER || o->n_forwards;
	if (!run->network)
		return 0;
	run->forwards = calloc(t->vm.n_forwards + o->n_forwards + 1, sizeof(*run->forwards));
	if (!run->forwards)
		return error_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < t->vm.n_forwards; i++)
		run->forwards[n++] = t->vm.forwards[i];
	for (size_t i = 0; i < o->n_forwards; i++)
		run->forwards[n++] = o->forwards[i];
	run->n_forwards = n;
	return 0;
}

/* 0 when addr:port can be bound now, as QEMU binds (SO_REUSEADDR: a port in
 * TIME_WAIT passes); else -errno. */
static int network_port_free(const char *addr, unsigned port, bool udp)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
	int one = 1, r = 0;

	inet_pton(AF_INET, addr, &sa.sin_addr);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		r = -errno;
	if (fd >= 0)
		close(fd);
	return r;
}

/*
 * A forwarded host port that is taken would make QEMU exit ("Could not set
 * up host forwarding rule"): said first, naming the port, and nothing is
 * started.
 */
int network_check_ports(const struct target_run *run, struct error *err)
{
	int r;

	for (size_t i = 0; i < run->n_forwards; i++) {
		const struct vm_forward *f = &run->forwards[i];

		r = network_port_free(f->host_addr, f->host_port, f->udp);
		if (r < 0)
			return error_set(err, -r, "cannot forward %s port %u of %s to the guest's port "
					 "%u: %s%s", f->udp ? "UDP" : "TCP", f->host_port, f->host_addr,
					 f->guest_port, strerror(-r),
					 r == -EADDRINUSE ? " (another program listens there)" : "");
	}
	r = run->gdb_port ? network_port_free("127.0.0.1", run->gdb_port, false) : 0;
	if (r < 0)
		return error_set(err, -r, "cannot start the gdb stub on 127.0.0.1:%u: %s",
				 run->gdb_port, strerror(-r));
	return 0;
}
