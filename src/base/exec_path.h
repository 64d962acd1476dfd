/* SPDX-License-Identifier: MIT */
/*
 * exec_path: the file exec would run for a command, as execvp finds it:
 * a name with a slash as it is, any other through PATH.
 */
#pragma once

/* The path (malloc'd), or NULL when there is none (or out of memory). */
char *exec_path_find(const char *command);

/* The program name (no slash) in the directory of command's file, else through PATH. */
char *exec_path_beside(const char *command, const char *name);
