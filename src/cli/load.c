// SPDX-License-Identifier: MIT
#include "cli/load.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "cleanup.h"
#include "boot/kernel_find.h"
#include "boot/target_files.h"
#include "config/filter.h"

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
	if (r >= 0 && o->shard) {
		unsigned k, n;

		r = cli_parse_shard(o->shard, &k, &n, err);
		if (r >= 0)
			config_keep_shard(config, k, n);
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
