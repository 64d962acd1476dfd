// SPDX-License-Identifier: MIT
#include "base/terminal.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

static struct termios saved;
static int saved_fd = -1;
static int winch_pipe[2] = { -1, -1 };

void terminal_restore(void)
{
	if (saved_fd < 0)
		return;
	tcsetattr(saved_fd, TCSAFLUSH, &saved);
	saved_fd = -1;
}

bool terminal_raw(int fd)
{
	struct termios raw;

	if (!isatty(fd) || tcgetattr(fd, &saved) < 0)
		return false;
	raw = saved;
	cfmakeraw(&raw);
	if (tcsetattr(fd, TCSAFLUSH, &raw) < 0)
		return false;
	saved_fd = fd;
	atexit(terminal_restore);
	return true;
}

void terminal_size(int fd, unsigned short *ret_rows, unsigned short *ret_cols)
{
	struct winsize ws = { 0 };

	if (ioctl(fd, TIOCGWINSZ, &ws) < 0 || !ws.ws_row || !ws.ws_col) {
		ws.ws_row = 24;
		ws.ws_col = 80;
	}
	*ret_rows = ws.ws_row;
	*ret_cols = ws.ws_col;
}

static void terminal_on_winch(int signo)
{
	int saved_errno = errno;
	char c = 0;

	if (write(winch_pipe[1], &c, 1) < 0) {
		/* full: a change is already pending */
	}
	errno = saved_errno;
}

int terminal_winch_fd(void)
{
	struct sigaction sa = { .sa_handler = terminal_on_winch, .sa_flags = SA_RESTART };

	if (winch_pipe[0] >= 0)
		return winch_pipe[0];
	if (pipe2(winch_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		return -1;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGWINCH, &sa, NULL);
	return winch_pipe[0];
}

void terminal_winch_clear(void)
{
	char buf[64];

	while (winch_pipe[0] >= 0 && read(winch_pipe[0], buf, sizeof(buf)) > 0)
		;
}
