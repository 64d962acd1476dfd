// SPDX-License-Identifier: MIT
#include "boot/qemu_argv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "guest_proto.h"

char *qemu_escape_value(const char *value)
{
	size_t commas = 0;
	char *out, *o;

	for (const char *p = value; *p; p++)
		commas += *p == ',';
	out = malloc(strlen(value) + commas + 1);
	if (!out)
		return NULL;
	o = out;
	for (const char *p = value; *p; p++) {
		*o++ = *p;
		if (*p == ',')
			*o++ = ',';
	}
	*o = '\0';
	return out;
}

/* "-chardev socket,id=ID,path=RUN/NAME[,server=on,wait=off]" */
static void qemu_add_socket(struct strv *argv, const struct qemu_plan *plan, const char *id,
			    const char *name, bool server)
{
	_cleanup_free_ char *dir = qemu_escape_value(plan->run_dir);

	if (!dir) {
		argv->oom = 1;
		return;
	}
	strv_add(argv, "-chardev");
	strv_addf(argv, "socket,id=%s,path=%s/%s%s", id, dir, name,
		  server ? ",server=on,wait=off" : "");
}

/*
 * Guest RAM in a file vmtest gave (a memfd, as /proc/self/fd/N), mapped
 * shared: a snapshot's migration stream then leaves RAM out
 * (x-ignore-shared), and vmtest copies it from the file itself.
 */
static void qemu_add_ram(struct strv *argv, const struct target *t, const struct qemu_plan *plan)
{
	_cleanup_free_ char *path = NULL;

	/* vhost-user (virtiofs) maps guest RAM in the daemon: it must be shared. */
	if (!plan->ram_path && plan->virtiofs) {
		strv_add(argv, "-object");
		strv_addf(argv, "memory-backend-memfd,id=" QEMU_RAM_ID ",size=%llu,share=on",
			  (unsigned long long)t->vm.memory_bytes);
		return;
	}
	if (!plan->ram_path)
		return;
	path = qemu_escape_value(plan->ram_path);
	if (!path) {
		argv->oom = 1;
		return;
	}
	strv_add(argv, "-object");
	strv_addf(argv, "memory-backend-file,id=" QEMU_RAM_ID ",size=%llu,mem-path=%s,share=on",
		  (unsigned long long)t->vm.memory_bytes, path);
	if (plan->incoming) {
		strv_add(argv, "-incoming");
		strv_add(argv, "defer");
	}
}

static void qemu_add_machine(struct strv *argv, const struct target *t,
			     const struct qemu_plan *plan)
{
	strv_add(argv, t->qemu_command);
	strv_add(argv, "-nodefaults");
	strv_add(argv, "-no-user-config");
	strv_add(argv, "-display");
	strv_add(argv, "none");
	strv_add(argv, "-no-reboot");
	strv_add(argv, "-machine");
	if (plan->ram_path || plan->virtiofs)
		strv_addf(argv, "%s,memory-backend=" QEMU_RAM_ID, plan->arch->machine);
	else
		strv_add(argv, plan->arch->machine);
	strv_add(argv, "-accel");
	if (plan->accel == QEMU_ACCEL_KVM) {
		strv_add(argv, "kvm");
		strv_add(argv, "-cpu");
		strv_add(argv, t->kvm_cpu_args ? t->kvm_cpu_args : "host");
	} else {
		strv_add(argv, "tcg");
		strv_add(argv, "-cpu");
		strv_add(argv, plan->arch->tcg_cpu);
	}
	strv_add(argv, "-smp");
	strv_addf(argv, "%u", t->vm.num_cpus);
	strv_add(argv, "-m");
	strv_add(argv, t->vm.memory);
	qemu_add_ram(argv, t, plan);
}

static void qemu_add_boot(struct strv *argv, const struct target *t, const struct qemu_plan *plan)
{
	strv_add(argv, "-kernel");
	strv_add(argv, plan->boot_kernel);
	strv_add(argv, "-initrd");
	strv_add(argv, plan->initrd);
	strv_add(argv, "-append");
	/* A debugger's breakpoints need the kernel where its symbols say. */
	strv_addf(argv, "console=%s %s%s%s%s", plan->arch->console, QEMU_KERNEL_CMDLINE,
		  plan->gdb_port ? " nokaslr" : "", t->kernel_args && *t->kernel_args ? " " : "",
		  t->kernel_args && *t->kernel_args ? t->kernel_args : "");
}

/* QEMU's gdb stub, on the loopback only (-s would listen on every address). */
static void qemu_add_gdb(struct strv *argv, const struct qemu_plan *plan)
{
	if (!plan->gdb_port)
		return;
	strv_add(argv, "-gdb");
	strv_addf(argv, "tcp:127.0.0.1:%u", plan->gdb_port);
	if (plan->gdb_wait)
		strv_add(argv, "-S");
}

/* The console goes to a socket vmtest listens on: QEMU connects before the
 * guest runs, so not a line of it is lost. */
static void qemu_add_control(struct strv *argv, const struct target *t,
			     const struct qemu_plan *plan)
{
	qemu_add_socket(argv, plan, "console", QEMU_SOCKET_CONSOLE, false);
	strv_add(argv, "-serial");
	strv_add(argv, "chardev:console");
	qemu_add_socket(argv, plan, "qmp", QEMU_SOCKET_QMP, true);
	strv_add(argv, "-mon");
	strv_add(argv, "chardev=qmp,mode=control");
	qemu_add_socket(argv, plan, "qmpwatch", QEMU_SOCKET_QMP_WATCH, true);
	strv_add(argv, "-mon");
	strv_add(argv, "chardev=qmpwatch,mode=control");
	if (plan->dump) {
		strv_add(argv, "-action");
		strv_add(argv, QEMU_ACTION_HOLD);
		/* The guest's VMCOREINFO (with its qemu_fw_cfg driver) into the dump. */
		strv_add(argv, "-device");
		strv_add(argv, "vmcoreinfo");
	}
	strv_add(argv, "-device");
	strv_addf(argv, "virtio-serial-%s,id=vser", plan->arch->virtio);
	qemu_add_socket(argv, plan, "agent", QEMU_SOCKET_AGENT, true);
	strv_add(argv, "-device");
	strv_add(argv, "virtserialport,bus=vser.0,chardev=agent,name=" GUEST_PORT_AGENT);
	qemu_add_socket(argv, plan, "output", QEMU_SOCKET_OUTPUT, true);
	strv_add(argv, "-device");
	strv_add(argv, "virtserialport,bus=vser.0,chardev=output,name=" GUEST_PORT_OUTPUT);
	if (t->kind == TARGET_KERNEL) {
		/* The kernel's log records, which QEMU writes as they come. */
		_cleanup_free_ char *dir = qemu_escape_value(plan->run_dir);

		if (!dir) {
			argv->oom = 1;
			return;
		}
		strv_add(argv, "-chardev");
		strv_addf(argv, "file,id=kmsg,path=%s/" QEMU_FILE_KMSG, dir);
		strv_add(argv, "-device");
		strv_add(argv, "virtserialport,bus=vser.0,chardev=kmsg,name=" GUEST_PORT_KMSG);
	}
	if (t->kind == TARGET_IMAGE) {
		qemu_add_socket(argv, plan, "error", QEMU_SOCKET_ERROR, true);
		strv_add(argv, "-device");
		strv_add(argv, "virtserialport,bus=vser.0,chardev=error,name=" GUEST_PORT_ERROR);
	}
	strv_add(argv, "-object");
	strv_add(argv, "rng-random,id=rng,filename=/dev/urandom");
	strv_add(argv, "-device");
	strv_addf(argv, "virtio-rng-%s,rng=rng", plan->arch->virtio);
}

/* One 9p export; multidevs=remap keeps inode numbers unique across the
 * host filesystems under one export. */
static void qemu_add_9p(struct strv *argv, const struct qemu_plan *plan, const char *id,
			const char *tag, const char *path, bool writable)
{
	_cleanup_free_ char *escaped = qemu_escape_value(path);

	if (!escaped) {
		argv->oom = 1;
		return;
	}
	strv_add(argv, "-fsdev");
	strv_addf(argv, "local,id=%s,path=%s,security_model=none,multidevs=remap%s", id, escaped,
		  writable ? "" : ",readonly=on");
	strv_add(argv, "-device");
	strv_addf(argv, "virtio-9p-%s,fsdev=%s,mount_tag=%s", plan->arch->virtio, id, tag);
}

/*
 * One virtiofs export: its daemon (vm/virtiofsd.h) listens on the socket.
 * Over PCI, a root port of its own, which a snapshot keeps, for the device
 * to be plugged into after a restore.
 */
static void qemu_add_virtiofs(struct strv *argv, const struct qemu_plan *plan, const char *id,
			      const char *tag, unsigned n)
{
	bool pci = strcmp(plan->arch->virtio, "pci") == 0;
	char chardev[48], socket[48], port[48];

	snprintf(chardev, sizeof(chardev), QEMU_VIRTIOFS_CHARDEV, id);
	snprintf(socket, sizeof(socket), QEMU_SOCKET_VIRTIOFS, id);
	snprintf(port, sizeof(port), QEMU_VIRTIOFS_PORT, id);
	if (pci) {
		/* Chassis numbers of their own, past those a user's ports take. */
		strv_add(argv, "-device");
		strv_addf(argv, "pcie-root-port,id=%s,chassis=%u", port, 100 + n);
	}
	if (qemu_plan_leaves_out(plan))
		return;
	qemu_add_socket(argv, plan, chardev, socket, false);
	strv_add(argv, "-device");
	if (pci)
		strv_addf(argv, QEMU_VIRTIOFS_DEVICE ",chardev=%s,tag=%s,bus=%s", chardev, tag, port);
	else
		strv_addf(argv, "vhost-user-fs-%s,chardev=%s,tag=%s", plan->arch->virtio, chardev,
			  tag);
}

bool qemu_plan_leaves_out(const struct qemu_plan *plan)
{
	return plan->virtiofs && (plan->migratable || plan->for_key);
}

/*
 * The root (kernel targets), the shared directory and vm.mounts, over 9p,
 * or over virtiofs (virtiofs true), or both.
 */
static void qemu_add_shares(struct strv *argv, const struct target *t,
			    const struct qemu_plan *plan, bool virtiofs)
{
	if (!virtiofs && plan->no_9p)
		return;
	for (size_t i = 0; i < 2 + t->vm.n_mounts; i++) {
		const char *id = "root", *tag = GUEST_TAG_ROOT, *path = t->rootfs;
		bool writable = false;
		char mount_id[32], mount_tag[32];

		if (i == 0 && t->kind != TARGET_KERNEL)
			continue;
		if (i == 1) {
			if (!plan->shared_dir)
				continue;
			id = "shared", tag = GUEST_TAG_SHARED, path = plan->shared_dir;
			writable = true;
		} else if (i > 1) {
			snprintf(mount_id, sizeof(mount_id), "m%zu", i - 2);
			snprintf(mount_tag, sizeof(mount_tag), GUEST_TAG_MOUNT_PREFIX "%zu", i - 2);
			id = mount_id, tag = mount_tag;
			path = plan->for_key ? "@mount" : t->vm.mounts[i - 2].host_path;
			writable = t->vm.mounts[i - 2].writable;
		}
		if (virtiofs)
			qemu_add_virtiofs(argv, plan, id, tag, (unsigned)i);
		else
			qemu_add_9p(argv, plan, id, tag, path, writable);
	}
}

/* The image as the boot disk, and the firmware that boots it. */
static void qemu_add_disk(struct strv *argv, const struct target *t, const struct qemu_plan *plan)
{
	_cleanup_free_ char *image = qemu_escape_value(plan->disk_layer ? plan->disk_layer : t->image);
	_cleanup_free_ char *code = plan->firmware_code ? qemu_escape_value(plan->firmware_code) : NULL;
	_cleanup_free_ char *vars = plan->firmware_vars ? qemu_escape_value(plan->firmware_vars) : NULL;

	if (!image || (plan->firmware_code && !code) || (plan->firmware_vars && !vars)) {
		argv->oom = 1;
		return;
	}
	strv_add(argv, "-drive");
	if (plan->disk_layer)
		strv_addf(argv, "file=%s,format=qcow2,if=none,id=disk0", image);
	else
		strv_addf(argv, "file=%s,format=%s,if=none,id=disk0%s", image, plan->disk_format,
			  t->vm.persist ? "" : ",snapshot=on");
	strv_add(argv, "-device");
	strv_addf(argv, "virtio-blk-%s,drive=disk0,bootindex=1", plan->arch->virtio);
	if (code && vars) {
		strv_add(argv, "-drive");
		strv_addf(argv, "if=pflash,format=raw,unit=0,readonly=on,file=%s", code);
		strv_add(argv, "-drive");
		strv_addf(argv, "if=pflash,format=raw,unit=1,file=%s", vars);
	} else if (plan->firmware_bios) {
		strv_add(argv, "-bios");
		strv_add(argv, plan->firmware_bios);
	}
	/* A new generation ID in each QEMU: a kernel restored from a
	 * snapshot reseeds its random-number generator on it (Linux 5.18+).
	 * Kernel targets' init reseeds itself, on every architecture. */
	if (strcmp(plan->arch->name, "x86_64") == 0) {
		strv_add(argv, "-device");
		strv_add(argv, "vmgenid");
	}
}

/*
 * QEMU's user-mode network (slirp): the guest at 10.0.2.15, the host at
 * 10.0.2.2, DNS at 10.0.2.3; host ports forwarded as asked.
 */
static void qemu_add_network(struct strv *argv, const struct qemu_plan *plan)
{
	_cleanup_free_ char *netdev = strdup("user,id=net0");

	if (!plan->network)
		return;
	for (size_t i = 0; netdev && i < plan->n_forwards; i++) {
		char rule[64];
		char *longer;

		vm_forward_format(&plan->forwards[i], rule, sizeof(rule));
		if (asprintf(&longer, "%s,hostfwd=%s", netdev, rule) < 0)
			longer = NULL;
		free(netdev);
		netdev = longer;
	}
	if (!netdev) {
		argv->oom = 1;
		return;
	}
	strv_add(argv, "-netdev");
	strv_add(argv, netdev);
	strv_add(argv, "-device");
	strv_addf(argv, "virtio-net-%s,netdev=net0", plan->arch->virtio);
}

/*
 * Kernel targets: /usr from vmtest's image of it, a read-only virtio-blk
 * disk whose blocks vmtest serves over NBD on a socket in the run
 * directory (targets/usr_image.h).  The guest's init finds it by serial.
 */
static void qemu_add_usr_image(struct strv *argv, const struct qemu_plan *plan)
{
	_cleanup_free_ char *dir = qemu_escape_value(plan->run_dir);

	if (!dir) {
		argv->oom = 1;
		return;
	}
	strv_add(argv, "-blockdev");
	strv_addf(argv, "driver=nbd,node-name=" QEMU_USR_IMAGE_NODE ",server.type=unix,server.path=%s/"
		  QEMU_SOCKET_USR_IMAGE ",read-only=on", dir);
	strv_add(argv, "-device");
	strv_addf(argv, "virtio-blk-%s,drive=" QEMU_USR_IMAGE_NODE ",serial=" GUEST_USR_IMAGE_SERIAL,
		  plan->arch->virtio);
}

int qemu_argv_build(const struct target *t, const struct qemu_plan *in, struct strv *ret_argv,
		    struct error *err)
{
	struct qemu_plan p = *in, *plan = &p;
	struct strv argv = { 0 };

	if (!plan->arch)
		plan->arch = arch_find(t->arch);
	if (!plan->arch)
		return error_set(err, EINVAL, "unknown architecture '%s'", t->arch);

	qemu_add_machine(&argv, t, plan);
	if (t->kind == TARGET_KERNEL)
		qemu_add_boot(&argv, t, plan);
	else
		qemu_add_disk(&argv, t, plan);
	qemu_add_control(&argv, t, plan);
	qemu_add_network(&argv, plan);
	qemu_add_gdb(&argv, plan);
	qemu_add_shares(&argv, t, plan, false);
	for (size_t i = 0; i < t->vm.n_extra_args; i++)
		strv_add(&argv, t->vm.extra_args[i]);
	if (plan->virtiofs)
		qemu_add_shares(&argv, t, plan, true);
	/* After the user's devices: a disk of vm.extra_args stays /dev/vda. */
	if (t->kind == TARGET_KERNEL && plan->usr_image)
		qemu_add_usr_image(&argv, plan);
	/* The kernel's word of its panic (GUEST_PANICKED), never the console's
	 * text.  Last, so that no device a guest knew moves to another slot. */
	if (plan->arch->panic_device) {
		strv_add(&argv, "-device");
		strv_add(&argv, plan->arch->panic_device);
	}
	if (argv.oom) {
		strv_clear(&argv);
		return error_set(err, ENOMEM, "out of memory");
	}
	*ret_argv = argv;
	return 0;
}
