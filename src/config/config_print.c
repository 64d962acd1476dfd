// SPDX-License-Identifier: MIT
/*
 * config_print: a resolved target written back as TOML, for --dry-run.
 * What it prints is itself a valid vmtest.toml describing exactly what would
 * run, with every default spelt out and every path absolute.
 */
#include <stdio.h>
#include <string.h>

#include "config/config.h"

/* A TOML basic string: quotes, backslashes and control characters escaped. */
static void config_print_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"':
			fputs("\\\"", out);
			break;
		case '\\':
			fputs("\\\\", out);
			break;
		case '\n':
			fputs("\\n", out);
			break;
		case '\t':
			fputs("\\t", out);
			break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				fprintf(out, "\\u%04x", *p);
			else
				fputc(*p, out);
		}
	}
	fputc('"', out);
}

static void config_print_key_string(FILE *out, const char *key, const char *value)
{
	if (!value)
		return;
	fprintf(out, "%s = ", key);
	config_print_string(out, value);
	fputc('\n', out);
}

static void config_print_key_strings(FILE *out, const char *key, char *const *items, size_t n)
{
	if (!n)
		return;
	fprintf(out, "%s = [", key);
	for (size_t i = 0; i < n; i++) {
		if (i)
			fputs(", ", out);
		config_print_string(out, items[i]);
	}
	fputs("]\n", out);
}

static void config_print_vm(FILE *out, const struct vm_config *vm)
{
	fputs("[target.vm]\n", out);
	fprintf(out, "num_cpus = %u\n", vm->num_cpus);
	config_print_key_string(out, "memory", vm->memory);
	config_print_key_string(out, "bios", vm->bios);
	if (vm->persist)
		fputs("persist = true\n", out);
	if (vm->no_snapshot)
		fputs("snapshot = false\n", out);
	if (vm->filesystem != VM_FILESYSTEM_AUTO)
		fprintf(out, "filesystem = \"%s\"\n", vm_filesystem_name(vm->filesystem));
	if (vm->no_usr_image)
		fputs("usr_image = false\n", out);
	if (vm->kernel_warnings != VM_KERNEL_WARNINGS_FAIL)
		fprintf(out, "kernel_warnings = \"%s\"\n", vm_kernel_warnings_name(vm->kernel_warnings));
	config_print_key_strings(out, "allowed_warnings", vm->allowed_warnings,
				 vm->n_allowed_warnings);
	if (vm->results != VM_RESULTS_NONE)
		fprintf(out, "results = \"%s\"\n", vm_results_name(vm->results));
	config_print_key_string(out, "results_file", vm->results_file);
	config_print_key_strings(out, "expected_failures", vm->expected_failures,
				 vm->n_expected_failures);
	if (vm->network != VM_NETWORK_NONE)
		fprintf(out, "network = \"%s\"\n", vm_network_name(vm->network));
	if (vm->n_forwards) {
		fputs("forward = [", out);
		for (size_t i = 0; i < vm->n_forwards; i++) {
			const struct vm_forward *f = &vm->forwards[i];

			fprintf(out, "%s\"%s:%s:%u:%u\"", i ? ", " : "", f->udp ? "udp" : "tcp",
				f->host_addr, f->host_port, f->guest_port);
		}
		fputs("]\n", out);
	}
	fputs("extra_args = [", out);
	for (size_t i = 0; i < vm->n_extra_args; i++) {
		fputs(i ? ", " : "", out);
		config_print_string(out, vm->extra_args[i]);
	}
	fputs("]\n", out);
	if (!vm->n_mounts)
		return;
	fputs("[target.vm.mounts]\n", out);
	for (size_t i = 0; i < vm->n_mounts; i++) {
		config_print_string(out, vm->mounts[i].guest_path);
		fputs(" = { host_path = ", out);
		config_print_string(out, vm->mounts[i].host_path);
		fprintf(out, ", writable = %s }\n", vm->mounts[i].writable ? "true" : "false");
	}
}

void config_print_target(FILE *out, const struct config *config, const struct target *t)
{
	if (config->path)
		fprintf(out, "# %s:%d\n", config->path, t->origin.pos.line);
	else
		fputs("# one-liner\n", out);
	fputs("[[target]]\n", out);
	config_print_key_string(out, "name", t->name);
	if (t->kind == TARGET_KERNEL) {
		config_print_key_string(out, "kernel", t->kernel);
		config_print_key_string(out, "kernel_args", t->kernel_args);
		config_print_key_string(out, "rootfs", t->rootfs);
	} else {
		config_print_key_string(out, "image", t->image);
		fprintf(out, "uefi = %s\n", t->uefi ? "true" : "false");
	}
	config_print_key_string(out, "arch", t->arch);
	config_print_key_string(out, "qemu_command", t->qemu_command);
	config_print_key_string(out, "kvm_cpu_args", t->kvm_cpu_args);
	if (t->timeout_s)
		fprintf(out, "timeout = %u\n", t->timeout_s);
	if (t->interactive)
		fputs("# command: an interactive shell\n", out);
	else
		config_print_key_string(out, "command", t->command);
	config_print_vm(out, &t->vm);
}
