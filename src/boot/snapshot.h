/* SPDX-License-Identifier: MIT */
/*
 * snapshot: booted guests kept in vmtest's cache, to start from instead of
 * booting (targets/warm_start.h says when).
 *
 * A snapshot is a directory CACHE/snapshots/KEY holding the guest's RAM
 * (sparse: only the pages the boot touched, zero pages left out), QEMU's
 * device state without RAM (a migration stream with x-ignore-shared, a few
 * hundred kB), the console of the boot it was taken from, and for an
 * image the disk layer its boot wrote and its UEFI variables.  KEY hashes
 * everything that shapes the guest at that point (snapshot_key): a
 * snapshot is never used for a guest it was not made by.
 *
 * Like every cache file (cache.h), each file is used only if it is still
 * the one vmtest wrote, checked before and after it is read; a guest that
 * shares the cache read-write cannot plant one.  A run never maps the
 * cache's files: it copies what it needs into memory of its own (a memfd),
 * so nothing written to the cache later reaches a running guest.
 *
 * Directories appear whole (made aside, then renamed into place), so
 * concurrent runs see a snapshot complete or not at all; when two runs
 * save the same KEY, the first to rename wins.  The total size is bounded
 * (VMTEST_SNAPSHOT_CACHE_SIZE, default 2 GiB): the least recently used go
 * first.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

#define SNAPSHOT_CACHE_SIZE_DEFAULT (2ULL << 30)

/*
 * The key of a guest: QEMU's command line as the run would give it, with
 * the run's own paths left out (key_argv), the identity (device, inode,
 * size, times) of each file in files (NULL-terminated: kernels), of the
 * QEMU binary and of its firmware and option ROMs, and under KVM the host
 * CPU and kernel.
 */
uint64_t snapshot_key(char *const *key_argv, const char *const *files, bool kvm);

struct snapshot;

/*
 * Files of a run that the guest's boot wrote, and that are part of its
 * state: an image target's disk layer (a qcow2 over the image) and its
 * UEFI variables.  NULL: the guest has none.  Saved with the snapshot;
 * each restore gets its own copies, so no run writes the cache's.
 */
struct snapshot_files {
	const char *disk;
	const char *vars;
};

/*
 * Open the snapshot KEY for reading: 1 and *ret; 0 with why (no snapshot,
 * or one vmtest cannot vouch for: boot cold and save one); 2 with why
 * when QEMU refused to save this guest before (snapshot_refuse: boot cold,
 * save nothing); < 0 on an error.
 */
int snapshot_open(const char *cache_dir, uint64_t key, const struct snapshot_files *files,
		  struct snapshot **ret, char *why, size_t why_len);

struct snapshot *snapshot_close(struct snapshot *s);

/*
 * Copy the snapshot's RAM into ram_fd (a memfd of the guest's memory
 * size), its device state into a new memfd (*ret_state_fd, at offset 0)
 * and its files to the paths in files (those snapshot_open was given);
 * then check that none of them changed meanwhile.  The boot's console in
 * *ret_boot_log (malloc'd).
 */
int snapshot_load(const struct snapshot *s, int ram_fd, const struct snapshot_files *files,
		  int *ret_state_fd, char **ret_boot_log, size_t *ret_boot_log_len,
		  struct error *err);

/*
 * Save a snapshot: RAM from ram_fd (ram_size bytes), the device state from
 * the file state_path, the run's files, and the boot's console.  When a snapshot of KEY
 * appeared meanwhile, it stays and this one is dropped (still success).
 * Then the cache is trimmed to its size, this snapshot kept.
 */
int snapshot_save(const char *cache_dir, uint64_t key, int ram_fd, uint64_t ram_size,
		  const char *state_path, const struct snapshot_files *files, const char *boot_log,
		  size_t boot_log_len, struct error *err);

/*
 * QEMU refused to save the guest KEY, for the reason why (a device that
 * blocks migration, a QEMU without it): later runs boot it cold without
 * trying again.  Removing the snapshots directory makes them try.
 */
void snapshot_refuse(const char *cache_dir, uint64_t key, const char *why);

/* Remove the snapshot KEY (it could not be restored). */
void snapshot_remove(const char *cache_dir, uint64_t key);

/* The cache's bound in bytes: VMTEST_SNAPSHOT_CACHE_SIZE, else the default. */
uint64_t snapshot_cache_size(void);

/* A memfd of size bytes, close-on-exec: a guest's RAM. */
int snapshot_memfd(const char *name, uint64_t size, struct error *err);
