// SPDX-License-Identifier: MIT
/* [target.vm] and [target.vm.mounts]: the keys of a target's VM. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <errno.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "base/size.h"
#include "config/config_load.h"
#include "config/config_load_internal.h"

/* --- [target.vm.mounts] ------------------------------------------------- */

static int mount_apply_host_path(struct loader *ld, struct target *t, const struct toml_entry *e,
				 struct error *err)
{
	struct mount *m = &t->vm.mounts[t->vm.n_mounts - 1];

	return loader_path(ld, e, &m->host_path, NULL, err);
}

static int mount_apply_writable(struct loader *ld, struct target *t, const struct toml_entry *e,
				struct error *err)
{
	t->vm.mounts[t->vm.n_mounts - 1].writable = e->value->u.boolean;
	return 0;
}

static const struct key_spec mount_keys[] = {
	{ "host_path", TOML_STRING, mount_apply_host_path },
	{ "writable", TOML_BOOL, mount_apply_writable },
};

static bool mount_same_path(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	while (la > 1 && a[la - 1] == '/')
		la--;
	while (lb > 1 && b[lb - 1] == '/')
		lb--;
	return la == lb && memcmp(a, b, la) == 0;
}

static int mount_check_guest_path(struct loader *ld, struct target *t, const struct toml_entry *e,
				  struct error *err)
{
	if (strlen(e->key) != e->key_len || e->key[0] != '/')
		return loader_fail(ld, e->key_pos, err,
				   "vm.mounts: guest path '%s' must be absolute", e->key);
	if (mount_same_path(e->key, "/"))
		return loader_fail(ld, e->key_pos, err, "vm.mounts: cannot mount over /");
	if (mount_same_path(e->key, CONFIG_SHARED_GUEST_PATH))
		return loader_fail(ld, e->key_pos, err,
				   "vm.mounts: %s is where vmtest shares the config's directory",
				   CONFIG_SHARED_GUEST_PATH);
	for (size_t i = 0; i < t->vm.n_mounts; i++)
		if (mount_same_path(t->vm.mounts[i].guest_path, e->key))
			return loader_fail(ld, e->key_pos, err,
					   "vm.mounts: '%s' is mounted twice (first at line %d)",
					   e->key, t->vm.mounts[i].origin.pos.line);
	return 0;
}

static int mount_apply(struct loader *ld, struct target *t, const struct toml_entry *e,
		       struct error *err)
{
	struct mount *grown, *m;
	int r;

	r = mount_check_guest_path(ld, t, e, err);
	if (r < 0)
		return r;
	if (e->value->type != TOML_TABLE)
		return loader_fail(ld, e->value->pos, err,
				   "vm.mounts: '%s' must be a table like { host_path = \"dir\", writable = false }, got %s %s",
				   e->key, config_type_article(e->value->type),
				   toml_type_name(e->value->type));
	grown = realloc(t->vm.mounts, (t->vm.n_mounts + 1) * sizeof(*grown));
	if (!grown)
		return error_set(err, ENOMEM, "out of memory");
	t->vm.mounts = grown;
	m = &t->vm.mounts[t->vm.n_mounts++];
	*m = (struct mount){ .origin = origin_at(e->key_pos) };
	m->guest_path = strdup(e->key);
	if (!m->guest_path)
		return error_set(err, ENOMEM, "out of memory");
	r = loader_apply_table(ld, t, e->value->u.table, "a vm.mounts entry", mount_keys,
			       ARRAY_SIZE(mount_keys), err);
	if (r < 0)
		return r;
	if (!m->host_path)
		return loader_fail(ld, e->value->pos, err, "vm.mounts: '%s' needs host_path",
				   e->key);
	return 0;
}

/* --- [target.vm] --------------------------------------------------------- */

static int vm_apply_num_cpus(struct loader *ld, struct target *t, const struct toml_entry *e,
			     struct error *err)
{
	int64_t n = e->value->u.integer;

	if (n < 1 || n > 255)
		return loader_fail(ld, e->value->pos, err,
				   "vm.num_cpus: %lld is out of range (1 to 255)", (long long)n);
	t->vm.num_cpus = (unsigned)n;
	return 0;
}

static int vm_apply_memory(struct loader *ld, struct target *t, const struct toml_entry *e,
			   struct error *err)
{
	int r = loader_string(ld, e, true, &t->vm.memory, err);

	if (r < 0)
		return r;
	/* QEMU's -m reads a bare number as MiB. */
	if (!size_parse(t->vm.memory, 1024 * 1024, &t->vm.memory_bytes))
		return loader_fail(ld, e->value->pos, err,
				   "vm.memory: '%s' is not a size QEMU understands (such as \"512M\" or \"4G\")",
				   t->vm.memory);
	return 0;
}

static int vm_apply_bios(struct loader *ld, struct target *t, const struct toml_entry *e,
			 struct error *err)
{
	return loader_path(ld, e, &t->vm.bios, &t->vm.bios_origin, err);
}

static int vm_apply_extra_args(struct loader *ld, struct target *t, const struct toml_entry *e,
			       struct error *err)
{
	const struct toml_array *a = &e->value->u.array;
	char **args = calloc(a->len + 1, sizeof(*args));

	if (!args)
		return error_set(err, ENOMEM, "out of memory");
	t->vm.extra_args = args;
	for (size_t i = 0; i < a->len; i++) {
		const struct toml_value *item = a->items[i];

		if (item->type != TOML_STRING)
			return loader_fail(ld, item->pos, err,
					   "vm.extra_args: expected strings, got %s %s",
					   config_type_article(item->type), toml_type_name(item->type));
		if (strlen(item->u.string.ptr) != item->u.string.len)
			return loader_fail(ld, item->pos, err,
					   "vm.extra_args: must not contain NUL characters");
		args[i] = strdup(item->u.string.ptr);
		if (!args[i])
			return error_set(err, ENOMEM, "out of memory");
		t->vm.n_extra_args = i + 1;
	}
	return 0;
}

static int vm_apply_mounts(struct loader *ld, struct target *t, const struct toml_entry *e,
			   struct error *err)
{
	const struct toml_table *mounts = e->value->u.table;

	for (size_t i = 0; i < mounts->len; i++) {
		int r = mount_apply(ld, t, &mounts->entries[i], err);

		if (r < 0)
			return r;
	}
	return 0;
}

static int vm_apply_persist(struct loader *ld, struct target *t, const struct toml_entry *e,
			    struct error *err)
{
	t->vm.persist = e->value->u.boolean;
	t->vm.persist_origin = origin_at(e->key_pos);
	return 0;
}

static int vm_apply_snapshot(struct loader *ld, struct target *t, const struct toml_entry *e,
			     struct error *err)
{
	t->vm.no_snapshot = !e->value->u.boolean;
	return 0;
}

static int vm_apply_usr_image(struct loader *ld, struct target *t, const struct toml_entry *e,
			      struct error *err)
{
	t->vm.no_usr_image = !e->value->u.boolean;
	return 0;
}

static int vm_apply_filesystem(struct loader *ld, struct target *t, const struct toml_entry *e,
			       struct error *err)
{
	int fs = vm_filesystem_parse(e->value->u.string.ptr);

	if (fs < 0 || strlen(e->value->u.string.ptr) != e->value->u.string.len)
		return loader_fail(ld, e->value->pos, err,
				   "vm.filesystem: expected \"auto\", \"virtiofs\" or \"9p\"");
	t->vm.filesystem = (enum vm_filesystem)fs;
	return 0;
}

static int vm_apply_network(struct loader *ld, struct target *t, const struct toml_entry *e,
			    struct error *err)
{
	int network = vm_network_parse(e->value->u.string.ptr);

	if (network < 0 || strlen(e->value->u.string.ptr) != e->value->u.string.len)
		return loader_fail(ld, e->value->pos, err,
				   "vm.network: expected \"none\" or \"user\"");
	t->vm.network = (enum vm_network)network;
	t->vm.network_origin = origin_at(e->value->pos);
	return 0;
}

static int vm_apply_forward(struct loader *ld, struct target *t, const struct toml_entry *e,
			    struct error *err)
{
	const struct toml_array *a = &e->value->u.array;

	t->vm.forwards = calloc(a->len + 1, sizeof(*t->vm.forwards));
	if (!t->vm.forwards)
		return error_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < a->len; i++) {
		const struct toml_value *item = a->items[i];
		char problem[160];

		if (item->type != TOML_STRING)
			return loader_fail(ld, item->pos, err,
					   "vm.forward: expected strings, got %s %s",
					   config_type_article(item->type), toml_type_name(item->type));
		if (strlen(item->u.string.ptr) != item->u.string.len ||
		    vm_forward_parse(item->u.string.ptr, &t->vm.forwards[i], problem,
				     sizeof(problem)) < 0)
			return loader_fail(ld, item->pos, err, "vm.forward '%s': %s",
					   item->u.string.ptr,
					   strlen(item->u.string.ptr) != item->u.string.len
						   ? "must not contain NUL characters" : problem);
		for (size_t j = 0; j < i; j++)
			if (vm_forward_clash(&t->vm.forwards[j], &t->vm.forwards[i]))
				return loader_fail(ld, item->pos, err,
						   "vm.forward '%s': host port %u is forwarded twice",
						   item->u.string.ptr, t->vm.forwards[i].host_port);
		t->vm.n_forwards = i + 1;
	}
	return 0;
}

static int vm_apply_kernel_warnings(struct loader *ld, struct target *t,
				    const struct toml_entry *e, struct error *err)
{
	int kw = vm_kernel_warnings_parse(e->value->u.string.ptr);

	if (kw < 0 || strlen(e->value->u.string.ptr) != e->value->u.string.len)
		return loader_fail(ld, e->value->pos, err,
				   "vm.kernel_warnings: expected \"fail\" or \"ignore\"");
	t->vm.kernel_warnings = (enum vm_kernel_warnings)kw;
	return 0;
}

/*
 * An array of PCRE2 patterns (as the targets' filter), each compiled once
 * with flags to check it: a bad one is said where it is.
 */
static int vm_apply_patterns(struct loader *ld, const struct toml_entry *e, const char *key,
			     uint32_t flags, char ***ret, size_t *ret_n, struct error *err)
{
	const struct toml_array *a = &e->value->u.array;

	*ret = calloc(a->len + 1, sizeof(**ret));
	if (!*ret)
		return error_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < a->len; i++) {
		const struct toml_value *item = a->items[i];
		PCRE2_UCHAR message[160];
		PCRE2_SIZE offset;
		pcre2_code *code;
		int errcode;

		if (item->type != TOML_STRING)
			return loader_fail(ld, item->pos, err, "%s: expected strings, got %s %s", key,
					   config_type_article(item->type), toml_type_name(item->type));
		if (strlen(item->u.string.ptr) != item->u.string.len)
			return loader_fail(ld, item->pos, err, "%s: must not contain NUL characters",
					   key);
		code = pcre2_compile((PCRE2_SPTR)item->u.string.ptr, PCRE2_ZERO_TERMINATED, flags,
				     &errcode, &offset, NULL);
		if (!code) {
			pcre2_get_error_message(errcode, message, sizeof(message));
			return loader_fail(ld, item->pos, err,
					   "%s: '%s' is not a regular expression: %s at offset %zu",
					   key, item->u.string.ptr, (char *)message, (size_t)offset);
		}
		pcre2_code_free(code);
		(*ret)[i] = strdup(item->u.string.ptr);
		if (!(*ret)[i])
			return error_set(err, ENOMEM, "out of memory");
		*ret_n = i + 1;
	}
	return 0;
}

/* Patterns of known splats, matched against a splat's whole text. */
static int vm_apply_allowed_warnings(struct loader *ld, struct target *t,
				     const struct toml_entry *e, struct error *err)
{
	return vm_apply_patterns(ld, e, "vm.allowed_warnings", PCRE2_MULTILINE,
				 &t->vm.allowed_warnings, &t->vm.n_allowed_warnings, err);
}

/* Patterns of the test paths expected to fail (results/results.h). */
static int vm_apply_expected_failures(struct loader *ld, struct target *t,
				      const struct toml_entry *e, struct error *err)
{
	return vm_apply_patterns(ld, e, "vm.expected_failures", PCRE2_UTF,
				 &t->vm.expected_failures, &t->vm.n_expected_failures, err);
}

static int vm_apply_results(struct loader *ld, struct target *t, const struct toml_entry *e,
			    struct error *err)
{
	int results = vm_results_parse(e->value->u.string.ptr);

	if (results < 0 || strlen(e->value->u.string.ptr) != e->value->u.string.len)
		return loader_fail(ld, e->value->pos, err, "vm.results: expected %s",
				   vm_results_names_text);
	t->vm.results = (enum vm_results)results;
	return 0;
}

static int vm_apply_results_file(struct loader *ld, struct target *t, const struct toml_entry *e,
				 struct error *err)
{
	return loader_path(ld, e, &t->vm.results_file, &t->vm.results_file_origin, err);
}

static int vm_apply_gdb(struct loader *ld, struct target *t, const struct toml_entry *e,
			struct error *err)
{
	int64_t port = e->value->u.integer;

	if (port < 1 || port > 65535)
		return loader_fail(ld, e->value->pos, err,
				   "vm.gdb: %lld is not a port (1 to 65535)", (long long)port);
	t->vm.gdb_port = (unsigned)port;
	return 0;
}

const struct key_spec config_vm_keys[] = {
	{ "gdb", TOML_INTEGER, vm_apply_gdb },
	{ "kernel_warnings", TOML_STRING, vm_apply_kernel_warnings },
	{ "allowed_warnings", TOML_ARRAY, vm_apply_allowed_warnings },
	{ "results", TOML_STRING, vm_apply_results },
	{ "results_file", TOML_STRING, vm_apply_results_file },
	{ "expected_failures", TOML_ARRAY, vm_apply_expected_failures },
	{ "persist", TOML_BOOL, vm_apply_persist },
	{ "network", TOML_STRING, vm_apply_network },
	{ "forward", TOML_ARRAY, vm_apply_forward },
	{ "filesystem", TOML_STRING, vm_apply_filesystem },
	{ "usr_image", TOML_BOOL, vm_apply_usr_image },
	{ "snapshot", TOML_BOOL, vm_apply_snapshot },
	{ "num_cpus", TOML_INTEGER, vm_apply_num_cpus },
	{ "memory", TOML_STRING, vm_apply_memory },
	{ "bios", TOML_STRING, vm_apply_bios },
	{ "extra_args", TOML_ARRAY, vm_apply_extra_args },
	{ "mounts", TOML_TABLE, vm_apply_mounts },
};

const size_t config_n_vm_keys = ARRAY_SIZE(config_vm_keys);
