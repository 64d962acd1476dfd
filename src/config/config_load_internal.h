/* SPDX-License-Identifier: MIT */
/*
 * config_load_internal: what config_load.c (the loader, [[target]] and the
 * rules between fields) shares with config_load_vm.c ([target.vm] and its
 * mounts): the loader's state, the tables of keys, and the helpers that
 * read a value or say where it is wrong.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"
#include "config/config.h"
#include "config/toml.h"

/* State while one file is turned into a config: what messages need. */
struct loader {
	const char *path;		/* as the user named it */
	const char *base_dir;
	struct target *target;		/* the target being read, or NULL */
	const struct toml_table *table;	/* its [[target]] table */
	size_t index;			/* 1-based, for targets without a name */
};

typedef int (*key_apply_fn)(struct loader *ld, struct target *t, const struct toml_entry *e,
			    struct error *err);

/* One valid key of a table: its name, the type it must have, what it sets. */
/* For keys that take more than one type; the handler checks. */
#define TOML_ANY (-1)

struct key_spec {
	const char *key;
	int type;		/* enum toml_type, or TOML_ANY */
	key_apply_fn apply;
};

/* The guest path where every target sees the config's directory. */
#define CONFIG_SHARED_GUEST_PATH "/mnt/vmtest"

/* "a" or "an", before a TOML type's name. */
const char *config_type_article(enum toml_type type);

/* The keys of [target.vm] (config_load_vm.c). */
extern const struct key_spec config_vm_keys[];
extern const size_t config_n_vm_keys;

/*
 * "vmtest.toml:3:10: target 'AWS kernel': <what>": the one line a user
 * needs to find and fix the problem.
 */
int loader_fail(const struct loader *ld, struct toml_pos pos, struct error *err, const char *fmt,
		...) __attribute__((format(printf, 4, 5)));

/* "key: expected a string, got an integer" */
int loader_fail_type(const struct loader *ld, const struct toml_entry *e, const char *key,
		     enum toml_type want, struct error *err);

struct origin origin_at(struct toml_pos pos);

/* A string value as a C string (TOML allows NUL inside, paths cannot). */
int loader_string(const struct loader *ld, const struct toml_entry *e, bool non_empty,
		  char **ret, struct error *err);

/* A path, relative to the config's directory; *ret_origin where it was set. */
int loader_path(const struct loader *ld, const struct toml_entry *e, char **ret,
		struct origin *ret_origin, struct error *err);

/*
 * Apply each entry of table through the matching spec: unknown keys and
 * wrong types are errors here, so handlers see only the type they expect.
 */
int loader_apply_table(struct loader *ld, struct target *t, const struct toml_table *table,
		       const char *table_name, const struct key_spec *specs, size_t n,
		       struct error *err);
