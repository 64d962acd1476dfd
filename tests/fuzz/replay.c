/* SPDX-License-Identifier: MIT */
/*
 * Replays fuzz inputs through a libFuzzer target without libFuzzer, so the
 * corpus kept in git runs in every `make check`.  Each argument is a file or
 * a directory whose files (not subdirectories) are replayed in name order.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Reads all of path into a new buffer; -errno on failure. */
static int read_file(const char *path, uint8_t **ret_data, size_t *ret_size)
{
	struct stat st;
	uint8_t *data;
	size_t done = 0;
	ssize_t n;
	int fd, r = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto out;
	}
	data = malloc((size_t)st.st_size + 1);
	if (!data) {
		r = -ENOMEM;
		goto out;
	}
	while (done < (size_t)st.st_size) {
		n = read(fd, data + done, (size_t)st.st_size - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? -errno : -EIO;
			free(data);
			goto out;
		}
		done += (size_t)n;
	}
	*ret_data = data;
	*ret_size = done;
out:
	close(fd);
	return r;
}

static int replay_file(const char *path)
{
	uint8_t *data = NULL;
	size_t size = 0;
	int r;

	r = read_file(path, &data, &size);
	if (r < 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(-r));
		return r;
	}
	LLVMFuzzerTestOneInput(data, size);
	free(data);
	return 0;
}

/* Replays the regular files of dir; returns how many, or -1 on an error. */
static int replay_dir(const char *dir)
{
	struct dirent **names;
	struct stat st;
	char path[4096];
	int n, i, count = 0;

	n = scandir(dir, &names, NULL, alphasort);
	if (n < 0) {
		fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
		if (count >= 0 && stat(path, &st) == 0 && S_ISREG(st.st_mode))
			count = replay_file(path) < 0 ? -1 : count + 1;
		free(names[i]);
	}
	free(names);
	return count;
}

int main(int argc, char **argv)
{
	struct stat st;
	int i, n, total = 0;

	for (i = 1; i < argc; i++) {
		if (stat(argv[i], &st) < 0) {
			fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
			return 1;
		}
		n = S_ISDIR(st.st_mode) ? replay_dir(argv[i]) : replay_file(argv[i]) < 0 ? -1 : 1;
		if (n < 0)
			return 1;
		total += n;
	}
	printf("replayed %d inputs\n", total);
	return 0;
}
