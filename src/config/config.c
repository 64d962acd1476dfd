// SPDX-License-Identifier: MIT
#include "config/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "base/arch.h"
#include "base/duration.h"
#include "base/size.h"
#include "base/suggest.h"
#include "config/config_load.h"

/*
 * base_dir/path with "." components and repeated slashes dropped, so
 * messages and --dry-run show /work/bzImage rather than /work/./bzImage.
 * ".." is kept: removing it lexically would be wrong across symlinks.
 */
char *config_resolve_path(const char *base_dir, const char *path)
{
	size_t cap = strlen(base_dir) + strlen(path) + 2;
	char *out = malloc(cap), *o = out;
	const char *parts[2] = { path[0] == '/' ? "" : base_dir, path };

	if (!out)
		return NULL;
	for (size_t i = 0; i < 2; i++) {
		const char *p = parts[i];

		while (*p) {
			const char *end;

			while (*p == '/')
				p++;
			end = strchrnul(p, '/');
			if (end - p == 0 || (end - p == 1 && p[0] == '.')) {
				p = end;
				continue;
			}
			*o++ = '/';
			memcpy(o, p, end - p);
			o += end - p;
			p = end;
		}
	}
	if (o == out)
		*o++ = '/';
	*o = '\0';
	return out;
}

static const char *const vm_filesystem_names[] = {
	[VM_FILESYSTEM_AUTO] = "auto",
	[VM_FILESYSTEM_VIRTIOFS] = "virtiofs",
	[VM_FILESYSTEM_9P] = "9p",
};

const char *vm_filesystem_name(enum vm_filesystem fs)
{
	return vm_filesystem_names[fs];
}

int vm_filesystem_parse(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(vm_filesystem_names); i++)
		if (strcmp(name, vm_filesystem_names[i]) == 0)
			return (int)i;
	return -1;
}

static const char *const vm_results_names[] = {
	[VM_RESULTS_NONE] = "none",
	[VM_RESULTS_TAP] = "tap",
	[VM_RESULTS_KTAP] = "ktap",
	[VM_RESULTS_GOTEST_JSON] = "gotest-json",
	[VM_RESULTS_KUNIT] = "kunit",
};

const char vm_results_names_text[] = "\"none\", \"tap\", \"ktap\", \"gotest-json\" or \"kunit\"";

const char *vm_results_name(enum vm_results results)
{
	return (size_t)results < ARRAY_SIZE(vm_results_names) ? vm_results_names[results] : "?";
}

int vm_results_parse(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(vm_results_names); i++)
		if (strcmp(name, vm_results_names[i]) == 0)
			return (int)i;
	return -1;
}

static const char *const vm_kernel_warnings_names[] = {
	[VM_KERNEL_WARNINGS_FAIL] = "fail",
	[VM_KERNEL_WARNINGS_IGNORE] = "ignore",
};

const char *vm_kernel_warnings_name(enum vm_kernel_warnings kw)
{
	return vm_kernel_warnings_names[kw];
}

int vm_kernel_warnings_parse(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(vm_kernel_warnings_names); i++)
		if (strcmp(name, vm_kernel_warnings_names[i]) == 0)
			return (int)i;
	return -1;
}

static const char *const vm_network_names[] = {
	[VM_NETWORK_NONE] = "none",
	[VM_NETWORK_USER] = "user",
};

const char *vm_network_name(enum vm_network network)
{
	return vm_network_names[network];
}

int vm_network_parse(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(vm_network_names); i++)
		if (strcmp(name, vm_network_names[i]) == 0)
			return (int)i;
	return -1;
}

/* A port: 1 to 65535, digits only. */
static bool vm_port_parse(const char *text, size_t len, unsigned *ret)
{
	unsigned long v = 0;

	if (len == 0 || len > 5)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (text[i] < '0' || text[i] > '9')
			return false;
		v = v * 10 + (unsigned long)(text[i] - '0');
	}
	if (v < 1 || v > 65535)
		return false;
	*ret = (unsigned)v;
	return true;
}

int vm_forward_parse(const char *spec, struct vm_forward *ret, char *problem, size_t problem_len)
{
	const char *fields[4];
	size_t lens[4], n = 0;
	const char *p = spec;
	struct in_addr addr;
	char address[sizeof(ret->host_addr)];

	*ret = (struct vm_forward){ .host_addr = "127.0.0.1" };
	for (;;) {
		const char *colon = strchr(p, ':');

		if (n == ARRAY_SIZE(fields))
			goto bad;
		fields[n] = p;
		lens[n++] = colon ? (size_t)(colon - p) : strlen(p);
		if (!colon)
			break;
		p = colon + 1;
	}
	if (n >= 3 && lens[0] == 3 && (strncmp(fields[0], "tcp", 3) == 0 ||
				       strncmp(fields[0], "udp", 3) == 0)) {
		ret->udp = fields[0][0] == 'u';
		memmove(fields, fields + 1, (n - 1) * sizeof(*fields));
		memmove(lens, lens + 1, (n - 1) * sizeof(*lens));
		n--;
	}
	if (n == 3) {
		if (lens[0] == 0 || lens[0] >= sizeof(address))
			goto bad;
		memcpy(address, fields[0], lens[0]);
		address[lens[0]] = '\0';
		if (inet_pton(AF_INET, address, &addr) != 1) {
			snprintf(problem, problem_len, "'%s' is not an IPv4 address", address);
			return -1;
		}
		snprintf(ret->host_addr, sizeof(ret->host_addr), "%s", address);
		fields[0] = fields[1], lens[0] = lens[1];
		fields[1] = fields[2], lens[1] = lens[2];
		n = 2;
	}
	if (n != 2)
		goto bad;
	if (!vm_port_parse(fields[0], lens[0], &ret->host_port) ||
	    !vm_port_parse(fields[1], lens[1], &ret->guest_port)) {
		snprintf(problem, problem_len, "ports are numbers from 1 to 65535");
		return -1;
	}
	return 0;
bad:
	snprintf(problem, problem_len, "expected [tcp:|udp:][ADDRESS:]HOSTPORT:GUESTPORT, "
		 "such as 8080:80 or udp:0.0.0.0:5353:53");
	return -1;
}

bool vm_forward_clash(const struct vm_forward *a, const struct vm_forward *b)
{
	return a->udp == b->udp && a->host_port == b->host_port &&
	       strcmp(a->host_addr, b->host_addr) == 0;
}

void vm_forward_format(const struct vm_forward *f, char *buf, size_t len)
{
	snprintf(buf, len, "%s:%s:%u-:%u", f->udp ? "udp" : "tcp", f->host_addr, f->host_port,
		 f->guest_port);
}

int config_fill_defaults(struct target *t, struct error *err)
{
	if (t->kind == TARGET_KERNEL && !t->rootfs)
		t->rootfs = strdup(CONFIG_DEFAULT_ROOTFS);
	if (!t->arch)
		t->arch = strdup(arch_host());
	if (t->arch && !t->qemu_command && asprintf(&t->qemu_command, "qemu-system-%s", t->arch) < 0)
		t->qemu_command = NULL;
	if (!t->vm.num_cpus)
		t->vm.num_cpus = CONFIG_DEFAULT_NUM_CPUS;
	if (!t->vm.memory) {
		t->vm.memory = strdup(CONFIG_DEFAULT_MEMORY);
		size_parse(CONFIG_DEFAULT_MEMORY, 1, &t->vm.memory_bytes);
	}
	if (!t->vm.extra_args)
		t->vm.extra_args = calloc(1, sizeof(char *));
	if ((t->kind == TARGET_KERNEL && !t->rootfs) || !t->arch || !t->qemu_command ||
	    !t->vm.memory || !t->vm.extra_args)
		return error_set(err, ENOMEM, "out of memory");
	return 0;
}

/* --- public ------------------------------------------------------------- */

static int oneliner_strdup(const char *value, char **ret)
{
	if (!value)
		return 0;
	*ret = strdup(value);
	return *ret ? 0 : -ENOMEM;
}

int config_new_oneliner(const struct oneliner *spec, const char *base_dir,
			struct config **ret_config, struct error *err)
{
	struct config *config = calloc(1, sizeof(*config));
	struct target *t;
	char problem[256];
	const char *base, *file;
	int r = 0;

	if (!config)
		return error_set(err, ENOMEM, "out of memory");
	config->base_dir = strdup(base_dir);
	config->targets = calloc(1, sizeof(*config->targets));
	if (!config->base_dir || !config->targets)
		goto oom;
	config->n_targets = 1;
	t = &config->targets[0];
	t->kind = spec->image ? TARGET_IMAGE : TARGET_KERNEL;
	t->interactive = spec->interactive;
	t->uefi = spec->uefi;
	t->kernel_origin.option = "-k";
	t->rootfs_origin.option = "-r";
	t->image_origin.option = "-i";
	file = spec->image ? spec->image : spec->kernel;
	base = strrchr(file, '/');
	t->name = strdup(base && base[1] ? base + 1 : file);
	if (spec->image)
		t->image = config_resolve_path(base_dir, spec->image);
	else
		t->kernel = config_resolve_path(base_dir, spec->kernel);
	if (spec->rootfs)
		t->rootfs = config_resolve_path(base_dir, spec->rootfs);
	if (!t->name || !(t->kernel || t->image) || (spec->rootfs && !t->rootfs))
		goto oom;
	r |= oneliner_strdup(spec->kernel_args, &t->kernel_args);
	r |= oneliner_strdup(spec->arch, &t->arch);
	r |= oneliner_strdup(spec->qemu_command, &t->qemu_command);
	r |= oneliner_strdup(spec->kvm_cpu_args, &t->kvm_cpu_args);
	r |= oneliner_strdup(spec->command, &t->command);
	if (r < 0)
		goto oom;
	if (t->arch && arch_check_name(t->arch, problem, sizeof(problem)) < 0) {
		config_free(config);
		return error_usage(err, "-a: %s", problem);
	}
	r = config_fill_defaults(t, err);
	if (r < 0) {
		config_free(config);
		return r;
	}
	*ret_config = config;
	return 0;
oom:
	config_free(config);
	return error_set(err, ENOMEM, "out of memory");
}

void config_shard_by_position(const struct config *config, unsigned n, unsigned *ret_slices)
{
	for (size_t i = 0; i < config->n_targets; i++)
		ret_slices[i] = (unsigned)(i % n) + 1;
}

void config_keep_shard(struct config *config, unsigned k, unsigned n)
{
	unsigned *slices = calloc(config->n_targets ? config->n_targets : 1, sizeof(*slices));
	size_t kept = 0;

	if (slices) {
		config_shard_by_position(config, n, slices);
		config_keep_slice(config, k, slices);
		free(slices);
		return;
	}
	/* No memory for the slices: the same rule, in place. */
	for (size_t i = 0; i < config->n_targets; i++) {
		if (i % n != k - 1) {
			config_target_clear(&config->targets[i]);
			continue;
		}
		config->targets[kept++] = config->targets[i];
	}
	config->n_targets = kept;
}

/* Longest first; the config's order between equals. */
struct config_timed {
	double seconds;
	size_t index;
};

static int config_timed_cmp(const void *a, const void *b)
{
	const struct config_timed *x = a, *y = b;

	if (x->seconds != y->seconds)
		return x->seconds < y->seconds ? 1 : -1;
	return x->index < y->index ? -1 : x->index > y->index;
}

static int config_double_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The median of the times known, for those unknown (1 s when none is). */
static double config_median(const double *seconds, size_t n)
{
	double *known = calloc(n ? n : 1, sizeof(*known)), median = 1;
	size_t k = 0;

	for (size_t i = 0; known && i < n; i++)
		if (seconds[i] >= 0)
			known[k++] = seconds[i];
	if (k) {
		qsort(known, k, sizeof(*known), config_double_cmp);
		median = k % 2 ? known[k / 2] : (known[k / 2 - 1] + known[k / 2]) / 2;
	}
	free(known);
	return median;
}

int config_shard_by_time(const struct config *config, unsigned n, const double *seconds,
			 unsigned *ret_slices, double *ret_loads)
{
	size_t count = config->n_targets;
	struct config_timed *order = calloc(count ? count : 1, sizeof(*order));
	double *load = calloc(n, sizeof(*load)), median = config_median(seconds, count);

	if (!order || !load) {
		free(order);
		free(load);
		return -ENOMEM;
	}
	for (size_t i = 0; i < count; i++)
		order[i] = (struct config_timed){ seconds[i] >= 0 ? seconds[i] : median, i };
	qsort(order, count, sizeof(*order), config_timed_cmp);
	for (size_t j = 0; j < count; j++) {
		unsigned least = 0;

		for (unsigned s = 1; s < n; s++)
			if (load[s] < load[least])
				least = s;
		load[least] += order[j].seconds;
		ret_slices[order[j].index] = least + 1;
	}
	if (ret_loads)
		memcpy(ret_loads, load, n * sizeof(*load));
	free(order);
	free(load);
	return 0;
}

void config_keep_slice(struct config *config, unsigned k, const unsigned *slices)
{
	size_t kept = 0;

	for (size_t i = 0; i < config->n_targets; i++) {
		if (slices[i] != k) {
			config_target_clear(&config->targets[i]);
			continue;
		}
		config->targets[kept++] = config->targets[i];
	}
	config->n_targets = kept;
}

void config_target_clear(struct target *t)
{
	free(t->name);
	free(t->kernel);
	free(t->kernel_args);
	free(t->rootfs);
	free(t->image);
	free(t->arch);
	free(t->qemu_command);
	free(t->kvm_cpu_args);
	free(t->command);
	free(t->vm.memory);
	free(t->vm.bios);
	for (size_t i = 0; i < t->vm.n_extra_args; i++)
		free(t->vm.extra_args[i]);
	free(t->vm.extra_args);
	free(t->vm.forwards);
	for (size_t i = 0; i < t->vm.n_allowed_warnings; i++)
		free(t->vm.allowed_warnings[i]);
	free(t->vm.allowed_warnings);
	for (size_t i = 0; i < t->vm.n_expected_failures; i++)
		free(t->vm.expected_failures[i]);
	free(t->vm.expected_failures);
	free(t->vm.results_file);
	for (size_t i = 0; i < t->vm.n_mounts; i++) {
		free(t->vm.mounts[i].guest_path);
		free(t->vm.mounts[i].host_path);
	}
	free(t->vm.mounts);
	memset(t, 0, sizeof(*t));
}

struct config *config_free(struct config *config)
{
	if (!config)
		return NULL;
	for (size_t i = 0; i < config->n_targets; i++)
		config_target_clear(&config->targets[i]);
	free(config->targets);
	free(config->path);
	free(config->base_dir);
	free(config);
	return NULL;
}

const struct mount *config_writable_root_mount(const struct target *t)
{
	for (size_t i = 0; i < t->vm.n_mounts; i++) {
		const struct mount *m = &t->vm.mounts[i];
		_cleanup_free_ char *real = m->writable ? realpath(m->host_path, NULL) : NULL;

		if (real && strcmp(real, "/") == 0)
			return m;
	}
	return NULL;
}

/* real lies in share (both resolved): the same directory, or below it. */
static bool config_path_below(const char *real, const char *share)
{
	_cleanup_free_ char *top = realpath(share, NULL);
	size_t n;

	if (!top)
		return false;
	n = strlen(top);
	if (strcmp(top, "/") == 0)
		return true;
	return strncmp(real, top, n) == 0 && (real[n] == '/' || real[n] == '\0');
}

bool config_in_writable_share(const struct config *config, const struct target *t,
			      const char *path)
{
	_cleanup_free_ char *real = realpath(path, NULL);

	if (!real)
		return false;
	if (config_path_below(real, config->base_dir))
		return true;
	for (size_t i = 0; i < t->vm.n_mounts; i++)
		if (t->vm.mounts[i].writable && config_path_below(real, t->vm.mounts[i].host_path))
			return true;
	return false;
}
