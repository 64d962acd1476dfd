/* SPDX-License-Identifier: MIT */
/*
 * qemu_argv: the QEMU command line of a target, kernel or image, as a pure
 * function of the target and of the plan for this run (where its sockets
 * are, what boots, which accelerator: struct qemu_plan, which the target's
 * kind fills, targets/).  Unit-tested per option kind; --dry-run prints it.
 *
 * Escaping: options that QEMU parses as key=value lists (-fsdev, -chardev,
 * -device, -object) get every comma in a value doubled, so a path such as
 * "a,readonly=off" stays one value and cannot add options.  -kernel,
 * -initrd and -append take their text verbatim.
 */
#pragma once

#include <stdbool.h>

#include "base/error.h"
#include "base/strv.h"
#include "base/arch.h"
#include "config/config.h"

enum qemu_accel {
	QEMU_ACCEL_TCG,
	QEMU_ACCEL_KVM,
};

/* The socket names inside the run directory. */
#define QEMU_SOCKET_QMP "qmp.sock"
#define QEMU_SOCKET_AGENT "agent.sock"
#define QEMU_SOCKET_OUTPUT "output.sock"
#define QEMU_SOCKET_CONSOLE "console.sock"
#define QEMU_SOCKET_ERROR "error.sock"	/* image targets' stderr */
/* Kernel targets: the guest's kernel log records, as QEMU wrote them. */
#define QEMU_FILE_KMSG "kmsg.log"
/* A virtiofs daemon's, by export: vfs-root.sock, vfs-shared.sock, vfs-m0.sock... */
#define QEMU_SOCKET_VIRTIOFS "vfs-%s.sock"
/* An export's chardev, and the PCIe root port its device is plugged into. */
#define QEMU_VIRTIOFS_CHARDEV "vfs-%s"
#define QEMU_VIRTIOFS_PORT "vfs-port-%s"
#define QEMU_VIRTIOFS_DEVICE "vhost-user-fs-pci"
/* Kernel targets: the NBD socket of /usr's image (targets/usr_image.h), and
 * QEMU's block node for it. */
#define QEMU_SOCKET_USR_IMAGE "usr.sock"
#define QEMU_USR_IMAGE_NODE "vmtest-usr"

/* 9p's message size; Linux 6.1 caps virtio's at 512000. */
#define QEMU_9P_MSIZE 512000

struct qemu_plan {
	const struct arch *arch;	/* NULL: the target's */
	const char *run_dir;		/* private directory for the sockets */
	const char *shared_dir;		/* the host directory seen at /mnt/vmtest */
	enum qemu_accel accel;
	/* Kernel targets */
	const char *boot_kernel;	/* the bzImage, or the PVH ELF taken from it */
	const char *initrd;
	/* Image targets */
	const char *disk_format;	/* "qcow2", "raw", ... */
	const char *firmware_code;	/* UEFI: pflash unit 0, read-only */
	const char *firmware_vars;	/* UEFI: this run's copy, pflash unit 1 */
	const char *firmware_bios;	/* -bios: combined OVMF or vm.bios */
	/* Warm starts (targets/warm_start.h) */
	const char *ram_path;		/* guest RAM in this file, shared; NULL: QEMU's own */
	bool incoming;			/* -incoming defer: a snapshot is loaded over QMP */
	bool for_key;			/* host paths of vm.mounts as placeholders */
	/* Kernel targets: a guest whose memory is dumped at its panic (panic=0,
	 * -device vmcoreinfo, a second QMP monitor). */
	bool dump;
	/* QEMU's gdb stub on 127.0.0.1:gdb_port (0: none), the CPUs held
	 * until the debugger lets them go (gdb_wait); kernels get nokaslr. */
	unsigned gdb_port;
	bool gdb_wait;
	/* A virtio NIC on QEMU's user-mode network, with these forwards. */
	bool network;
	const struct vm_forward *forwards;
	size_t n_forwards;
	const char *disk_layer;		/* an image's qcow2 layer of this run, written instead of snapshot=on */
	/* Kernel targets: the root and the shares over virtiofs too, each
	 * from its daemon's socket in the run directory (QEMU_SOCKET_VIRTIOFS),
	 * its device in a PCIe root port of its own (QEMU_VIRTIOFS_PORT);
	 * guest RAM is then shared memory, as vhost-user needs.  They come
	 * last, after vm.extra_args. */
	bool virtiofs;
	bool no_9p;			/* virtiofs only: no 9p devices beside it */
	/* Kernel targets: /usr's image, a virtio-blk disk served over NBD
	 * (targets/usr_image.h), after vm.extra_args, so that a disk the user
	 * adds there is still the guest's first (/dev/vda). */
	bool usr_image;
	/* A boot whose snapshot is saved or restored: the devices that block
	 * a migration (vhost-user-fs, in QEMU 7.2) and their chardevs are left
	 * out, their root ports kept; they are plugged in over QMP once the
	 * guest answers.  for_key leaves them out too. */
	bool migratable;
};

/* Whether the plan leaves out devices that the guest needs (migratable). */
bool qemu_plan_leaves_out(const struct qemu_plan *plan);

/*
 * The whole argv, starting with the target's qemu_command.  An image is
 * opened with snapshot=on unless vm.persist: QEMU's own throw-away overlay,
 * already unlinked, so the image is never written and nothing is left.  A
 * warm start gives a layer of its own instead (disk_layer), which the run
 * directory holds and a snapshot keeps.
 */
int qemu_argv_build(const struct target *target, const struct qemu_plan *plan,
		    struct strv *ret_argv, struct error *err);

/* The id of the memory backend that holds guest RAM when ram_path is set. */
#define QEMU_RAM_ID "vmtest.ram"

/* The kernel command line vmtest uses after console=DEVICE, before the
 * target's kernel_args: at a panic the kernel resets the machine (panic=-1),
 * which QEMU, with -no-reboot, turns into its exit. */
#define QEMU_KERNEL_CMDLINE "panic=-1 rdinit=/init quiet"

/* A guest to be dumped at its panic pauses instead, QEMU with it, until the
 * dump is written (qemu_plan.dump): at its pvpanic notice, or at the reset
 * of a kernel without pvpanic (which -no-reboot makes a shutdown). */
#define QEMU_ACTION_HOLD "panic=pause,shutdown=pause"

/* A second QMP monitor, read by a thread of its own (vm/qmp_watch.h): how
 * the guest ends, as it happens, and the dump at a panic. */
#define QEMU_SOCKET_QMP_WATCH "qmp-watch.sock"

/* value with every comma doubled (QEMU's key=value escaping); malloc'd. */
char *qemu_escape_value(const char *value);
