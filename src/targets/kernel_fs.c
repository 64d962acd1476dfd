// SPDX-License-Identifier: MIT
#include "targets/kernel_fs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "guest_proto.h"
#include "base/arch.h"
#include "base/clock.h"
#include "targets/target_run.h"
#include "targets/usr_image.h"
#include "vm/json_io.h"

/* A daemon must listen this soon: it starts in tens of milliseconds. */
#define KERNEL_FS_VIRTIOFSD_TIMEOUT_MS 10000

/* The filesystem asked for: --filesystem, else vm.filesystem. */
static enum vm_filesystem kernel_fs_asked(const struct target_run *run)
{
	return run->options->filesystem >= 0 ? (enum vm_filesystem)run->options->filesystem
					     : run->target->vm.filesystem;
}

static bool kernel_fs_over_pci(const struct target_run *run)
{
	return strcmp(arch_find(run->target->arch)->virtio, "pci") == 0;
}

/* One export: its id, what it serves and the message's name for it. */
static int kernel_fs_export(const struct target_run *run, size_t i, struct virtiofsd_export *e,
			    char *id, size_t id_len, char **ret_what)
{
	const struct target *t = run->target;

	/* Only the root is overlayfs's lower layer (virtiofsd.h). */
	*e = (struct virtiofsd_export){ .submounts = i > 0 };
	if (i == 0) {
		e->id = "root", e->source = t->rootfs;
		return asprintf(ret_what, "the root filesystem %s", t->rootfs);
	}
	if (i == 1) {
		e->id = "shared", e->source = run->config->base_dir, e->writable = true;
		return asprintf(ret_what, "the shared directory %s", e->source);
	}
	snprintf(id, id_len, "m%zu", i - 2);
	e->id = id, e->source = t->vm.mounts[i - 2].host_path;
	e->writable = t->vm.mounts[i - 2].writable;
	return asprintf(ret_what, "vm.mounts '%s' (%s)", t->vm.mounts[i - 2].guest_path,
			e->source);
}

/* One daemon per export, each serving what the guest mounts from it. */
int kernel_fs_start(struct target_run *run, struct kernel_fs *fs, struct error *err)
{
	size_t n = 2 + run->target->vm.n_mounts;
	int64_t deadline = clock_deadline(KERNEL_FS_VIRTIOFSD_TIMEOUT_MS);
	int r = 0;

	if (fs->usr_image) {
		_cleanup_free_ char *socket = target_run_path(run, QEMU_SOCKET_USR_IMAGE);

		if (!socket)
			return error_set(err, ENOMEM, "out of memory");
		r = usr_image_start(run->target->rootfs, socket, &fs->image, err);
		if (r < 0)
			return r;
	}
	if (!fs->virtiofs)
		return 0;
	fs->daemons = calloc(n, sizeof(*fs->daemons));
	fs->daemon_fds = calloc(n + 1, sizeof(*fs->daemon_fds));
	if (!fs->daemons || !fs->daemon_fds)
		return error_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; r >= 0 && i < n; i++) {
		_cleanup_free_ char *what = NULL, *socket = NULL;
		struct virtiofsd_export e;
		char socket_name[48], mount_id[32];

		if (i == 1 && !run->config->base_dir)
			continue;
		if (kernel_fs_export(run, i, &e, mount_id, sizeof(mount_id), &what) < 0)
			return error_set(err, ENOMEM, "out of memory");
		e.what = what;
		snprintf(socket_name, sizeof(socket_name), QEMU_SOCKET_VIRTIOFS, e.id);
		socket = target_run_path(run, socket_name);
		if (!socket)
			return error_set(err, ENOMEM, "out of memory");
		e.socket = socket;
		r = virtiofsd_start(fs->virtiofsd, run->run_dir, &e, deadline,
				    &fs->daemons[fs->n_daemons], err);
		fs->n_daemons++;
	}
	for (size_t i = 0; i < fs->n_daemons; i++)
		fs->daemon_fds[i] = fs->daemons[i].process.pidfd;
	fs->daemon_fds[fs->n_daemons] = -1;
	return r;
}

/* --filesystem virtiofs: a daemon, root, and a word on its open files. */
static int kernel_fs_virtiofs_asked(struct target_run *run, struct kernel_fs *fs,
				    const char *binary, struct error *err)
{
	unsigned long files;

	if (!binary)
		return error_set(err, ENOENT, "virtiofs was asked for, and there is no virtiofsd in "
				 "/usr/libexec, /usr/lib/qemu or PATH (Debian: qemu-system-common; "
				 "else use --filesystem 9p)");
	if (geteuid() != 0)
		return error_set(err, EPERM, "virtiofs was asked for, and %s runs only as root (use "
				 "--filesystem 9p)", binary);
	fs->virtiofs_only = true;
	files = virtiofsd_files_limit();
	if (files)
		record_log(run->record, 0, "virtiofs: the daemons may keep only %lu files open "
			   "(RLIMIT_NOFILE, and no CAP_SYS_RESOURCE to raise it), one per file or "
			   "directory the guest holds: past that, the guest sees 'Too many open "
			   "files' (docs/virtiofs.md)", files);
	return 0;
}

/* Why auto takes 9p here; NULL: virtiofs can be had. */
static const char *kernel_fs_why_9p(const struct target_run *run, const char *binary,
				    unsigned long files, char *buf, size_t len)
{
	if (!binary)
		return "no virtiofsd in /usr/libexec, /usr/lib/qemu or PATH";
	if (geteuid() != 0)
		return "virtiofsd runs only as root";
	if (!kernel_fs_over_pci(run))
		return "virtio over channel I/O: no PCI rescan finds a device added at restore";
	if (!files)
		return NULL;
	snprintf(buf, len, "a virtiofs daemon could keep only %lu files open (RLIMIT_NOFILE, and "
		 "no CAP_SYS_RESOURCE to raise it), fewer than a walk of the root holds", files);
	return buf;
}

/*
 * auto is virtiofs where it can be had and serves any walk 9p serves: root
 * (QEMU 7.2's daemon runs only as root), a daemon installed, PCI (the
 * guest finds the devices a restore adds by a PCI rescan), and daemons
 * that may keep a file open per inode the guest holds.
 */
int kernel_fs_choose(struct target_run *run, struct kernel_fs *fs, struct error *err)
{
	enum vm_filesystem asked = kernel_fs_asked(run);
	_cleanup_free_ char *binary = NULL;
	char why_buf[256];
	int r;

	/* Asked for by name, 9p or virtiofs serve all of the root, /usr too. */
	fs->usr_image = asked == VM_FILESYSTEM_AUTO && !run->target->vm.no_usr_image;
	if (asked == VM_FILESYSTEM_9P)
		return 0;
	binary = virtiofsd_find();
	if (asked == VM_FILESYSTEM_VIRTIOFS) {
		r = kernel_fs_virtiofs_asked(run, fs, binary, err);
		if (r < 0)
			return r;
	} else {
		const char *why = kernel_fs_why_9p(run, binary, virtiofsd_files_limit(), why_buf,
						   sizeof(why_buf));

		if (why) {
			record_log(run->record, 1, "9p (vm.filesystem = auto): %s", why);
			return 0;
		}
	}
	fs->virtiofs = true;
	fs->virtiofsd = TAKE_PTR(binary);
	record_log(run->record, 1, "the root and the shares over virtiofs (%s)%s", fs->virtiofsd,
		   fs->virtiofs_only ? "" : ", and over 9p for a kernel without it");
	return 0;
}

const char *kernel_fs_setup_name(const struct kernel_fs *fs)
{
	return !fs->virtiofs ? NULL : fs->virtiofs_only ? "virtiofs" : "auto";
}

void kernel_fs_mounted(struct target_run *run, struct kernel_fs *fs, const char *used,
		       bool usr_image_used, const char *usr_image_error)
{
	if (fs->image) {
		fs->usr_image_used = usr_image_used;
		if (usr_image_used)
			record_log(run->record, 1, "/usr from vmtest's image: %s",
				   usr_image_summary(fs->image));
		else
			record_log(run->record, 1, "/usr over %s, not from the image (%s): %s",
				   fs->virtiofs ? "virtiofs or 9p" : "9p",
				   usr_image_error ? usr_image_error : "the guest did not say why",
				   usr_image_summary(fs->image));
	}
	if (!fs->virtiofs)
		return;
	/* An older init does not say: it mounted what it was asked to. */
	fs->virtiofs_used = used ? strcmp(used, "virtiofs") == 0 : fs->virtiofs_only;
	if (!fs->virtiofs_used)
		record_log(run->record, 1, "the guest mounted 9p: its kernel has no virtiofs "
			   "(CONFIG_VIRTIO_FS)");
}

void kernel_fs_finished(struct target_run *run, struct kernel_fs *fs)
{
	const char *changed = fs->image ? usr_image_changed_file(fs->image) : NULL;

	if (fs->usr_image_used)
		record_log(run->record, 1, "/usr's image served %s", usr_image_served(fs->image));
	if (changed)
		record_log(run->record, 0, "%s changed on the host while the guest ran: the guest "
			   "read an I/O error rather than a file that is no longer the one it listed "
			   "(files under /usr are taken as they are when the run starts)", changed);
}

const char *kernel_fs_warm_off(const struct target_run *run, const struct kernel_fs *fs)
{
	if (fs->virtiofs && !kernel_fs_over_pci(run))
		return "virtiofs over channel I/O: QEMU 7.2 can neither save a vhost-user-fs "
		       "device nor plug one into a restored guest without PCI";
	return NULL;
}

/* A QMP command whose arguments are string pairs, ended by NULL. */
static int kernel_fs_qmp_strings(struct target_run *run, const char *command,
				 const char *const *kv, struct error *err)
{
	_cleanup_json_ struct json_value *args = json_io_new_object();

	for (size_t i = 0; args && kv[i]; i += 2)
		if (json_io_set_string(args, kv[i], kv[i + 1]) < 0)
			return error_set(err, ENOMEM, "out of memory");
	if (!args)
		return error_set(err, ENOMEM, "out of memory");
	return qmp_execute(run->qmp, command, args, clock_deadline(run->setup_ms), NULL, err);
}

/* chardev-add's arguments for a client socket to path:
 * {"id": C, "backend": {"type": "socket", "data": {"addr": {"type":
 *  "unix", "data": {"path": P}}, "server": false}}} */
static struct json_value *kernel_fs_chardev_args(const char *id, const char *path)
{
	_cleanup_json_ struct json_value *args = json_io_new_object();
	_cleanup_json_ struct json_value *backend = json_io_new_object(), *data = json_io_new_object();
	_cleanup_json_ struct json_value *addr = json_io_new_object();
	_cleanup_json_ struct json_value *unix_data = json_io_new_object();

	if (!args || !backend || !data || !addr || !unix_data ||
	    json_io_set_string(unix_data, "path", path) < 0 ||
	    json_io_set_string(addr, "type", "unix") < 0 ||
	    json_io_set(addr, "data", TAKE_PTR(unix_data)) < 0 ||
	    json_io_set(data, "addr", TAKE_PTR(addr)) < 0 ||
	    json_io_set_bool(data, "server", false) < 0 ||
	    json_io_set_string(backend, "type", "socket") < 0 ||
	    json_io_set(backend, "data", TAKE_PTR(data)) < 0 ||
	    json_io_set(args, "backend", TAKE_PTR(backend)) < 0 ||
	    json_io_set_string(args, "id", id) < 0)
		return NULL;
	return TAKE_PTR(args);
}

/*
 * QEMU 7.2 cannot migrate vhost-user-fs devices: the chardev first, then
 * the device.  The guest finds them when it mounts (a PCI rescan: no
 * hotplug support needed in its kernel).
 */
int kernel_fs_plug(struct target_run *run, struct kernel_fs *fs, struct error *err)
{
	int r = 0;

	for (size_t i = 0; r >= 0 && i < fs->n_daemons; i++) {
		const struct virtiofsd *d = &fs->daemons[i];
		_cleanup_json_ struct json_value *args = NULL;
		char chardev[48], port[48], tag[48];

		snprintf(chardev, sizeof(chardev), QEMU_VIRTIOFS_CHARDEV, d->id);
		snprintf(port, sizeof(port), QEMU_VIRTIOFS_PORT, d->id);
		if (strcmp(d->id, "root") == 0)
			snprintf(tag, sizeof(tag), "%s", GUEST_TAG_ROOT);
		else if (strcmp(d->id, "shared") == 0)
			snprintf(tag, sizeof(tag), "%s", GUEST_TAG_SHARED);
		else
			snprintf(tag, sizeof(tag), GUEST_TAG_MOUNT_PREFIX "%s", d->id + 1);
		args = kernel_fs_chardev_args(chardev, d->socket);
		if (!args)
			return error_set(err, ENOMEM, "out of memory");
		r = qmp_execute(run->qmp, "chardev-add", args, clock_deadline(run->setup_ms), NULL,
				err);
		if (r >= 0)
			r = kernel_fs_qmp_strings(run, "device_add", (const char *const[]){
				"driver", QEMU_VIRTIOFS_DEVICE, "chardev", chardev, "tag", tag,
				"bus", port, NULL }, err);
	}
	return r;
}

const int *kernel_fs_watch_fds(const struct kernel_fs *fs)
{
	/* A daemon's end matters only when the guest uses it. */
	return fs->virtiofs_used ? fs->daemon_fds : NULL;
}

bool kernel_fs_daemon_died(const struct kernel_fs *fs, struct error *err)
{
	for (size_t i = 0; fs->virtiofs_used && i < fs->n_daemons; i++) {
		char why[64];

		if (!virtiofsd_exited(&fs->daemons[i], why, sizeof(why)))
			continue;
		*err = (struct error){ 0 };
		error_set(err, ECHILD, "the virtiofs daemon serving %s %s while the command ran: the "
			  "guest's files there could no longer be reached", fs->daemons[i].what, why);
		return true;
	}
	return false;
}

void kernel_fs_clear(struct kernel_fs *fs)
{
	usr_image_stop(fs->image);
	for (size_t i = 0; i < fs->n_daemons; i++)
		virtiofsd_stop(&fs->daemons[i]);
	free(fs->daemons);
	free(fs->daemon_fds);
	free(fs->virtiofsd);
	*fs = (struct kernel_fs){ 0 };
}
