// SPDX-License-Identifier: MIT
#include "base/exec_path.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char *exec_path_find(const char *command)
{
	const char *path_env = getenv("PATH");
	char *path;

	if (strchr(command, '/'))
		return access(command, X_OK) == 0 ? strdup(command) : NULL;
	/* execvp's default when PATH is unset. */
	if (!path_env)
		path_env = "/bin:/usr/bin";
	for (const char *p = path_env;;) {
		size_t n = strcspn(p, ":");

		if (asprintf(&path, "%.*s/%s", (int)n, n ? p : ".", command) < 0)
			return NULL;
		if (access(path, X_OK) == 0)
			return path;
		free(path);
		if (!p[n])
			return NULL;
		p += n + 1;
	}
}

char *exec_path_beside(const char *command, const char *name)
{
	char *found = exec_path_find(command), *slash, *path = NULL;

	if (found && (slash = strrchr(found, '/')) &&
	    asprintf(&path, "%.*s/%s", (int)(slash - found), found, name) >= 0 &&
	    access(path, X_OK) < 0) {
		free(path);
		path = NULL;
	}
	free(found);
	return path ? path : exec_path_find(name);
}
