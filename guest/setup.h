/* SPDX-License-Identifier: MIT */
/*
 * setup: the guest's filesystem, on the host's request (vmtest-setup).
 *
 * The host's root (or rootfs) arrives over 9p read-only, gets a tmpfs
 * overlay so programs can write where they expect to, and becomes the root
 * with the switch_root sequence (pivot_root cannot leave an initramfs).
 * Then the API filesystems, the shared directory and vm.mounts.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct setup_mount {
	const char *tag;	/* 9p or virtiofs mount tag */
	const char *path;	/* absolute path in the guest */
	bool writable;
};

struct setup_request {
	unsigned msize;			/* 9p message size */
	bool virtiofs;			/* the tags are virtiofs's, not 9p's */
	/* Both are there: virtiofs when the kernel has it, else 9p.  setup_run
	 * sets virtiofs to what it mounted. */
	bool virtiofs_or_9p;
	/* A NIC on QEMU's user-mode network: the standard addresses, no DHCP. */
	bool network;
	const char *shared_host_path;	/* also bind-mounted here; NULL: none */
	bool has_shared;		/* GUEST_TAG_SHARED exists */
	struct setup_mount *mounts;
	size_t n_mounts;
	int64_t realtime_ns;		/* the host's clock; 0: leave the guest's */
	const unsigned char *entropy;	/* the host's randomness, credited; NULL: none */
	size_t entropy_len;
	/* The serial of the disk with vmtest's image of /usr; NULL: none.  The
	 * image goes over the root's /usr, the 9p (or virtiofs) one beneath it
	 * for what the image leaves out.  setup_run says whether it did, or
	 * why not (the root's /usr then serves). */
	const char *usr_image_serial;
	bool usr_image_used;
	char usr_image_error[256];
};

/* 0, or -1 with a one-line explanation in err. */
int setup_run(struct setup_request *req, char *err, size_t err_len);

/* mkdir -p; 0 or -errno. */
int setup_mkdir_p(const char *path, unsigned mode);
