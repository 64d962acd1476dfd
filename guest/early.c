// SPDX-License-Identifier: MIT
#include "early.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "guest_proto.h"
#include "log.h"

static void early_mount(const char *source, const char *target, const char *type,
			unsigned long flags, const char *data)
{
	mkdir(target, 0755);
	if (mount(source, target, type, flags, data) < 0 && errno != EBUSY)
		log_msg("mount %s on %s: %s", type, target, strerror(errno));
}

void early_mount_basics(void)
{
	early_mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	early_mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	/* The kernel may have mounted devtmpfs itself (DEVTMPFS_MOUNT). */
	early_mount("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755");
}

struct api_mount {
	const char *source, *target, *type, *data;
	unsigned long flags;
};

/*
 * The API filesystems programs expect under /dev and /sys; the kernel may
 * lack some, which is logged, not fatal.  Mounted here, in the initramfs,
 * because mounting bpffs makes Linux 6.1 run modprobe for bpf_preload: here
 * there is no modprobe and the request fails at once, while from the 9p
 * root it would load the host's kmod under emulation (0.2 s).  They move
 * into the new root with /dev and /sys.
 */
void early_mount_api(void)
{
	static const struct api_mount mounts[] = {
		{ "devpts", "/dev/pts", "devpts", "gid=5,mode=620,ptmxmode=666", MS_NOSUID | MS_NOEXEC },
		{ "tmpfs", "/dev/shm", "tmpfs", "mode=1777", MS_NOSUID | MS_NODEV },
		{ "debugfs", "/sys/kernel/debug", "debugfs", NULL, 0 },
		{ "tracefs", "/sys/kernel/tracing", "tracefs", NULL, 0 },
		{ "cgroup2", "/sys/fs/cgroup", "cgroup2", NULL, MS_NOSUID | MS_NODEV | MS_NOEXEC },
		{ "bpf", "/sys/fs/bpf", "bpf", "mode=0700", MS_NOSUID | MS_NODEV | MS_NOEXEC },
	};

	for (size_t i = 0; i < sizeof(mounts) / sizeof(mounts[0]); i++) {
		const struct api_mount *m = &mounts[i];

		mkdir(m->target, 0755);
		if (mount(m->source, m->target, m->type, m->flags, m->data) < 0)
			log_msg("mount %s on %s: %s (skipped)", m->type, m->target, strerror(errno));
	}
}

static int early_name_cmp(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static void early_load_module(const char *name)
{
	char path[512];
	_cleanup_close_ int fd = -1;

	snprintf(path, sizeof(path), "%s/%s", GUEST_MODULES_DIR, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		log_msg("open %s: %s", path, strerror(errno));
		return;
	}
	if (syscall(SYS_finit_module, fd, "", 0) < 0 && errno != EEXIST)
		log_msg("load module %s: %s", name, strerror(errno));
}

/* The host named them NN-name.ko so that dependencies come first. */
void early_load_modules(void)
{
	struct dirent **names;
	int n = scandir(GUEST_MODULES_DIR, &names, NULL, early_name_cmp);

	for (int i = 0; i < n; i++) {
		if (names[i]->d_name[0] != '.')
			early_load_module(names[i]->d_name);
		free(names[i]);
	}
	if (n >= 0)
		free(names);
}

static int early_find_port(const char *name)
{
	DIR *dir = opendir("/sys/class/virtio-ports");
	struct dirent *de;
	int fd = -ENOENT;

	if (!dir)
		return -errno;
	while (fd == -ENOENT && (de = readdir(dir))) {
		char path[512], got[128] = "";
		FILE *f;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/sys/class/virtio-ports/%s/name", de->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		if (fgets(got, sizeof(got), f))
			got[strcspn(got, "\n")] = '\0';
		fclose(f);
		if (strcmp(got, name) != 0)
			continue;
		snprintf(path, sizeof(path), "/dev/%s", de->d_name);
		fd = open(path, O_RDWR | O_CLOEXEC | O_NOCTTY);
		if (fd < 0)
			fd = -errno;
	}
	closedir(dir);
	return fd;
}

/* Ports appear when virtio_console has probed them, which a module load
 * may still be doing: wait a little. */
int early_open_port(const char *name, int timeout_ms)
{
	/* Without the virtio console driver no port will ever come. */
	if (access("/sys/bus/virtio/drivers/virtio_console", F_OK) < 0)
		timeout_ms = 0;
	for (int waited = 0;; waited += 10) {
		int fd = early_find_port(name);

		if (fd >= 0 || waited >= timeout_ms)
			return fd;
		nanosleep(&(struct timespec){ .tv_nsec = 10 * 1000 * 1000 }, NULL);
	}
}

void early_loopback_up(void)
{
	_cleanup_close_ int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct ifreq ifr = { 0 };

	if (fd < 0)
		return;
	strcpy(ifr.ifr_name, "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
		return;
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
		log_msg("bring up lo: %s", strerror(errno));
}

bool early_has_filesystem(const char *name)
{
	char line[128];
	bool found = false;
	FILE *f = fopen("/proc/filesystems", "re");

	while (f && !found && fgets(line, sizeof(line), f)) {
		char *type = strrchr(line, '\t');

		type = type ? type + 1 : line;
		type[strcspn(type, "\n")] = '\0';
		found = strcmp(type, name) == 0;
	}
	if (f)
		fclose(f);
	return found;
}

void early_missing_options(char *buf, size_t len, bool virtiofs)
{
	static const struct {
		const char *what;	/* present when this path exists, or fs */
		bool filesystem;
		const char *options;
		int virtiofs;		/* 1: virtiofs only; 0: 9p only; -1: both */
	} needs[] = {
		{ "/sys/bus/pci/drivers/virtio-pci", false, "CONFIG_VIRTIO_PCI", -1 },
		{ "/sys/bus/virtio/drivers/virtio_console", false, "CONFIG_VIRTIO_CONSOLE", -1 },
		{ "/sys/bus/virtio/drivers/9pnet_virtio", false, "CONFIG_NET_9P, CONFIG_NET_9P_VIRTIO", 0 },
		{ "9p", true, "CONFIG_9P_FS", 0 },
		{ "virtiofs", true, "CONFIG_FUSE_FS, CONFIG_VIRTIO_FS", 1 },
	};
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(needs) / sizeof(needs[0]); i++) {
		bool present = needs[i].filesystem ? early_has_filesystem(needs[i].what)
						   : access(needs[i].what, F_OK) == 0;
		int n;

		if (present || (needs[i].virtiofs >= 0 && needs[i].virtiofs != virtiofs))
			continue;
		n = snprintf(buf + used, len - used, "%s%s", used ? ", " : "", needs[i].options);
		if (n < 0 || (size_t)n >= len - used)
			break;
		used += n;
	}
}
