// SPDX-License-Identifier: MIT
#include "cli/load.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "cleanup.h"
#include "boot/kernel_find.h"
#include "boot/target_files.h"
#include "config/filter.h"
#include "io.h"
#include "vm/json_io.h"

/* A --timings report is read up to this size: a merged report's outputs. */
#define LOAD_TIMINGS_MAX (1024 << 20)

/* Where a one-liner without -k or -i finds the host's own kernel. */
#define LOAD_HOST_BOOT_DIR "/boot"

static int load_oneliner(const struct cli_options *o, struct config **ret_config,
			 struct error *err)
{
	_cleanup_free_ char *command = NULL, *host_kernel = NULL, *cwd = NULL;
	struct oneliner spec = {
		.kernel = o->kernel,
		.image = o->image,
		.uefi = o->uefi,
		.kernel_args = o->kargs,
		.rootfs = o->rootfs,
		.arch = o->arch,
		.qemu_command = o->qemu_command,
		.kvm_cpu_args = o->kvm_cpu_args,
	};
	int r;

	r = cli_command_line(o, &command, &spec.interactive, err);
	if (r < 0)
		return r;
	spec.command = command;
	if (!spec.kernel && !spec.image) {
		struct utsname u;

		uname(&u);
		r = kernel_find_host(LOAD_HOST_BOOT_DIR, u.release, &host_kernel, err);
		if (r < 0)
			return r;
		spec.kernel = host_kernel;
	}
	cwd = getcwd(NULL, 0);
	if (!cwd)
		return error_set_errno(err, errno, "cannot read the current directory");
	return config_new_oneliner(&spec, cwd, ret_config, err);
}

/* The report's text: the whole file, NUL-terminated. */
static int load_read_report(const char *path, char **ret, size_t *ret_len, struct error *err)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	_cleanup_free_ char *buf = NULL;
	struct stat st;
	int r;

	if (fd < 0 || fstat(fd, &st) < 0)
		return error_usage(err, "--timings %s: %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode) || st.st_size > LOAD_TIMINGS_MAX)
		return error_usage(err, "--timings %s: not a vmtest --json report", path);
	buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		return error_set(err, ENOMEM, "out of memory");
	r = io_read_all(fd, buf, (size_t)st.st_size, ret_len);
	if (r < 0)
		return error_usage(err, "--timings %s: %s", path, strerror(-r));
	buf[*ret_len] = '\0';
	*ret = TAKE_PTR(buf);
	return 0;
}

/* Each target's time in the report (by name), -1 when it has none. */
static int load_timings(const struct config *config, const char *path, double *seconds,
			struct error *err)
{
	_cleanup_free_ char *text = NULL;
	_cleanup_json_ struct json_value *doc = NULL;
	struct json_value *targets;
	size_t len = 0;
	int r = load_read_report(path, &text, &len, err);

	if (r < 0)
		return r;
	doc = json_io_parse_text(text, len);
	targets = doc ? json_io_get(doc, "targets") : NULL;
	if (!targets || !json_io_array_len(targets))
		return error_usage(err, "--timings %s: not a vmtest --json report (no \"targets\")",
				   path);
	for (size_t i = 0; i < config->n_targets; i++)
		seconds[i] = -1;
	for (size_t j = 0; j < json_io_array_len(targets); j++) {
		struct json_value *entry = json_io_array_get(targets, j);
		const char *name = json_io_get_string(entry, "name");
		double time;

		if (!name || !json_io_get_real(entry, "time", &time) || time < 0)
			continue;
		for (size_t i = 0; i < config->n_targets; i++)
			if (strcmp(config->targets[i].name, name) == 0)
				seconds[i] = time;
	}
	return 0;
}

int load_slices(const struct config *config, unsigned n, const char *timings_path,
		unsigned *ret_slices, double *ret_loads, struct error *err)
{
	_cleanup_free_ double *seconds = NULL;
	int r;

	if (ret_loads)
		memset(ret_loads, 0, n * sizeof(*ret_loads));
	if (!timings_path) {
		config_shard_by_position(config, n, ret_slices);
		return 0;
	}
	seconds = calloc(config->n_targets ? config->n_targets : 1, sizeof(*seconds));
	if (!seconds)
		return error_set(err, ENOMEM, "out of memory");
	r = load_timings(config, timings_path, seconds, err);
	if (r >= 0 && config_shard_by_time(config, n, seconds, ret_slices, ret_loads) < 0)
		r = error_set(err, ENOMEM, "out of memory");
	return r;
}

int load_targets(const struct cli_options *o, enum cli_mode mode, struct config **ret_config,
		 struct error *err)
{
	struct config *config = NULL;
	int r;

	if (mode == CLI_MODE_ONELINER)
		return load_oneliner(o, ret_config, err);
	r = config_load_file(o->config_path ? o->config_path : CONFIG_DEFAULT_FILE, &config, err);
	if (r < 0)
		return r;
	if (o->filter) {
		r = filter_targets(config, o->filter, err);
		if (r >= 0 && config->n_targets == 0)
			r = error_usage(err, "no target of %s matches --filter '%s'", config->path,
					o->filter);
	}
	if (r >= 0 && o->timings && !o->shard && !o->list_format)
		r = error_usage(err, "--timings makes --shard's slices (or --list=json's): give "
				"--shard K/N too");
	if (r >= 0 && o->shard) {
		_cleanup_free_ unsigned *slices = calloc(config->n_targets ? config->n_targets : 1,
							 sizeof(*slices));
		unsigned k, n;

		r = slices ? cli_parse_shard(o->shard, &k, &n, err)
			   : error_set(err, ENOMEM, "out of memory");
		if (r >= 0)
			r = load_slices(config, n, o->timings, slices, NULL, err);
		if (r >= 0)
			config_keep_slice(config, k, slices);
	}
	if (r < 0) {
		config_free(config);
		return r;
	}
	*ret_config = config;
	return 0;
}

int load_check_files(const struct config *config, struct error *err)
{
	for (size_t i = 0; i < config->n_targets; i++) {
		int r = target_files_check(config, &config->targets[i], err);

		if (r < 0)
			return r;
	}
	return 0;
}
