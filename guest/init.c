// SPDX-License-Identifier: MIT
/*
 * vmtest's guest init: PID 1 of every kernel target.
 *
 * It prepares just enough to hear the host (API filesystems, modules, the
 * virtio-serial ports), then serves the guest agent protocol: the host asks
 * it to mount the root and the shares (vmtest-setup), to run the command
 * (guest-exec), for the result (guest-exec-status) and to power off
 * (guest-shutdown).  Like tini, it reaps every zombie in a signalfd loop.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/reboot.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent.h"
#include "early.h"
#include "exec.h"
#include "guest_proto.h"
#include "kmsg.h"
#include "log.h"

#define PORT_TIMEOUT_MS 10000
#define OUTPUT_PORT_TIMEOUT_MS 2000

static void init_power_off(void)
{
	/* The kernel's last records reach the host first, if it takes them. */
	kmsg_drain(1000);
	sync();
	reboot(RB_POWER_OFF);
	/* Only reached if the kernel refused: PID 1 exiting panics, and
	 * QEMU with -no-reboot stops either way. */
	_exit(1);
}

static int init_signalfd(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGPIPE);
	sigprocmask(SIG_BLOCK, &set, NULL);
	return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

static void init_reap(int sfd)
{
	struct signalfd_siginfo si;
	int wstatus;
	pid_t pid;

	while (read(sfd, &si, sizeof(si)) == sizeof(si))
		;
	while ((pid = waitpid(-1, &wstatus, WNOHANG)) > 0)
		exec_child_exited(pid, wstatus);
}

/* The main loop: the agent port, the signalfd, the commands' pipes, the
 * kernel's log once set up, and the output port while a command on a pty
 * wants its keystrokes. */
static void init_serve(struct agent *agent, int agent_fd, int output_fd, int sfd)
{
	struct pollfd pfds[5 + 2 * EXEC_MAX_JOBS];
	bool host_connected = true;

	while (!agent_shutdown_requested(agent)) {
		bool tty = output_fd >= 0 && exec_has_tty();
		size_t n;

		pfds[0] = (struct pollfd){ .fd = sfd, .events = POLLIN };
		pfds[1] = (struct pollfd){ .fd = host_connected ? agent_fd : -1, .events = POLLIN };
		pfds[2] = (struct pollfd){ .fd = tty ? output_fd : -1, .events = POLLIN };
		kmsg_pollfds(pfds + 3);
		n = exec_fill_pollfds(pfds + 5, 2 * EXEC_MAX_JOBS);
		/* With the host away a port reads as EOF at once: look again
		 * in a while rather than spin. */
		if (poll(pfds, 5 + n, host_connected ? -1 : 100) < 0 && errno != EINTR)
			log_msg("poll: %s", strerror(errno));
		if (pfds[0].revents & POLLIN)
			init_reap(sfd);
		if (pfds[1].revents & (POLLIN | POLLHUP | POLLERR) || !host_connected)
			host_connected = agent_handle_input(agent);
		if (pfds[2].revents & POLLIN)
			exec_handle_port_input(output_fd);
		kmsg_handle(pfds + 3);
		exec_handle_pollfds(pfds + 5, n);
	}
}

int main(void)
{
	struct agent *agent;
	int sfd, agent_fd, output_fd;

	if (getpid() != 1)
		log_msg("not PID 1: zombies of other processes will not be reaped");
	sfd = init_signalfd();
	early_mount_basics();
	early_load_modules();
	early_mount_api();
	early_loopback_up();
	/* Prompts show (none) otherwise. */
	sethostname("vmtest", 6);
	agent_fd = early_open_port(GUEST_PORT_AGENT, PORT_TIMEOUT_MS);
	if (agent_fd < 0) {
		char missing[256];

		early_missing_options(missing, sizeof(missing), false);
		log_msg("no virtio-serial port %s: the kernel lacks %s (enable them, built in or as modules)",
			GUEST_PORT_AGENT, *missing ? missing : "nothing vmtest knows of");
		init_power_off();
	}
	/* Ports appear one after the other: the agent's is no promise for it. */
	output_fd = early_open_port(GUEST_PORT_OUTPUT, OUTPUT_PORT_TIMEOUT_MS);
	if (output_fd < 0)
		log_msg("no virtio-serial port %s: commands' output will not reach the host",
			GUEST_PORT_OUTPUT);
	exec_set_output_fd(output_fd);
	/* Only kernel targets' QEMU has it; an older vmtest's has not. */
	kmsg_set_port(early_open_port(GUEST_PORT_KMSG, OUTPUT_PORT_TIMEOUT_MS));
	agent = agent_new(agent_fd);
	if (!agent || sfd < 0) {
		log_msg("out of memory");
		init_power_off();
	}
	init_serve(agent, agent_fd, output_fd, sfd);
	init_power_off();
}
