/* SPDX-License-Identifier: MIT */
/*
 * terminal: the user's terminal while a guest pty is attached to it.  Raw
 * mode so that every key (Ctrl-C, Ctrl-D, arrows) reaches the guest, the
 * window size and its changes for the guest's pty, and the terminal put
 * back exactly as it was on every way out, signals included.
 */
#pragma once

#include <stdbool.h>

/* Save the settings of fd and make it raw; false if fd is not a terminal. */
bool terminal_raw(int fd);

/* Put the saved settings back; safe to call again, and from a signal handler. */
void terminal_restore(void);

/* The size of the terminal on fd (24x80 when unknown). */
void terminal_size(int fd, unsigned short *ret_rows, unsigned short *ret_cols);

/* An fd that becomes readable when the window size changes (SIGWINCH);
 * drain it with terminal_winch_clear. */
int terminal_winch_fd(void);
void terminal_winch_clear(void);
