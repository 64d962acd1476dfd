// SPDX-License-Identifier: MIT
#include "config/config_load.h"
#include "config/config_load_internal.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <errno.h>
#include <fcntl.h>
#include <pcre2.h>
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

/* A vmtest.toml is a few kilobytes; refuse to slurp something enormous. */
#define CONFIG_MAX_BYTES (16 * 1024 * 1024)


/* --- messages ------------------------------------------------------------ */

/*
 * "vmtest.toml:3:10: target 'AWS kernel': <what>": the one line a user
 * needs to find and fix the problem.
 */
int loader_fail(const struct loader *ld, struct toml_pos pos, struct error *err,
		       const char *fmt, ...)
{
	char what[1024], where[512] = "";
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (ld->target && ld->target->name)
		snprintf(where, sizeof(where), "target '%s': ", ld->target->name);
	else if (ld->target)
		snprintf(where, sizeof(where), "target #%zu: ", ld->index);
	return error_usage(err, "%s:%d:%d: %s%s", ld->path, pos.line, pos.column, where, what);
}

const char *config_type_article(enum toml_type type)
{
	return type == TOML_INTEGER || type == TOML_ARRAY ? "an" : "a";
}

int loader_fail_type(const struct loader *ld, const struct toml_entry *e,
			    const char *key, enum toml_type want, struct error *err)
{
	return loader_fail(ld, e->value->pos, err, "%s: expected %s %s, got %s %s", key,
			   config_type_article(want), toml_type_name(want),
			   config_type_article(e->value->type), toml_type_name(e->value->type));
}

/* An unknown key is an error, with the nearest valid key as a hint. */
static int loader_fail_unknown(const struct loader *ld, const struct toml_entry *e,
			       const char *table, const struct key_spec *specs, size_t n,
			       struct error *err)
{
	const char *names[32];
	const char *hint;

	for (size_t i = 0; i < n && i < ARRAY_SIZE(names); i++)
		names[i] = specs[i].key;
	hint = suggest_nearest(e->key, names, n < ARRAY_SIZE(names) ? n : ARRAY_SIZE(names));
	if (hint)
		return loader_fail(ld, e->key_pos, err, "unknown key '%s' in %s; did you mean '%s'?",
				   e->key, table, hint);
	return loader_fail(ld, e->key_pos, err, "unknown key '%s' in %s", e->key, table);
}

/* --- small helpers ------------------------------------------------------- */

struct origin origin_at(struct toml_pos pos)
{
	return (struct origin){ .pos = pos };
}

/* A string value as a C string; TOML allows NUL inside, paths cannot. */
int loader_string(const struct loader *ld, const struct toml_entry *e, bool non_empty,
			 char **ret, struct error *err)
{
	const struct toml_value *v = e->value;
	char *copy;

	if (strlen(v->u.string.ptr) != v->u.string.len)
		return loader_fail(ld, v->pos, err, "%s: must not contain NUL characters", e->key);
	if (non_empty && v->u.string.len == 0)
		return loader_fail(ld, v->pos, err, "%s: must not be empty", e->key);
	copy = strdup(v->u.string.ptr);
	if (!copy)
		return error_set(err, ENOMEM, "out of memory");
	free(*ret);
	*ret = copy;
	return 0;
}

int loader_path(const struct loader *ld, const struct toml_entry *e, char **ret,
		       struct origin *ret_origin, struct error *err)
{
	_cleanup_free_ char *raw = NULL;
	char *abs;
	int r;

	r = loader_string(ld, e, true, &raw, err);
	if (r < 0)
		return r;
	abs = config_resolve_path(ld->base_dir, raw);
	if (!abs)
		return error_set(err, ENOMEM, "out of memory");
	free(*ret);
	*ret = abs;
	if (ret_origin)
		*ret_origin = origin_at(e->value->pos);
	return 0;
}

/*
 * Apply each entry of table through the matching spec: unknown keys and
 * wrong types are errors here, so handlers see only the type they expect.
 */
int loader_apply_table(struct loader *ld, struct target *t,
			      const struct toml_table *table, const char *table_name,
			      const struct key_spec *specs, size_t n, struct error *err)
{
	for (size_t i = 0; i < table->len; i++) {
		const struct toml_entry *e = &table->entries[i];
		const struct key_spec *spec = NULL;
		int r;

		for (size_t j = 0; j < n && !spec; j++)
			if (strlen(e->key) == e->key_len && strcmp(e->key, specs[j].key) == 0)
				spec = &specs[j];
		if (!spec)
			return loader_fail_unknown(ld, e, table_name, specs, n, err);
		if (spec->type != TOML_ANY && (int)e->value->type != spec->type)
			return loader_fail_type(ld, e, e->key, (enum toml_type)spec->type, err);
		r = spec->apply(ld, t, e, err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* --- [[target]] ---------------------------------------------------------- */

static int target_apply_name(struct loader *ld, struct target *t, const struct toml_entry *e,
			     struct error *err)
{
	return 0; /* read first, by loader_target_name */
}

static int target_apply_image(struct loader *ld, struct target *t, const struct toml_entry *e,
			      struct error *err)
{
	return loader_path(ld, e, &t->image, &t->image_origin, err);
}

static int target_apply_uefi(struct loader *ld, struct target *t, const struct toml_entry *e,
			     struct error *err)
{
	t->uefi = e->value->u.boolean;
	return 0;
}

static int target_apply_kernel(struct loader *ld, struct target *t, const struct toml_entry *e,
			       struct error *err)
{
	return loader_path(ld, e, &t->kernel, &t->kernel_origin, err);
}

static int target_apply_kernel_args(struct loader *ld, struct target *t,
				    const struct toml_entry *e, struct error *err)
{
	return loader_string(ld, e, false, &t->kernel_args, err);
}

static int target_apply_rootfs(struct loader *ld, struct target *t, const struct toml_entry *e,
			       struct error *err)
{
	return loader_path(ld, e, &t->rootfs, &t->rootfs_origin, err);
}

static int target_apply_arch(struct loader *ld, struct target *t, const struct toml_entry *e,
			     struct error *err)
{
	char problem[256];
	int r = loader_string(ld, e, true, &t->arch, err);

	if (r < 0)
		return r;
	if (arch_check_name(t->arch, problem, sizeof(problem)) < 0)
		return loader_fail(ld, e->value->pos, err, "arch: %s", problem);
	return 0;
}

static int target_apply_qemu_command(struct loader *ld, struct target *t,
				     const struct toml_entry *e, struct error *err)
{
	return loader_string(ld, e, true, &t->qemu_command, err);
}

static int target_apply_kvm_cpu_args(struct loader *ld, struct target *t,
				     const struct toml_entry *e, struct error *err)
{
	return loader_string(ld, e, false, &t->kvm_cpu_args, err);
}

static int target_apply_command(struct loader *ld, struct target *t, const struct toml_entry *e,
				struct error *err)
{
	int r = loader_string(ld, e, false, &t->command, err);

	if (r < 0)
		return r;
	if (t->command[strspn(t->command, " \t\r\n")] == '\0')
		return loader_fail(ld, e->value->pos, err, "command: must not be empty");
	return 0;
}

/* A number of seconds, or a string such as "90s", "5m", "1h". */
static int target_apply_timeout(struct loader *ld, struct target *t, const struct toml_entry *e,
				struct error *err)
{
	const struct toml_value *v = e->value;
	char text[32];

	if (v->type == TOML_INTEGER)
		snprintf(text, sizeof(text), "%lld", (long long)v->u.integer);
	else if (v->type == TOML_STRING && v->u.string.len < sizeof(text))
		snprintf(text, sizeof(text), "%s", v->u.string.ptr);
	else
		text[0] = '\0';
	if (!duration_parse(text, &t->timeout_s))
		return loader_fail(ld, v->pos, err,
				   "timeout: expected seconds or a duration such as \"90s\", \"5m\" or \"1h\" (1 s to 7 days)");
	return 0;
}

static int target_apply_vm(struct loader *ld, struct target *t, const struct toml_entry *e,
			   struct error *err)
{
	return loader_apply_table(ld, t, e->value->u.table, "[target.vm]", config_vm_keys,
				  config_n_vm_keys, err);
}

static const struct key_spec target_keys[] = {
	{ "name", TOML_STRING, target_apply_name },
	{ "image", TOML_STRING, target_apply_image },
	{ "uefi", TOML_BOOL, target_apply_uefi },
	{ "kernel", TOML_STRING, target_apply_kernel },
	{ "kernel_args", TOML_STRING, target_apply_kernel_args },
	{ "rootfs", TOML_STRING, target_apply_rootfs },
	{ "arch", TOML_STRING, target_apply_arch },
	{ "qemu_command", TOML_STRING, target_apply_qemu_command },
	{ "kvm_cpu_args", TOML_STRING, target_apply_kvm_cpu_args },
	{ "command", TOML_STRING, target_apply_command },
	{ "timeout", TOML_ANY, target_apply_timeout },
	{ "vm", TOML_TABLE, target_apply_vm },
};

/* --- defaults and the rules between fields ------------------------------ */

static struct toml_pos loader_key_pos(const struct loader *ld, const char *key)
{
	const struct toml_entry *e = toml_table_find(ld->table, key);

	return e ? e->key_pos : ld->target->origin.pos;
}

/* The rules of vmtest 0.18 that involve more than one field. */
static int loader_check_target(struct loader *ld, struct target *t, struct error *err)
{
	if (!t->kernel && !t->image)
		return loader_fail(ld, t->origin.pos, err,
				   "needs either kernel (to boot a kernel on the host's userspace) or image (to boot a disk image)");
	if (t->kernel && t->image)
		return loader_fail(ld, loader_key_pos(ld, "image"), err,
				   "kernel and image cannot both be set: a target boots either a kernel or an image");
	t->kind = t->kernel ? TARGET_KERNEL : TARGET_IMAGE;
	if (t->kind == TARGET_KERNEL && t->uefi)
		return loader_fail(ld, loader_key_pos(ld, "uefi"), err,
				   "uefi applies only to image targets");
	if (t->vm.bios && !t->uefi)
		return loader_fail(ld, t->vm.bios_origin.pos, err,
				   "vm.bios applies only with uefi = true");
	if (t->kind == TARGET_KERNEL && t->vm.persist)
		return loader_fail(ld, t->vm.persist_origin.pos, err,
				   "vm.persist applies only to image targets");
	if (t->kind == TARGET_IMAGE && t->kernel_args)
		return loader_fail(ld, loader_key_pos(ld, "kernel_args"), err,
				   "kernel_args applies only to kernel targets");
	if (t->kind == TARGET_IMAGE && t->rootfs)
		return loader_fail(ld, t->rootfs_origin.pos, err,
				   "rootfs applies only to kernel targets");
	if (t->kind == TARGET_IMAGE && t->vm.results == VM_RESULTS_KUNIT)
		return loader_fail(ld, loader_key_pos(ld, "vm"), err,
				   "vm.results = \"kunit\" applies only to kernel targets: it reads the "
				   "KTAP in the log records vmtest's guest init forwards");
	if (t->vm.results_file && t->vm.results == VM_RESULTS_NONE)
		return loader_fail(ld, t->vm.results_file_origin.pos, err,
				   "vm.results_file needs vm.results: the format of what the command "
				   "writes there");
	if (t->vm.results_file && t->vm.results == VM_RESULTS_KUNIT)
		return loader_fail(ld, t->vm.results_file_origin.pos, err,
				   "vm.results_file: KUnit's results come from the kernel's log, not a file");
	/* KUnit's tests run as the kernel boots: no command is needed. */
	if (!t->command && t->vm.results == VM_RESULTS_KUNIT && !(t->command = strdup("true")))
		return error_set(err, ENOMEM, "out of memory");
	if (!t->command)
		return loader_fail(ld, t->origin.pos, err, "command is required");
	/* A forward needs the user-mode network: it is implied, unless refused. */
	if (t->vm.n_forwards && t->vm.network == VM_NETWORK_NONE &&
	    t->vm.network_origin.pos.line)
		return loader_fail(ld, t->vm.network_origin.pos, err,
				   "vm.network = \"none\" leaves no network for vm.forward");
	if (t->vm.n_forwards)
		t->vm.network = VM_NETWORK_USER;
	return config_fill_defaults(t, err);
}

/* The name first, so that every later message can name the target. */
static int loader_target_name(struct loader *ld, const struct config *config, struct target *t,
			      struct error *err)
{
	const struct toml_entry *e = toml_table_find(ld->table, "name");
	int r;

	if (!e)
		return loader_fail(ld, t->origin.pos, err, "name is required");
	if (e->value->type != TOML_STRING)
		return loader_fail_type(ld, e, "name", TOML_STRING, err);
	r = loader_string(ld, e, true, &t->name, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < config->n_targets; i++)
		if (strcmp(config->targets[i].name, t->name) == 0)
			return loader_fail(ld, e->value->pos, err,
					   "name is already used by the target at line %d",
					   config->targets[i].origin.pos.line);
	return 0;
}

static int loader_target(struct loader *ld, struct config *config, const struct toml_value *v,
			 struct error *err)
{
	struct target *t = &config->targets[config->n_targets];
	int r;

	*t = (struct target){ .origin = origin_at(v->pos), .position = config->n_targets };
	ld->target = t;
	ld->table = v->u.table;
	r = loader_target_name(ld, config, t, err);
	if (r >= 0)
		r = loader_apply_table(ld, t, ld->table, "[[target]]", target_keys,
				       ARRAY_SIZE(target_keys), err);
	if (r >= 0)
		r = loader_check_target(ld, t, err);
	if (r < 0) {
		config_target_clear(t);
		return r;
	}
	config->n_targets++;
	return 0;
}

static int loader_read(struct config *config, const struct toml_table *root, const char *path,
		       const char *base_dir, struct error *err)
{
	struct loader state = { .path = path, .base_dir = base_dir }, *ld = &state;
	static const struct key_spec root_keys[] = { { "target", TOML_ARRAY, NULL } };
	const struct toml_entry *e;
	const struct toml_array *a;

	for (size_t i = 0; i < root->len; i++)
		if (strcmp(root->entries[i].key, "target") != 0)
			return loader_fail_unknown(ld, &root->entries[i], "the top level", root_keys,
						   1, err);
	e = toml_table_find(root, "target");
	if (!e)
		return loader_fail(ld, (struct toml_pos){ 1, 1 }, err,
				   "no targets: describe each one in a [[target]] table");
	if (e->value->type == TOML_TABLE)
		return loader_fail(ld, e->key_pos, err,
				   "target must be an array of tables: write [[target]], not [target]");
	if (e->value->type != TOML_ARRAY)
		return loader_fail_type(ld, e, "target", TOML_ARRAY, err);
	a = &e->value->u.array;
	config->targets = calloc(a->len ? a->len : 1, sizeof(*config->targets));
	if (!config->targets)
		return error_set(err, ENOMEM, "out of memory");
	if (a->len == 0)
		return loader_fail(ld, e->value->pos, err,
				   "no targets: describe each one in a [[target]] table");
	for (size_t i = 0; i < a->len; i++) {
		int r;

		ld->index = i + 1;
		if (a->items[i]->type != TOML_TABLE)
			return loader_fail(ld, a->items[i]->pos, err,
					   "each target must be a table, got %s %s",
					   config_type_article(a->items[i]->type),
					   toml_type_name(a->items[i]->type));
		r = loader_target(ld, config, a->items[i], err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* --- public ------------------------------------------------------------- */

int config_load_string(const char *text, size_t len, const char *path, const char *base_dir,
		       struct config **ret_config, struct error *err)
{
	struct toml_error terr;
	struct toml_table *root;
	struct config *config;
	int r;

	root = toml_parse(text, len, &terr);
	if (!root)
		return error_usage(err, "%s:%d:%d: %s", path, terr.pos.line, terr.pos.column,
				   terr.msg);
	config = calloc(1, sizeof(*config));
	if (!config) {
		toml_table_free(root);
		return error_set(err, ENOMEM, "out of memory");
	}
	config->path = strdup(path);
	config->base_dir = strdup(base_dir);
	if (!config->path || !config->base_dir)
		r = error_set(err, ENOMEM, "out of memory");
	else
		r = loader_read(config, root, path, base_dir, err);
	toml_table_free(root);
	if (r < 0) {
		config_free(config);
		return r;
	}
	*ret_config = config;
	return 0;
}

static int config_read_file(const char *path, char **ret_text, size_t *ret_len,
			    struct error *err)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	_cleanup_free_ char *text = NULL;
	struct stat st;
	size_t len = 0;

	if (fd < 0 || fstat(fd, &st) < 0)
		return error_set_errno(err, errno, "%s", path);
	if (S_ISDIR(st.st_mode))
		return error_set(err, EISDIR, "%s: is a directory, not a config file", path);
	if (st.st_size > CONFIG_MAX_BYTES)
		return error_set(err, EFBIG, "%s: too large for a config file (%lld bytes)", path,
				 (long long)st.st_size);
	text = malloc(CONFIG_MAX_BYTES + 1);
	if (!text)
		return error_set(err, ENOMEM, "out of memory");
	for (;;) {
		ssize_t n = read(fd, text + len, CONFIG_MAX_BYTES + 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return error_set_errno(err, errno, "%s", path);
		if (n == 0)
			break;
		len += n;
		if (len > CONFIG_MAX_BYTES)
			return error_set(err, EFBIG, "%s: too large for a config file", path);
	}
	*ret_text = TAKE_PTR(text);
	*ret_len = len;
	return 0;
}

/* The directory holding path, absolute. */
static char *config_dir_of(const char *path)
{
	_cleanup_free_ char *cwd = getcwd(NULL, 0);
	_cleanup_free_ char *copy = strdup(path);
	char *slash;

	if (!cwd || !copy)
		return NULL;
	slash = strrchr(copy, '/');
	if (!slash)
		return TAKE_PTR(cwd);
	if (slash == copy)
		slash[1] = '\0';
	else
		*slash = '\0';
	return config_resolve_path(cwd, copy);
}

int config_load_file(const char *path, struct config **ret_config, struct error *err)
{
	_cleanup_free_ char *text = NULL, *base_dir = NULL;
	size_t len = 0;
	int r;

	r = config_read_file(path, &text, &len, err);
	if (r < 0) {
		err->status = EXIT_STATUS_USAGE;
		return r;
	}
	base_dir = config_dir_of(path);
	if (!base_dir)
		return error_set_errno(err, errno, "cannot resolve the directory of %s", path);
	return config_load_string(text, len, path, base_dir, ret_config, err);
}
