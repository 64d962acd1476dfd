// SPDX-License-Identifier: MIT
/* The vmtest.toml model: defaults, path resolution, every validation rule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "base/arch.h"
#include "config/config.h"
#include "config/filter.h"

static struct config *load_ok(const char *text)
{
	struct config *config = NULL;
	struct error err = { 0 };
	int r = config_load_string(text, strlen(text), "vmtest.toml", "/base", &config, &err);

	if (r < 0)
		fail_msg("unexpected error: %s", err.msg);
	return config;
}

/* Loading must fail with exactly this message and the usage status. */
static void load_fails(const char *text, const char *message)
{
	struct config *config = NULL;
	struct error err = { 0 };
	int r = config_load_string(text, strlen(text), "vmtest.toml", "/base", &config, &err);

	assert_true(r < 0);
	assert_null(config);
	assert_string_equal(err.msg, message);
	assert_int_equal(err.status, EXIT_STATUS_USAGE);
}

static void test_kernel_target_defaults(void **state)
{
	struct config *c = load_ok("[[target]]\nname = \"k\"\nkernel = \"./bzImage\"\ncommand = \"true\"\n");
	const struct target *t = &c->targets[0];

	assert_int_equal(c->n_targets, 1);
	assert_int_equal(t->kind, TARGET_KERNEL);
	assert_string_equal(t->kernel, "/base/bzImage");
	assert_string_equal(t->rootfs, "/");
	assert_string_equal(t->arch, arch_host());
	assert_true(strncmp(t->qemu_command, "qemu-system-", 12) == 0);
	assert_string_equal(t->qemu_command + 12, t->arch);
	assert_null(t->kernel_args);
	assert_null(t->image);
	assert_false(t->uefi);
	assert_int_equal(t->vm.num_cpus, 2);
	assert_string_equal(t->vm.memory, "4G");
	assert_int_equal(t->vm.memory_bytes, 4ULL << 30);
	assert_null(t->vm.bios);
	assert_int_equal(t->vm.n_extra_args, 0);
	assert_non_null(t->vm.extra_args);
	assert_null(t->vm.extra_args[0]);
	assert_int_equal(t->vm.n_mounts, 0);
	assert_false(t->vm.no_snapshot);
	assert_int_equal(t->origin.pos.line, 1);
	assert_int_equal(t->kernel_origin.pos.line, 3);
	assert_int_equal(t->kernel_origin.pos.column, 10);
	config_free(c);
}

static void test_every_field(void **state)
{
	struct config *c = load_ok(
		"[[target]]\n"
		"name = \"img\"\n"
		"image = \"images/disk.qcow2\"\n"
		"uefi = true\n"
		"arch = \"aarch64\"\n"
		"qemu_command = \"/opt/qemu/bin/qemu-system-aarch64\"\n"
		"kvm_cpu_args = \"host,+invtsc\"\n"
		"command = \"/bin/bash -c 'ls /mnt/vmtest'\"\n"
		"[target.vm]\n"
		"num_cpus = 255\n"
		"memory = \"1.5G\"\n"
		"bios = \"/usr/share/ovmf/OVMF.fd\"\n"
		"extra_args = [\"-device\", \"virtio-rng-pci\"]\n"
		"[target.vm.mounts]\n"
		"\"/z\" = { host_path = \"z\" }\n"
		"\"/a\" = { host_path = \"/srv/a\", writable = true }\n"
		"\n"
		"[[target]]\n"
		"name = \"kernel\"\n"
		"kernel = \"/k/../bzImage\"\n"
		"kernel_args = \"quiet\"\n"
		"rootfs = \"rootfs\"\n"
		"command = \"true\"\n");
	const struct target *t = &c->targets[0];

	assert_int_equal(c->n_targets, 2);
	assert_int_equal(t->kind, TARGET_IMAGE);
	assert_string_equal(t->image, "/base/images/disk.qcow2");
	assert_true(t->uefi);
	assert_string_equal(t->arch, "aarch64");
	assert_string_equal(t->qemu_command, "/opt/qemu/bin/qemu-system-aarch64");
	assert_string_equal(t->kvm_cpu_args, "host,+invtsc");
	assert_null(t->rootfs);
	assert_int_equal(t->vm.num_cpus, 255);
	assert_int_equal(t->vm.memory_bytes, 3ULL << 29);
	assert_string_equal(t->vm.bios, "/usr/share/ovmf/OVMF.fd");
	assert_int_equal(t->vm.n_extra_args, 2);
	assert_string_equal(t->vm.extra_args[1], "virtio-rng-pci");
	assert_null(t->vm.extra_args[2]);
	/* Mounts stay in file order, not sorted. */
	assert_int_equal(t->vm.n_mounts, 2);
	assert_string_equal(t->vm.mounts[0].guest_path, "/z");
	assert_string_equal(t->vm.mounts[0].host_path, "/base/z");
	assert_false(t->vm.mounts[0].writable);
	assert_string_equal(t->vm.mounts[1].guest_path, "/a");
	assert_string_equal(t->vm.mounts[1].host_path, "/srv/a");
	assert_true(t->vm.mounts[1].writable);

	t = &c->targets[1];
	assert_string_equal(t->kernel, "/k/../bzImage");
	assert_string_equal(t->kernel_args, "quiet");
	assert_string_equal(t->rootfs, "/base/rootfs");
	assert_int_equal(t->origin.pos.line, 18);
	config_free(c);
}

static void test_seed_unterminated_string(void **state)
{
	load_fails("[[target]]\n"
		   "name = \"AWS kernel\"\n"
		   "kernel = \"./bzImage-5.15.0-1022-aws\n"
		   "command = \"/bin/bash -c 'uname -r | grep -e aws$'\"\n",
		   "vmtest.toml:3:10: unterminated string");
}

static void test_required_fields(void **state)
{
	load_fails("", "vmtest.toml:1:1: no targets: describe each one in a [[target]] table");
	load_fails("[target]\nname = \"x\"\n",
		   "vmtest.toml:1:2: target must be an array of tables: write [[target]], not [target]");
	load_fails("[[target]]\nkernel = \"k\"\ncommand = \"c\"\n",
		   "vmtest.toml:1:1: target #1: name is required");
	load_fails("[[target]]\nname = \"\"\n", "vmtest.toml:2:8: target #1: name: must not be empty");
	load_fails("[[target]]\nname = 1\n",
		   "vmtest.toml:2:8: target #1: name: expected a string, got an integer");
	load_fails("[[target]]\nname = \"a\"\ncommand = \"c\"\n",
		   "vmtest.toml:1:1: target 'a': needs either kernel (to boot a kernel on the host's userspace) or image (to boot a disk image)");
	load_fails("[[target]]\nname = \"a\"\nkernel = \"k\"\n",
		   "vmtest.toml:1:1: target 'a': command is required");
	load_fails("[[target]]\nname = \"a\"\nkernel = \"k\"\ncommand = \"  \"\n",
		   "vmtest.toml:4:11: target 'a': command: must not be empty");
	load_fails("[[target]]\nname = \"a\"\nkernel = \"\"\ncommand = \"c\"\n",
		   "vmtest.toml:3:10: target 'a': kernel: must not be empty");
}

static void test_unique_names(void **state)
{
	load_fails("[[target]]\nname = \"a\"\nkernel = \"k\"\ncommand = \"c\"\n"
		   "[[target]]\nname = \"a\"\nimage = \"i\"\ncommand = \"c\"\n",
		   "vmtest.toml:6:8: target 'a': name is already used by the target at line 1");
}

static void test_field_combinations(void **state)
{
	load_fails("[[target]]\nname = \"a\"\nkernel = \"k\"\nimage = \"i\"\ncommand = \"c\"\n",
		   "vmtest.toml:4:1: target 'a': kernel and image cannot both be set: a target boots either a kernel or an image");
	load_fails("[[target]]\nname = \"a\"\nkernel = \"k\"\nuefi = true\ncommand = \"c\"\n",
		   "vmtest.toml:4:1: target 'a': uefi applies only to image targets");
	load_fails("[[target]]\nname = \"a\"\nimage = \"i\"\ncommand = \"c\"\n[target.vm]\nbios = \"b\"\n",
		   "vmtest.toml:6:8: target 'a': vm.bios applies only with uefi = true");
	load_fails("[[target]]\nname = \"a\"\nkernel = \"k\"\ncommand = \"c\"\n[target.vm]\npersist = true\n",
		   "vmtest.toml:6:1: target 'a': vm.persist applies only to image targets");
	load_fails("[[target]]\nname = \"a\"\nimage = \"i\"\nkernel_args = \"x\"\ncommand = \"c\"\n",
		   "vmtest.toml:4:1: target 'a': kernel_args applies only to kernel targets");
	load_fails("[[target]]\nname = \"a\"\nimage = \"i\"\nrootfs = \"/\"\ncommand = \"c\"\n",
		   "vmtest.toml:4:10: target 'a': rootfs applies only to kernel targets");
}

static void test_vm_values(void **state)
{
	const char *head = "[[target]]\nname = \"a\"\nkernel = \"k\"\ncommand = \"c\"\n[target.vm]\n";
	char text[512];

	snprintf(text, sizeof(text), "%snum_cpus = 0\n", head);
	load_fails(text, "vmtest.toml:6:12: target 'a': vm.num_cpus: 0 is out of range (1 to 255)");
	snprintf(text, sizeof(text), "%snum_cpus = 256\n", head);
	load_fails(text, "vmtest.toml:6:12: target 'a': vm.num_cpus: 256 is out of range (1 to 255)");
	snprintf(text, sizeof(text), "%snum_cpus = \"2\"\n", head);
	load_fails(text, "vmtest.toml:6:12: target 'a': num_cpus: expected an integer, got a string");
	snprintf(text, sizeof(text), "%smemory = \"4X\"\n", head);
	load_fails(text, "vmtest.toml:6:10: target 'a': vm.memory: '4X' is not a size QEMU understands (such as \"512M\" or \"4G\")");
	snprintf(text, sizeof(text), "%sextra_args = [\"-s\", 1]\n", head);
	load_fails(text, "vmtest.toml:6:21: target 'a': vm.extra_args: expected strings, got an integer");
	snprintf(text, sizeof(text), "%smounts.data = { host_path = \"d\" }\n", head);
	load_fails(text, "vmtest.toml:6:8: target 'a': vm.mounts: guest path 'data' must be absolute");
	snprintf(text, sizeof(text), "%smounts.\"/d\" = { writable = true }\n", head);
	load_fails(text, "vmtest.toml:6:15: target 'a': vm.mounts: '/d' needs host_path");
	snprintf(text, sizeof(text), "%smounts.\"/mnt/vmtest/\" = { host_path = \"d\" }\n", head);
	load_fails(text, "vmtest.toml:6:8: target 'a': vm.mounts: /mnt/vmtest is where vmtest shares the config's directory");
	snprintf(text, sizeof(text), "%ssnapshot = \"no\"\n", head);
	load_fails(text, "vmtest.toml:6:12: target 'a': snapshot: expected a boolean, got a string");
	snprintf(text, sizeof(text), "%ssnapshot = false\n", head);
	{
		struct config *c = load_ok(text);

		assert_true(c->targets[0].vm.no_snapshot);
		assert_int_equal(c->targets[0].vm.filesystem, VM_FILESYSTEM_AUTO);
		config_free(c);
	}
	snprintf(text, sizeof(text), "%sfilesystem = \"nfs\"\n", head);
	load_fails(text, "vmtest.toml:6:14: target 'a': vm.filesystem: expected \"auto\", \"virtiofs\" or \"9p\"");
	snprintf(text, sizeof(text), "%sfilesystem = \"virtiofs\"\n", head);
	{
		struct config *c = load_ok(text);

		assert_int_equal(c->targets[0].vm.filesystem, VM_FILESYSTEM_VIRTIOFS);
		config_free(c);
	}
	snprintf(text, sizeof(text), "%smounts.\"/d\" = \"x\"\n", head);
	load_fails(text, "vmtest.toml:6:15: target 'a': vm.mounts: '/d' must be a table like { host_path = \"dir\", writable = false }, got a string");
	/* The network, and forwards, which imply it. */
	snprintf(text, sizeof(text), "%snetwork = \"bridge\"\n", head);
	load_fails(text, "vmtest.toml:6:11: target 'a': vm.network: expected \"none\" or \"user\"");
	snprintf(text, sizeof(text), "%sforward = [\"8080\"]\n", head);
	load_fails(text, "vmtest.toml:6:12: target 'a': vm.forward '8080': expected "
		   "[tcp:|udp:][ADDRESS:]HOSTPORT:GUESTPORT, such as 8080:80 or udp:0.0.0.0:5353:53");
	snprintf(text, sizeof(text), "%sforward = [\"1:2\", \"tcp:0:2\"]\n", head);
	load_fails(text, "vmtest.toml:6:19: target 'a': vm.forward 'tcp:0:2': ports are numbers from 1 to 65535");
	snprintf(text, sizeof(text), "%sforward = [\"1:2\", \"tcp:127.0.0.1:1:3\"]\n", head);
	load_fails(text, "vmtest.toml:6:19: target 'a': vm.forward 'tcp:127.0.0.1:1:3': host port 1 is forwarded twice");
	snprintf(text, sizeof(text), "%snetwork = \"none\"\nforward = [\"1:2\"]\n", head);
	load_fails(text, "vmtest.toml:6:11: target 'a': vm.network = \"none\" leaves no network for vm.forward");
	snprintf(text, sizeof(text), "%sforward = [\"8080:80\", \"udp:0.0.0.0:5353:53\"]\n", head);
	{
		struct config *c = load_ok(text);
		const struct vm_config *vm = &c->targets[0].vm;
		char rule[64];

		assert_int_equal(vm->network, VM_NETWORK_USER);
		assert_int_equal(vm->n_forwards, 2);
		vm_forward_format(&vm->forwards[0], rule, sizeof(rule));
		assert_string_equal(rule, "tcp:127.0.0.1:8080-:80");
		vm_forward_format(&vm->forwards[1], rule, sizeof(rule));
		assert_string_equal(rule, "udp:0.0.0.0:5353-:53");
		config_free(c);
	}
}

static void test_timeout(void **state)
{
	struct config *c = load_ok("[[target]]\nname = \"a\"\nkernel = \"k\"\ncommand = \"c\"\ntimeout = \"5m\"\n"
				   "[[target]]\nname = \"b\"\nkernel = \"k\"\ncommand = \"c\"\ntimeout = 90\n"
				   "[[target]]\nname = \"c\"\nkernel = \"k\"\ncommand = \"c\"\n");

	assert_int_equal(c->targets[0].timeout_s, 300);
	assert_int_equal(c->targets[1].timeout_s, 90);
	assert_int_equal(c->targets[2].timeout_s, 0);
	config_free(c);
	load_fails("[[target]]\nname = \"a\"\nkernel = \"k\"\ncommand = \"c\"\ntimeout = 0\n",
		   "vmtest.toml:5:11: target 'a': timeout: expected seconds or a duration such as \"90s\", \"5m\" or \"1h\" (1 s to 7 days)");
	load_fails("[[target]]\nname = \"a\"\nkernel = \"k\"\ncommand = \"c\"\ntimeout = \"5 minutes\"\n",
		   "vmtest.toml:5:11: target 'a': timeout: expected seconds or a duration such as \"90s\", \"5m\" or \"1h\" (1 s to 7 days)");
	load_fails("[[target]]\nname = \"a\"\nkernel = \"k\"\ncommand = \"c\"\ntimeout = true\n",
		   "vmtest.toml:5:11: target 'a': timeout: expected seconds or a duration such as \"90s\", \"5m\" or \"1h\" (1 s to 7 days)");
}

static void test_unknown_keys_suggest(void **state)
{
	load_fails("[[target]]\nname = \"a\"\nkernal = \"k\"\ncommand = \"c\"\n",
		   "vmtest.toml:3:1: target 'a': unknown key 'kernal' in [[target]]; did you mean 'kernel'?");
	load_fails("[[target]]\nname = \"a\"\nkernel = \"k\"\ncommand = \"c\"\n[target.vm]\nnum_cpu = 2\n",
		   "vmtest.toml:6:1: target 'a': unknown key 'num_cpu' in [target.vm]; did you mean 'num_cpus'?");
	load_fails("[[target]]\nname = \"a\"\nkernel = \"k\"\ncommand = \"c\"\n"
		   "vm.mounts.\"/d\" = { host_path = \"d\", writeable = true }\n",
		   "vmtest.toml:5:37: target 'a': unknown key 'writeable' in a vm.mounts entry; did you mean 'writable'?");
	load_fails("[[target]]\nname = \"a\"\nkernel = \"k\"\ncommand = \"c\"\ncolour = \"blue\"\n",
		   "vmtest.toml:5:1: target 'a': unknown key 'colour' in [[target]]");
	load_fails("targets = 1\n",
		   "vmtest.toml:1:1: unknown key 'targets' in the top level; did you mean 'target'?");
	load_fails("[[target]]\nname = \"a\"\nkernel = \"k\"\narch = \"x86-64\"\ncommand = \"c\"\n",
		   "vmtest.toml:4:8: target 'a': arch: unknown architecture 'x86-64'; did you mean 'x86_64'? (vmtest supports x86_64, aarch64, s390x, riscv64)");
}

static void test_filter(void **state)
{
	struct config *c = load_ok("[[target]]\nname = \"kernel 5.15\"\nkernel = \"k\"\ncommand = \"c\"\n"
				   "[[target]]\nname = \"image\"\nimage = \"i\"\ncommand = \"c\"\n"
				   "[[target]]\nname = \"kernel 6.1\"\nkernel = \"k\"\ncommand = \"c\"\n");
	struct error err = { 0 };

	assert_int_equal(filter_targets(c, "\\d\\.1$", &err), 0);
	assert_int_equal(c->n_targets, 1);
	assert_string_equal(c->targets[0].name, "kernel 6.1");
	assert_true(filter_targets(c, "(", &err) < 0);
	assert_int_equal(err.status, EXIT_STATUS_USAGE);
	assert_string_equal(err.msg, "--filter '(': missing closing parenthesis at offset 1");
	assert_int_equal(filter_targets(c, "^image$", &err), 0);
	assert_int_equal(c->n_targets, 0);
	config_free(c);
}

static void test_oneliner(void **state)
{
	struct oneliner spec = { .kernel = "./linux/arch/x86/boot/bzImage", .command = "make test",
				 .rootfs = "../root" };
	struct config *c = NULL;
	struct error err = { 0 };

	assert_int_equal(config_new_oneliner(&spec, "/home/u/src", &c, &err), 0);
	assert_null(c->path);
	assert_string_equal(c->targets[0].name, "bzImage");
	assert_string_equal(c->targets[0].kernel, "/home/u/src/linux/arch/x86/boot/bzImage");
	assert_string_equal(c->targets[0].rootfs, "/home/u/src/../root");
	assert_string_equal(c->targets[0].command, "make test");
	assert_int_equal(c->targets[0].vm.num_cpus, 2);
	config_free(c);

	spec.arch = "arm";
	assert_true(config_new_oneliner(&spec, "/", &c, &err) < 0);
	assert_int_equal(err.status, EXIT_STATUS_USAGE);
	assert_string_equal(err.msg, "-a: unknown architecture 'arm' (vmtest supports x86_64, aarch64, s390x, riscv64)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kernel_target_defaults),
		cmocka_unit_test(test_every_field),
		cmocka_unit_test(test_seed_unterminated_string),
		cmocka_unit_test(test_required_fields),
		cmocka_unit_test(test_unique_names),
		cmocka_unit_test(test_field_combinations),
		cmocka_unit_test(test_vm_values),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_unknown_keys_suggest),
		cmocka_unit_test(test_filter),
		cmocka_unit_test(test_oneliner),
	};

	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
