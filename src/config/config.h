/* SPDX-License-Identifier: MIT */
/*
 * config: the vmtest.toml model.
 *
 * A config is a list of targets, each fully resolved: defaults filled in,
 * relative paths made absolute against the directory holding vmtest.toml
 * (the current directory for one-liners), every rule of vmtest 0.18 checked.
 * Each field remembers where it came from, so a later check (a kernel that
 * does not exist) can still point at file:line:column.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base/error.h"
#include "config/toml.h"

#define CONFIG_DEFAULT_FILE "vmtest.toml"
#define CONFIG_DEFAULT_NUM_CPUS 2
#define CONFIG_DEFAULT_MEMORY "4G"
#define CONFIG_DEFAULT_ROOTFS "/"

/* Where a value came from: a position in the file, or a command-line option. */
struct origin {
	struct toml_pos pos;	/* line 0: not from the file */
	const char *option;	/* "-k", ... for one-liners; NULL for the file */
};

struct mount {
	char *guest_path;	/* absolute path inside the VM */
	char *host_path;	/* absolute path on the host */
	bool writable;
	struct origin origin;
};

/* How a kernel target's root and shares reach the guest (vm.filesystem). */
enum vm_filesystem {
	VM_FILESYSTEM_AUTO,	/* "auto": 9p, for now (docs/virtiofs.md) */
	VM_FILESYSTEM_VIRTIOFS,	/* "virtiofs" */
	VM_FILESYSTEM_9P,	/* "9p" */
};

/* The name in the config ("auto", "virtiofs", "9p"), and back (-1: none). */
const char *vm_filesystem_name(enum vm_filesystem fs);
int vm_filesystem_parse(const char *name);

/* The guest's network (vm.network): none but loopback, or QEMU's user-mode NAT. */
enum vm_network {
	VM_NETWORK_NONE,	/* "none" */
	VM_NETWORK_USER,	/* "user" */
};

const char *vm_network_name(enum vm_network network);
int vm_network_parse(const char *name);

/* A host port forwarded to the guest (vm.forward, --forward). */
struct vm_forward {
	bool udp;
	char host_addr[16];	/* dotted IPv4; "127.0.0.1" unless given */
	unsigned host_port;
	unsigned guest_port;
};

/*
 * "[tcp:|udp:][ADDRESS:]HOSTPORT:GUESTPORT": 0, or -1 with the problem
 * in one phrase.
 */
int vm_forward_parse(const char *spec, struct vm_forward *ret, char *problem, size_t problem_len);

/* Whether two forwards would bind the same host socket. */
bool vm_forward_clash(const struct vm_forward *a, const struct vm_forward *b);

/* QEMU's hostfwd= form: "tcp:127.0.0.1:8080-:80". */
void vm_forward_format(const struct vm_forward *f, char *buf, size_t len);

/* What a warning of a kernel target's kernel does to it (vm.kernel_warnings). */
enum vm_kernel_warnings {
	VM_KERNEL_WARNINGS_FAIL,	/* "fail": the target fails */
	VM_KERNEL_WARNINGS_IGNORE,	/* "ignore" */
};

const char *vm_kernel_warnings_name(enum vm_kernel_warnings kw);
int vm_kernel_warnings_parse(const char *name);

/* How a target's command reports its tests (vm.results, docs/tests.md). */
enum vm_results {
	VM_RESULTS_NONE,	/* "none": the command's exit status alone */
	VM_RESULTS_TAP,		/* "tap": TAP 13/14, KTAP, kselftest's nesting */
	VM_RESULTS_KTAP,	/* "ktap": the same parser, named for KTAP users */
	VM_RESULTS_GOTEST_JSON,	/* "gotest-json": `go test -json` (test2json) */
	VM_RESULTS_KUNIT,	/* "kunit": the KTAP in the guest kernel's log */
};

/* The name in the config ("none", "tap", ...), and back (-1: none). */
const char *vm_results_name(enum vm_results results);
int vm_results_parse(const char *name);
/* "none, tap, ktap, gotest-json or kunit", for messages. */
extern const char vm_results_names_text[];

struct vm_config {
	unsigned num_cpus;
	char *memory;		/* as written, for QEMU's -m */
	uint64_t memory_bytes;
	char *bios;		/* NULL: the default firmware */
	struct origin bios_origin;
	char **extra_args;	/* NULL-terminated */
	size_t n_extra_args;
	struct mount *mounts;	/* in file order */
	size_t n_mounts;
	bool persist;		/* image targets: write to the image itself */
	struct origin persist_origin;
	bool no_snapshot;	/* vm.snapshot = false: kernel targets always boot cold */
	enum vm_filesystem filesystem;
	/* vm.usr_image = false: /usr over 9p like the rest of the root, not from
	 * vmtest's image of it (targets/usr_image.h) */
	bool no_usr_image;
	enum vm_network network;	/* a forward makes it user */
	struct vm_forward *forwards;
	size_t n_forwards;
	struct origin network_origin;	/* where "none" was said, for a forward's message */
	enum vm_kernel_warnings kernel_warnings;
	unsigned gdb_port;		/* vm.gdb: QEMU's gdb stub on 127.0.0.1; 0: none */
	char **allowed_warnings;	/* PCRE2 patterns, checked; NULL-terminated or NULL */
	size_t n_allowed_warnings;
	enum vm_results results;	/* how the command reports its tests */
	char *results_file;		/* absolute: read the results there, not from the output */
	struct origin results_file_origin;
	char **expected_failures;	/* PCRE2 patterns of test paths; NULL-terminated or NULL */
	size_t n_expected_failures;
};

enum target_kind {
	TARGET_KERNEL,
	TARGET_IMAGE,
};

struct target {
	char *name;
	enum target_kind kind;
	char *kernel;		/* absolute; kernel targets */
	struct origin kernel_origin;
	char *kernel_args;	/* NULL when none */
	char *rootfs;		/* absolute; kernel targets; default "/" */
	struct origin rootfs_origin;
	char *image;		/* absolute; image targets */
	struct origin image_origin;
	bool uefi;
	char *arch;		/* "x86_64", "aarch64", ... */
	char *qemu_command;	/* default qemu-system-<arch> */
	char *kvm_cpu_args;	/* NULL when none */
	char *command;		/* a shell command line; NULL if interactive */
	bool interactive;	/* the one-liner command "-" */
	unsigned timeout_s;	/* the command's time limit; 0: none */
	struct vm_config vm;
	struct origin origin;	/* the [[target]] header */
	size_t position;	/* its place among the file's targets, before -f and --shard */
};

struct config {
	char *path;		/* as the user named it, for messages; NULL for one-liners */
	char *base_dir;		/* absolute; relative paths resolve against it */
	struct target *targets;
	size_t n_targets;
};

/* What a one-liner says; NULL fields take their defaults. */
struct oneliner {
	const char *kernel;	/* required unless image */
	const char *image;	/* an image target instead */
	bool uefi;
	const char *kernel_args;
	const char *rootfs;
	const char *arch;
	const char *qemu_command;
	const char *kvm_cpu_args;
	const char *command;	/* a shell command line */
	bool interactive;
};

/* Read and check the file at path (as the user named it). */
int config_load_file(const char *path, struct config **ret_config, struct error *err);

/* The same from text already in memory; path is used for messages only. */
int config_load_string(const char *text, size_t len, const char *path, const char *base_dir,
		       struct config **ret_config, struct error *err);

/* A config of one target from the command line, relative to base_dir. */
int config_new_oneliner(const struct oneliner *spec, const char *base_dir,
			struct config **ret_config, struct error *err);

struct config *config_free(struct config *config);

/*
 * Keep the k-th (1-based) of n slices of the targets: those at the
 * positions i with i % n == k - 1.  Deterministic, disjoint, covering, and
 * balanced (sizes differ by at most one), in the targets' order.
 */
void config_keep_shard(struct config *config, unsigned k, unsigned n);

/* The same slices, each target's (1 to n) in ret_slices. */
void config_shard_by_position(const struct config *config, unsigned n, unsigned *ret_slices);

/*
 * Slices by time: the targets, longest first (by seconds[i], what an
 * earlier run took; < 0 when unknown, which counts as the median of those
 * known), each to the slice with the least time so far (the lowest on a
 * tie).  ret_slices[i] gets target i's slice, 1 to n; ret_loads, if not
 * NULL, each slice's time (n of them).  -ENOMEM or 0.
 */
int config_shard_by_time(const struct config *config, unsigned n, const double *seconds,
			 unsigned *ret_slices, double *ret_loads);

/* Keep the targets whose slice is k, in their order. */
void config_keep_slice(struct config *config, unsigned k, const unsigned *slices);

/* Free what a target owns and zero it (filter_targets drops targets). */
void config_target_clear(struct target *target);


/*
 * The first mount that shares the host's / read-write (its host path, or a
 * symlink, resolving to /), or NULL.  Allowed, since a user may mean it,
 * but worth a warning: the guest can then change every file vmtest can.
 */
const struct mount *config_writable_root_mount(const struct target *target);

/*
 * Whether path (resolved) lies in a directory the target's guest may write:
 * the project directory, shared at /mnt/vmtest, or a writable mount.
 */
bool config_in_writable_share(const struct config *config, const struct target *target,
			      const char *path);

/* The resolved target as TOML that vmtest would read back unchanged. */
void config_print_target(FILE *out, const struct config *config, const struct target *target);

