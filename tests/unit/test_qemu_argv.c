// SPDX-License-Identifier: MIT
/* The QEMU command line: a pure function of the target and the run plan. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "guest_proto.h"
#include "boot/qemu_argv.h"

static struct config *load(const char *text)
{
	struct config *config = NULL;
	struct error err = { 0 };

	if (config_load_string(text, strlen(text), "vmtest.toml", "/proj", &config, &err) < 0)
		fail_msg("%s", err.msg);
	return config;
}

static const struct qemu_plan plan = {
	.run_dir = "/tmp/vmtest-abc",
	.boot_kernel = "/cache/vmlinux-1234",
	.initrd = "/cache/initramfs-5678.cpio",
	.shared_dir = "/proj",
	.accel = QEMU_ACCEL_TCG,
};

/* A kernel target of 512 MiB with one read-write vm.mounts entry. */
static const char kernel_512m_with_mount[] =
	"[[target]]\nname = \"k\"\nkernel = \"bz\"\ncommand = \"true\"\n"
	"[target.vm]\nmemory = \"512M\"\n[target.vm.mounts]\n"
	"\"/a\" = { host_path = \"/h\", writable = true }\n";

/* The argument right after the first occurrence of opt with prefix. */
static const char *value_of(const struct strv *argv, const char *opt, const char *prefix)
{
	for (size_t i = 0; i + 1 < argv->len; i++)
		if (strcmp(argv->items[i], opt) == 0 &&
		    strncmp(argv->items[i + 1], prefix, strlen(prefix)) == 0)
			return argv->items[i + 1];
	return NULL;
}

static void test_kernel_target(void **state)
{
	struct config *c = load("[[target]]\nname = \"k\"\nkernel = \"bz\"\nkernel_args = \"nokaslr\"\n"
				"command = \"true\"\n[target.vm]\nnum_cpus = 3\nmemory = \"1G\"\n"
				"extra_args = [\"-s\", \"-d\", \"guest_errors\"]\n");
	struct error err = { 0 };
	struct strv argv = { 0 };

	assert_int_equal(qemu_argv_build(&c->targets[0], &plan, &argv, &err), 0);
	assert_string_equal(argv.items[0], c->targets[0].qemu_command);
	assert_string_equal(value_of(&argv, "-accel", ""), "tcg");
	assert_string_equal(value_of(&argv, "-cpu", ""), "max");
	assert_string_equal(value_of(&argv, "-smp", ""), "3");
	assert_string_equal(value_of(&argv, "-m", ""), "1G");
	assert_string_equal(value_of(&argv, "-kernel", ""), "/cache/vmlinux-1234");
	assert_string_equal(value_of(&argv, "-initrd", ""), "/cache/initramfs-5678.cpio");
	assert_string_equal(value_of(&argv, "-append", ""),
			    "console=ttyS0 " QEMU_KERNEL_CMDLINE " nokaslr");
	assert_string_equal(value_of(&argv, "-machine", ""), "q35,i8042=off");
	assert_string_equal(value_of(&argv, "-device", "virtio-9p-"),
			    "virtio-9p-pci,fsdev=root,mount_tag=vmtest-root");
	assert_string_equal(value_of(&argv, "-fsdev", "local,id=root,"),
			    "local,id=root,path=/,security_model=none,multidevs=remap,readonly=on");
	assert_string_equal(value_of(&argv, "-fsdev", "local,id=shared,"),
			    "local,id=shared,path=/proj,security_model=none,multidevs=remap");
	assert_string_equal(value_of(&argv, "-chardev", "socket,id=agent,"),
			    "socket,id=agent,path=/tmp/vmtest-abc/agent.sock,server=on,wait=off");
	assert_string_equal(value_of(&argv, "-chardev", "socket,id=console,"),
			    "socket,id=console,path=/tmp/vmtest-abc/console.sock");
	assert_non_null(value_of(&argv, "-nodefaults", ""));
	assert_non_null(value_of(&argv, "-no-reboot", ""));
	/* extra_args come last, verbatim, but for the panic device: a device
	 * the user adds keeps the slot it had before vmtest had pvpanic. */
	assert_string_equal(argv.items[argv.len - 5], "-s");
	assert_string_equal(argv.items[argv.len - 3], "guest_errors");
	assert_string_equal(argv.items[argv.len - 1], "pvpanic-pci");
	assert_null(argv.items[argv.len]);
	strv_clear(&argv);
	config_free(c);
}

/* The kernel developer's toolbox: a dump at a panic, gdb's stub, a NIC. */
static void test_dump_gdb_network(void **state)
{
	struct config *c = load("[[target]]\nname = \"k\"\nkernel = \"bz\"\ncommand = \"true\"\n");
	const struct vm_forward forwards[] = {
		{ .host_addr = "127.0.0.1", .host_port = 8080, .guest_port = 80 },
		{ .udp = true, .host_addr = "0.0.0.0", .host_port = 5353, .guest_port = 53 },
	};
	struct qemu_plan p = plan;
	struct error err = { 0 };
	struct strv argv = { 0 };

	/* None of it by default. */
	assert_int_equal(qemu_argv_build(&c->targets[0], &p, &argv, &err), 0);
	assert_null(value_of(&argv, "-device", "vmcoreinfo"));
	assert_null(value_of(&argv, "-action", ""));
	/* The watch's monitor is always there; pvpanic comes last. */
	assert_string_equal(value_of(&argv, "-chardev", "socket,id=qmpwatch,"),
			    "socket,id=qmpwatch,path=/tmp/vmtest-abc/" QEMU_SOCKET_QMP_WATCH
			    ",server=on,wait=off");
	assert_non_null(value_of(&argv, "-mon", "chardev=qmpwatch,mode=control"));
	assert_string_equal(argv.items[argv.len - 1], "pvpanic-pci");
	assert_string_equal(argv.items[argv.len - 2], "-device");
	assert_null(value_of(&argv, "-gdb", ""));
	assert_null(value_of(&argv, "-netdev", ""));
	strv_clear(&argv);

	p.dump = true;
	p.gdb_port = 1234;
	p.gdb_wait = true;
	p.network = true;
	p.forwards = forwards;
	p.n_forwards = 2;
	assert_int_equal(qemu_argv_build(&c->targets[0], &p, &argv, &err), 0);
	/* Held at a panic for the dump (QEMU pauses); gdb's symbols where they say. */
	assert_string_equal(value_of(&argv, "-append", ""),
			    "console=ttyS0 " QEMU_KERNEL_CMDLINE " nokaslr");
	assert_string_equal(value_of(&argv, "-action", ""), QEMU_ACTION_HOLD);
	assert_non_null(value_of(&argv, "-device", "vmcoreinfo"));
	/* Loopback only, never -s; -S holds the CPUs. */
	assert_string_equal(value_of(&argv, "-gdb", ""), "tcp:127.0.0.1:1234");
	assert_non_null(value_of(&argv, "-S", ""));
	assert_string_equal(value_of(&argv, "-netdev", ""),
			    "user,id=net0,hostfwd=tcp:127.0.0.1:8080-:80,"
			    "hostfwd=udp:0.0.0.0:5353-:53");
	assert_string_equal(value_of(&argv, "-device", "virtio-net-"),
			    "virtio-net-pci,netdev=net0");
	strv_clear(&argv);
	config_free(c);
}

/* Each architecture: its machine, CPU, console and virtio transport. */
static void test_architectures(void **state)
{
	static const struct {
		const char *arch, *machine, *cpu, *console, *serial;
	} want[] = {
		{ "aarch64", "virt,gic-version=3", "max,pauth-impdef=on", "ttyAMA0", "virtio-serial-pci" },
		{ "s390x", "s390-ccw-virtio", "max", "ttysclp0", "virtio-serial-ccw" },
		{ "riscv64", "virt", "rv64", "ttyS0", "virtio-serial-pci" },
	};

	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		char text[256], serial[64], console[64];
		struct error err = { 0 };
		struct strv argv = { 0 };
		struct config *c;

		snprintf(text, sizeof(text), "[[target]]\nname = \"k\"\nkernel = \"Image\"\n"
			 "arch = \"%s\"\ncommand = \"true\"\n", want[i].arch);
		c = load(text);
		assert_int_equal(qemu_argv_build(&c->targets[0], &plan, &argv, &err), 0);
		assert_string_equal(argv.items[0], c->targets[0].qemu_command);
		assert_string_equal(value_of(&argv, "-machine", ""), want[i].machine);
		assert_string_equal(value_of(&argv, "-cpu", ""), want[i].cpu);
		snprintf(console, sizeof(console), "console=%s ", want[i].console);
		assert_non_null(value_of(&argv, "-append", console));
		snprintf(serial, sizeof(serial), "%s,id=vser", want[i].serial);
		assert_non_null(value_of(&argv, "-device", serial));
		assert_non_null(strstr(value_of(&argv, "-device", "virtio-9p-"),
				       strchr(want[i].serial + 7, '-')));
		strv_clear(&argv);
		config_free(c);
	}
	{
		struct config *c = load("[[target]]\nname = \"k\"\nkernel = \"I\"\n"
					"arch = \"aarch64\"\ncommand = \"true\"\n");

		assert_string_equal(c->targets[0].qemu_command, "qemu-system-aarch64");
		config_free(c);
	}
}

static void test_kvm(void **state)
{
	struct config *c = load("[[target]]\nname = \"k\"\nkernel = \"bz\"\ncommand = \"true\"\n"
				"kvm_cpu_args = \"host,+invtsc\"\n");
	struct qemu_plan kvm = plan;
	struct error err = { 0 };
	struct strv argv = { 0 };

	kvm.accel = QEMU_ACCEL_KVM;
	assert_int_equal(qemu_argv_build(&c->targets[0], &kvm, &argv, &err), 0);
	assert_string_equal(value_of(&argv, "-accel", ""), "kvm");
	assert_string_equal(value_of(&argv, "-cpu", ""), "host,+invtsc");
	strv_clear(&argv);
	config_free(c);
}

/* A comma in a path must not start a new option: it is doubled. */
static void test_escaping(void **state)
{
	struct config *c = load("[[target]]\nname = \"k\"\nkernel = \"bz\"\ncommand = \"true\"\n"
				"rootfs = \"/r,readonly=off\"\n"
				"[target.vm.mounts]\n"
				"\"/a\" = { host_path = \"/h,o st=x\", writable = true }\n"
				"\"/b\" = { host_path = \"/ro\" }\n");
	struct qemu_plan odd = plan;
	struct error err = { 0 };
	struct strv argv = { 0 };
	char *escaped = qemu_escape_value("a,,b,");

	assert_string_equal(escaped, "a,,,,b,,");
	free(escaped);
	odd.run_dir = "/tmp/a,b";
	odd.boot_kernel = "/k,ernel=x";
	assert_int_equal(qemu_argv_build(&c->targets[0], &odd, &argv, &err), 0);
	assert_string_equal(value_of(&argv, "-fsdev", "local,id=root,"),
			    "local,id=root,path=/r,,readonly=off,security_model=none,multidevs=remap,readonly=on");
	assert_string_equal(value_of(&argv, "-fsdev", "local,id=m0,"),
			    "local,id=m0,path=/h,,o st=x,security_model=none,multidevs=remap");
	assert_string_equal(value_of(&argv, "-device", "virtio-9p-pci,fsdev=m0"),
			    "virtio-9p-pci,fsdev=m0,mount_tag=vmtest-m0");
	assert_string_equal(value_of(&argv, "-fsdev", "local,id=m1,"),
			    "local,id=m1,path=/ro,security_model=none,multidevs=remap,readonly=on");
	assert_string_equal(value_of(&argv, "-chardev", "socket,id=qmp,"),
			    "socket,id=qmp,path=/tmp/a,,b/qmp.sock,server=on,wait=off");
	/* -kernel takes its text verbatim. */
	assert_string_equal(value_of(&argv, "-kernel", ""), "/k,ernel=x");
	strv_clear(&argv);
	config_free(c);
}

/*
 * Warm starts: guest RAM in the memfd vmtest names, shared, its size the
 * target's memory; -incoming defer only for a restore; and the key's argv
 * names no host path of vm.mounts (the same guest whatever is shared).
 */
static void test_warm_start(void **state)
{
	struct config *c = load(kernel_512m_with_mount);
	struct qemu_plan warm = plan;
	struct error err = { 0 };
	struct strv argv = { 0 };

	assert_int_equal(qemu_argv_build(&c->targets[0], &plan, &argv, &err), 0);
	assert_null(value_of(&argv, "-object", "memory-backend"));
	assert_null(value_of(&argv, "-incoming", ""));
	strv_clear(&argv);

	warm.ram_path = "/proc/self/fd/7";
	assert_int_equal(qemu_argv_build(&c->targets[0], &warm, &argv, &err), 0);
	assert_string_equal(value_of(&argv, "-machine", ""), "q35,i8042=off,memory-backend=" QEMU_RAM_ID);
	assert_string_equal(value_of(&argv, "-object", "memory-backend"),
			    "memory-backend-file,id=" QEMU_RAM_ID ",size=536870912,"
			    "mem-path=/proc/self/fd/7,share=on");
	assert_string_equal(value_of(&argv, "-m", ""), "512M");
	assert_null(value_of(&argv, "-incoming", ""));
	assert_string_equal(value_of(&argv, "-fsdev", "local,id=m0,"),
			    "local,id=m0,path=/h,security_model=none,multidevs=remap");
	strv_clear(&argv);

	warm.incoming = true;
	warm.for_key = true;
	assert_int_equal(qemu_argv_build(&c->targets[0], &warm, &argv, &err), 0);
	assert_string_equal(value_of(&argv, "-incoming", ""), "defer");
	assert_string_equal(value_of(&argv, "-fsdev", "local,id=m0,"),
			    "local,id=m0,path=@mount,security_model=none,multidevs=remap");
	strv_clear(&argv);
	config_free(c);
}

/* Where a value is in argv; argv->len when it is not. */
static size_t position_of(const struct strv *argv, const char *prefix)
{
	size_t i = 0;

	while (i < argv->len && strncmp(argv->items[i], prefix, strlen(prefix)) != 0)
		i++;
	return i;
}

/*
 * virtiofs: each export from its daemon's socket, its device in a root
 * port of its own, after vm.extra_args; guest RAM shared.
 */
static void test_virtiofs(void **state)
{
	struct config *c = load(kernel_512m_with_mount);
	struct qemu_plan vfs = plan;
	struct error err = { 0 };
	struct strv argv = { 0 };

	vfs.virtiofs = true;
	vfs.no_9p = true;
	assert_int_equal(qemu_argv_build(&c->targets[0], &vfs, &argv, &err), 0);
	assert_false(qemu_plan_leaves_out(&vfs));
	assert_null(value_of(&argv, "-fsdev", ""));
	assert_string_equal(value_of(&argv, "-chardev", "socket,id=vfs-root,"),
			    "socket,id=vfs-root,path=/tmp/vmtest-abc/vfs-root.sock");
	assert_string_equal(value_of(&argv, "-device", "pcie-root-port,id=vfs-port-root"),
			    "pcie-root-port,id=vfs-port-root,chassis=100");
	assert_string_equal(value_of(&argv, "-device", "pcie-root-port,id=vfs-port-m0"),
			    "pcie-root-port,id=vfs-port-m0,chassis=102");
	assert_string_equal(value_of(&argv, "-device", "vhost-user-fs-pci,chardev=vfs-root"),
			    "vhost-user-fs-pci,chardev=vfs-root,tag=vmtest-root,bus=vfs-port-root");
	assert_string_equal(value_of(&argv, "-device", "vhost-user-fs-pci,chardev=vfs-shared"),
			    "vhost-user-fs-pci,chardev=vfs-shared,tag=vmtest-shared,bus=vfs-port-shared");
	assert_string_equal(value_of(&argv, "-device", "vhost-user-fs-pci,chardev=vfs-m0"),
			    "vhost-user-fs-pci,chardev=vfs-m0,tag=vmtest-m0,bus=vfs-port-m0");
	assert_string_equal(value_of(&argv, "-object", "memory-backend"),
			    "memory-backend-memfd,id=" QEMU_RAM_ID ",size=536870912,share=on");
	assert_string_equal(value_of(&argv, "-machine", ""), "q35,i8042=off,memory-backend=" QEMU_RAM_ID);
	strv_clear(&argv);

	/* Beside 9p (auto): the 9p devices first, where a 9p-only guest has them. */
	vfs.no_9p = false;
	assert_int_equal(qemu_argv_build(&c->targets[0], &vfs, &argv, &err), 0);
	assert_non_null(value_of(&argv, "-fsdev", "local,id=root,"));
	assert_true(position_of(&argv, "virtio-9p-pci,fsdev=m0") <
		    position_of(&argv, "pcie-root-port,id=vfs-port-root"));
	strv_clear(&argv);

	/* A warm boot: the root ports stay, the devices and their chardevs go. */
	vfs.migratable = true;
	vfs.ram_path = "/proc/self/fd/7";
	assert_int_equal(qemu_argv_build(&c->targets[0], &vfs, &argv, &err), 0);
	assert_true(qemu_plan_leaves_out(&vfs));
	assert_non_null(value_of(&argv, "-device", "pcie-root-port,id=vfs-port-shared,"));
	assert_null(value_of(&argv, "-device", "vhost-user-fs"));
	assert_null(value_of(&argv, "-chardev", "socket,id=vfs-"));
	assert_string_equal(value_of(&argv, "-object", "memory-backend"),
			    "memory-backend-file,id=" QEMU_RAM_ID ",size=536870912,"
			    "mem-path=/proc/self/fd/7,share=on");
	strv_clear(&argv);
	config_free(c);
}

/*
 * /usr's image: a read-only NBD node on the run directory's socket (its
 * commas escaped), a virtio-blk disk the init finds by serial, after
 * vm.extra_args (a disk the user adds stays /dev/vda) and before the panic
 * device; only for kernel targets that plan it.
 */
static void test_usr_image(void **state)
{
	struct config *c = load("[[target]]\nname = \"k\"\nkernel = \"bz\"\ncommand = \"true\"\n"
				"[target.vm]\nextra_args = [\"-s\"]\n");
	struct qemu_plan with = plan;
	struct error err = { 0 };
	struct strv argv = { 0 };

	assert_int_equal(qemu_argv_build(&c->targets[0], &plan, &argv, &err), 0);
	assert_null(value_of(&argv, "-blockdev", ""));
	strv_clear(&argv);
	with.usr_image = true;
	with.run_dir = "/tmp/a,b";
	assert_int_equal(qemu_argv_build(&c->targets[0], &with, &argv, &err), 0);
	assert_string_equal(value_of(&argv, "-blockdev", ""),
			    "driver=nbd,node-name=vmtest-usr,server.type=unix,"
			    "server.path=/tmp/a,,b/usr.sock,read-only=on");
	assert_string_equal(value_of(&argv, "-device", "virtio-blk-"),
			    "virtio-blk-pci,drive=vmtest-usr,serial=" GUEST_USR_IMAGE_SERIAL);
	assert_string_equal(argv.items[argv.len - 7], "-s");
	assert_string_equal(argv.items[argv.len - 6], "-blockdev");
	assert_string_equal(argv.items[argv.len - 1], "pvpanic-pci");
	strv_clear(&argv);
	config_free(c);
}

static void test_image_target(void **state)
{
	struct config *c = load("[[target]]\nname = \"img\"\nimage = \"a,b.qcow2\"\nuefi = true\n"
				"command = \"true\"\n"
				"[[target]]\nname = \"p\"\nimage = \"d.img\"\ncommand = \"true\"\n"
				"[target.vm]\npersist = true\n");
	struct qemu_plan image = plan;
	struct error err = { 0 };
	struct strv argv = { 0 };

	image.boot_kernel = image.initrd = NULL;
	image.disk_format = "qcow2";
	image.firmware_code = "/usr/share/OVMF/OVMF_CODE_4M.fd";
	image.firmware_vars = "/tmp/vmtest-abc/vars.fd";
	assert_int_equal(qemu_argv_build(&c->targets[0], &image, &argv, &err), 0);
	assert_string_equal(value_of(&argv, "-drive", "file="),
			    "file=/proj/a,,b.qcow2,format=qcow2,if=none,id=disk0,snapshot=on");
	assert_string_equal(value_of(&argv, "-device", "virtio-blk-pci"),
			    "virtio-blk-pci,drive=disk0,bootindex=1");
	assert_string_equal(value_of(&argv, "-drive", "if=pflash,format=raw,unit=0"),
			    "if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd");
	assert_string_equal(value_of(&argv, "-drive", "if=pflash,format=raw,unit=1"),
			    "if=pflash,format=raw,unit=1,file=/tmp/vmtest-abc/vars.fd");
	/* No kernel, no 9p root: the image is its own world. */
	assert_null(value_of(&argv, "-kernel", ""));
	assert_null(value_of(&argv, "-fsdev", "local,id=root,"));
	assert_non_null(value_of(&argv, "-fsdev", "local,id=shared,"));
	strv_clear(&argv);

	image.firmware_code = image.firmware_vars = NULL;
	image.disk_format = "raw";
	assert_int_equal(qemu_argv_build(&c->targets[1], &image, &argv, &err), 0);
	/* vm.persist writes through. */
	assert_string_equal(value_of(&argv, "-drive", "file="),
			    "file=/proj/d.img,format=raw,if=none,id=disk0");
	assert_null(value_of(&argv, "-drive", "if=pflash"));
	/* A new generation ID in each QEMU, for a kernel restored from a snapshot. */
	assert_non_null(value_of(&argv, "-device", "vmgenid"));
	strv_clear(&argv);

	/* A warm start's layer of the run's own: written, with no snapshot=on. */
	image.disk_layer = "/tmp/vmtest-abc/disk.qcow2";
	assert_int_equal(qemu_argv_build(&c->targets[0], &image, &argv, &err), 0);
	assert_string_equal(value_of(&argv, "-drive", "file="),
			    "file=/tmp/vmtest-abc/disk.qcow2,format=qcow2,if=none,id=disk0");
	strv_clear(&argv);
	config_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kernel_target),
		cmocka_unit_test(test_dump_gdb_network),
		cmocka_unit_test(test_architectures),
		cmocka_unit_test(test_kvm),
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_image_target),
		cmocka_unit_test(test_warm_start),
		cmocka_unit_test(test_virtiofs),
		cmocka_unit_test(test_usr_image),
	};

	return cmocka_run_group_tests_name("qemu_argv", tests, NULL, NULL);
}
