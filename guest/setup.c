// SPDX-License-Identifier: MIT
#include "setup.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>
#include <linux/fs.h>
#include <linux/random.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "early.h"
#include "guest_proto.h"
#include "log.h"

#define SETUP_LOWER "/vmtest/lower"
#define SETUP_OVERLAY "/vmtest/overlay"
#define SETUP_NEWROOT "/vmtest/newroot"
#define SETUP_USR_IMAGE "/vmtest/usr-image"

__attribute__((format(printf, 3, 4)))
static int setup_fail(char *err, size_t err_len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, err_len, fmt, ap);
	va_end(ap);
	log_msg("%s", err);
	return -1;
}

int setup_mkdir_p(const char *path, unsigned mode)
{
	char buf[4096];
	size_t len = strlen(path);

	if (len >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/*
 * Ask the kernel to look for PCI devices it has not seen: a guest restored
 * from a snapshot gets its virtiofs devices only then (QEMU 7.2 cannot
 * save them), and a rescan needs no hotplug support in the kernel.
 */
static void setup_pci_rescan(void)
{
	int fd = open("/sys/bus/pci/rescan", O_WRONLY | O_CLOEXEC);

	if (fd < 0 || write(fd, "1", 1) != 1)
		log_msg("rescan PCI: %s", strerror(errno));
	if (fd >= 0)
		close(fd);
}

/* One export, over 9p or virtiofs (whose cache mode the host's daemon sets). */
static int setup_mount_share(const struct setup_request *req, const char *tag, const char *target,
			     bool writable)
{
	static bool rescanned;
	char options[256];
	unsigned msize = req->msize;

	if (req->virtiofs) {
		unsigned long flags = writable ? 0 : MS_RDONLY;

		if (mount(tag, target, "virtiofs", flags, NULL) == 0)
			return 0;
		/* An unknown tag: its device may be one the kernel has not found yet. */
		if (errno != EINVAL || rescanned)
			return -errno;
		rescanned = true;
		setup_pci_rescan();
		return mount(tag, target, "virtiofs", flags, NULL) < 0 ? -errno : 0;
	}

	/* cache=loose for the read-only root (fast, nothing changes under it);
	 * cache=mmap for shares the guest writes, so shared writable mmap works
	 * and the host sees writes at once. */
	snprintf(options, sizeof(options), "trans=virtio,version=9p2000.L,msize=%u,cache=%s", msize,
		 writable ? "mmap" : "loose");
	return mount(tag, target, "9p", writable ? 0 : MS_RDONLY, options) < 0 ? -errno : 0;
}

static int setup_root(struct setup_request *req, char *err, size_t err_len, bool *ret_overlay)
{
	int r;

	setup_mkdir_p(SETUP_LOWER, 0755);
	setup_mkdir_p(SETUP_NEWROOT, 0755);
	if (req->virtiofs_or_9p)
		req->virtiofs = early_has_filesystem("virtiofs");
	r = setup_mount_share(req, GUEST_TAG_ROOT, SETUP_LOWER, false);
	if (r < 0 && req->virtiofs_or_9p && req->virtiofs) {
		log_msg("mount the root over virtiofs: %s; over 9p instead", strerror(-r));
		req->virtiofs = false;
		r = setup_mount_share(req, GUEST_TAG_ROOT, SETUP_LOWER, false);
	}
	if (r < 0) {
		char missing[256];

		early_missing_options(missing, sizeof(missing), req->virtiofs);
		return setup_fail(err, err_len, "mount the root filesystem over %s: %s%s%s%s",
				  req->virtiofs ? "virtiofs" : "9p",
				  strerror(-r), *missing ? " (the kernel lacks " : "", missing,
				  *missing ? "; enable them, built in or as modules)" : "");
	}
	*ret_overlay = false;
	setup_mkdir_p(SETUP_OVERLAY, 0755);
	if (mount("tmpfs", SETUP_OVERLAY, "tmpfs", 0, "mode=0755") == 0 &&
	    mkdir(SETUP_OVERLAY "/upper", 0755) == 0 && mkdir(SETUP_OVERLAY "/work", 0755) == 0 &&
	    mount("overlay", SETUP_NEWROOT, "overlay", 0,
		  "lowerdir=" SETUP_LOWER ",upperdir=" SETUP_OVERLAY "/upper,workdir=" SETUP_OVERLAY
		  "/work") == 0) {
		*ret_overlay = true;
		return 0;
	}
	log_msg("no overlay (%s): the root stays read-only", strerror(errno));
	if (mount(SETUP_LOWER, SETUP_NEWROOT, NULL, MS_BIND, NULL) < 0)
		return setup_fail(err, err_len, "bind the root filesystem: %s", strerror(errno));
	return 0;
}

/* /dev/NAME of the disk whose serial is serial: 0, or -ENODEV. */
static int setup_find_disk(const char *serial, char *dev, size_t len)
{
	DIR *dir = opendir("/sys/block");
	struct dirent *de;
	int r = -ENODEV;

	while (dir && r < 0 && (de = readdir(dir))) {
		char path[300], got[128] = "";
		FILE *f;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/sys/block/%s/serial", de->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		if (fgets(got, sizeof(got), f))
			got[strcspn(got, "\n")] = '\0';
		fclose(f);
		if (strcmp(got, serial) == 0 && strlen(de->d_name) + 6 <= len) {
			memcpy(dev, "/dev/", 5);
			memcpy(dev + 5, de->d_name, strlen(de->d_name) + 1);
			r = 0;
		}
	}
	if (dir)
		closedir(dir);
	return r;
}

/*
 * vmtest's image of /usr (EROFS, on a disk the host serves) over the
 * root's /usr, which stays beneath it for what the image leaves out: the
 * image's directories that hold everything are opaque to overlayfs, so
 * lookups stop there.  Its own tmpfs upper layer keeps writes throw-away.
 * Any failure leaves the root's /usr as it was, and says why.
 */
static void setup_usr_image(struct setup_request *req)
{
	char dev[64];
	int fd;

	if (setup_find_disk(req->usr_image_serial, dev, sizeof(dev)) < 0) {
		snprintf(req->usr_image_error, sizeof(req->usr_image_error),
			 "no disk with serial %s (the kernel lacks CONFIG_VIRTIO_BLK?)",
			 req->usr_image_serial);
		return;
	}
	/* A guest restored from a snapshot may hold the blocks of the image
	 * an earlier run served: drop them before the mount reads any. */
	fd = open(dev, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || ioctl(fd, BLKFLSBUF, 0) < 0) {
		snprintf(req->usr_image_error, sizeof(req->usr_image_error), "%s: %s", dev,
			 strerror(errno));
		if (fd >= 0)
			close(fd);
		return;
	}
	close(fd);
	setup_mkdir_p(SETUP_USR_IMAGE, 0755);
	if (mount(dev, SETUP_USR_IMAGE, "erofs", MS_RDONLY, NULL) < 0) {
		snprintf(req->usr_image_error, sizeof(req->usr_image_error), "mount %s (EROFS): %s%s",
			 dev, strerror(errno),
			 errno == ENODEV ? " (the kernel lacks CONFIG_EROFS_FS)" : "");
		return;
	}
	if ((mkdir(SETUP_OVERLAY "/usr-upper", 0755) < 0 && errno != EEXIST) ||
	    (mkdir(SETUP_OVERLAY "/usr-work", 0755) < 0 && errno != EEXIST) ||
	    mount("overlay", SETUP_NEWROOT "/usr", "overlay", 0,
		  "lowerdir=" SETUP_USR_IMAGE ":" SETUP_LOWER "/usr,upperdir=" SETUP_OVERLAY
		  "/usr-upper,workdir=" SETUP_OVERLAY "/usr-work") < 0) {
		snprintf(req->usr_image_error, sizeof(req->usr_image_error),
			 "overlay the image over /usr: %s", strerror(errno));
		umount(SETUP_USR_IMAGE);
		return;
	}
	req->usr_image_used = true;
}

/* The switch_root sequence: move the API mounts, move the new root onto /,
 * chroot into it.  The initramfs stays in memory, unreachable. */
static int setup_switch_root(char *err, size_t err_len)
{
	static const char *const moved[] = { "/dev", "/proc", "/sys" };

	for (size_t i = 0; i < sizeof(moved) / sizeof(moved[0]); i++) {
		char target[64];

		snprintf(target, sizeof(target), SETUP_NEWROOT "%s", moved[i]);
		mkdir(target, 0755);
		if (mount(moved[i], target, NULL, MS_MOVE, NULL) < 0)
			return setup_fail(err, err_len, "move %s into the new root: %s", moved[i],
					  strerror(errno));
	}
	if (chdir(SETUP_NEWROOT) < 0 || mount(".", "/", NULL, MS_MOVE, NULL) < 0 ||
	    chroot(".") < 0 || chdir("/") < 0)
		return setup_fail(err, err_len, "switch to the new root: %s", strerror(errno));
	return 0;
}

/*
 * /run and /tmp, fresh in the new root, and the /dev links programs expect.
 * The API filesystems under /dev and /sys were mounted in the initramfs
 * (early_mount_api) and came along when those moved.
 */
static void setup_run_and_tmp(void)
{
	static const char *const links[][2] = {
		{ "/proc/self/fd", "/dev/fd" },
		{ "/proc/self/fd/0", "/dev/stdin" },
		{ "/proc/self/fd/1", "/dev/stdout" },
		{ "/proc/self/fd/2", "/dev/stderr" },
	};

	mkdir("/run", 0755);
	if (mount("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") < 0)
		log_msg("mount tmpfs on /run: %s (skipped)", strerror(errno));
	mkdir("/tmp", 01777);
	if (mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") < 0)
		log_msg("mount tmpfs on /tmp: %s (skipped)", strerror(errno));
	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++)
		if (symlink(links[i][0], links[i][1]) < 0 && errno != EEXIST)
			log_msg("symlink %s: %s", links[i][1], strerror(errno));
}

/* /mnt/vmtest once over 9p, then bound at the host's own path, so that
 * absolute paths the user's scripts compute on the host work too. */
static int setup_shared(const struct setup_request *req, char *err, size_t err_len)
{
	int r = setup_mkdir_p(GUEST_SHARED_PATH, 0755);

	if (r < 0)
		return setup_fail(err, err_len, "create %s: %s", GUEST_SHARED_PATH, strerror(-r));
	r = setup_mount_share(req, GUEST_TAG_SHARED, GUEST_SHARED_PATH, true);
	if (r < 0)
		return setup_fail(err, err_len, "mount the shared directory on %s: %s",
				  GUEST_SHARED_PATH, strerror(-r));
	if (!req->shared_host_path || strcmp(req->shared_host_path, GUEST_SHARED_PATH) == 0)
		return 0;
	r = setup_mkdir_p(req->shared_host_path, 0755);
	if (r < 0 || mount(GUEST_SHARED_PATH, req->shared_host_path, NULL, MS_BIND, NULL) < 0)
		log_msg("bind %s at %s: %s (skipped)", GUEST_SHARED_PATH, req->shared_host_path,
			strerror(r < 0 ? -r : errno));
	return 0;
}

static int setup_user_mounts(const struct setup_request *req, char *err, size_t err_len)
{
	for (size_t i = 0; i < req->n_mounts; i++) {
		const struct setup_mount *m = &req->mounts[i];
		int r = setup_mkdir_p(m->path, 0755);

		if (r == 0)
			r = setup_mount_share(req, m->tag, m->path, m->writable);
		if (r < 0)
			return setup_fail(err, err_len, "mount vm.mounts '%s': %s", m->path,
					  strerror(-r));
	}
	return 0;
}

/*
 * The host's time, and its randomness credited to the kernel's pool with a
 * reseed of the CRNG: a guest restored from a snapshot wakes at the
 * snapshot's time with the snapshot's random state, like every other
 * restore of it.
 */
static void setup_clock_and_entropy(const struct setup_request *req)
{
	if (req->realtime_ns > 0) {
		struct timespec ts = { .tv_sec = req->realtime_ns / 1000000000,
				       .tv_nsec = req->realtime_ns % 1000000000 };

		if (clock_settime(CLOCK_REALTIME, &ts) < 0)
			log_msg("set the clock: %s", strerror(errno));
	}
	if (req->entropy_len) {
		/* The pool's bytes follow its header (a flexible array). */
		union {
			struct rand_pool_info info;
			unsigned char bytes[sizeof(struct rand_pool_info) + 256];
		} pool;
		size_t room = sizeof(pool) - sizeof(struct rand_pool_info);
		size_t n = req->entropy_len < room ? req->entropy_len : room;
		int fd = open("/dev/urandom", O_RDWR | O_CLOEXEC);

		pool.info.entropy_count = (int)(n * 8);
		pool.info.buf_size = (int)n;
		memcpy(pool.bytes + sizeof(struct rand_pool_info), req->entropy, n);
		if (fd < 0 || ioctl(fd, RNDADDENTROPY, &pool.info) < 0 ||
		    ioctl(fd, RNDRESEEDCRNG) < 0)
			log_msg("reseed the random number generator: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
	}
}

/*
 * The guest's NIC: the first interface backed by a device (eth0 with
 * virtio-net); lo and the kernel's tunnels (sit0, tunl0...) have none.
 */
static int setup_find_nic(char *name, size_t len)
{
	DIR *dir = opendir("/sys/class/net");
	struct dirent *de;
	int r = -ENODEV;

	while (dir && (de = readdir(dir))) {
		char device[300];

		snprintf(device, sizeof(device), "/sys/class/net/%s/device", de->d_name);
		if (de->d_name[0] == '.' || strlen(de->d_name) >= len || access(device, F_OK) < 0)
			continue;
		/* readdir's order is not the kernel's: take the smallest name. */
		if (r < 0 || strcmp(de->d_name, name) < 0)
			memcpy(name, de->d_name, strlen(de->d_name) + 1);
		r = 0;
	}
	if (dir)
		closedir(dir);
	return r;
}

static void setup_sockaddr(struct sockaddr *sa, const char *dotted)
{
	struct sockaddr_in *in = (struct sockaddr_in *)(void *)sa;

	memset(in, 0, sizeof(*in));
	in->sin_family = AF_INET;
	inet_pton(AF_INET, dotted, &in->sin_addr);
}

/*
 * QEMU's user-mode network, as QEMU's DHCP server would set it up, without
 * a DHCP client: 10.0.2.15/24, the gateway (the host) 10.0.2.2, DNS at
 * 10.0.2.3, written to /etc/resolv.conf in the overlay (a symlink into
 * /run, as systemd-resolved makes it, is replaced; the host's is untouched).
 */
static int setup_network(char *err, size_t err_len)
{
	struct ifreq ifr = { 0 };
	struct rtentry route = { 0 };
	char nic[IFNAMSIZ];
	int fd, r = 0;
	FILE *f;

	if (setup_find_nic(nic, sizeof(nic)) < 0)
		return setup_fail(err, err_len, "the guest has no network interface (the kernel "
				  "lacks CONFIG_VIRTIO_NET?)");
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return setup_fail(err, err_len, "network: socket: %s", strerror(errno));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", nic);
	setup_sockaddr(&ifr.ifr_addr, "10.0.2.15");
	if (ioctl(fd, SIOCSIFADDR, &ifr) < 0)
		r = setup_fail(err, err_len, "network: set %s's address: %s", nic, strerror(errno));
	setup_sockaddr(&ifr.ifr_netmask, "255.255.255.0");
	if (r == 0 && ioctl(fd, SIOCSIFNETMASK, &ifr) < 0)
		r = setup_fail(err, err_len, "network: set %s's netmask: %s", nic, strerror(errno));
	if (r == 0 && ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
		r = setup_fail(err, err_len, "network: %s's flags: %s", nic, strerror(errno));
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
	if (r == 0 && ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
		r = setup_fail(err, err_len, "network: bring %s up: %s", nic, strerror(errno));
	setup_sockaddr(&route.rt_dst, "0.0.0.0");
	setup_sockaddr(&route.rt_genmask, "0.0.0.0");
	setup_sockaddr(&route.rt_gateway, "10.0.2.2");
	route.rt_flags = RTF_UP | RTF_GATEWAY;
	route.rt_dev = nic;
	if (r == 0 && ioctl(fd, SIOCADDRT, &route) < 0 && errno != EEXIST)
		r = setup_fail(err, err_len, "network: the default route: %s", strerror(errno));
	close(fd);
	if (r < 0)
		return r;
	if (unlink("/etc/resolv.conf") < 0 && errno != ENOENT)
		log_msg("network: replace /etc/resolv.conf: %s", strerror(errno));
	f = fopen("/etc/resolv.conf", "we");
	if (!f || fputs("nameserver 10.0.2.3\n", f) < 0 || fclose(f) != 0)
		log_msg("network: write /etc/resolv.conf: %s", strerror(errno));
	return 0;
}

int setup_run(struct setup_request *req, char *err, size_t err_len)
{
	bool overlay;

	setup_clock_and_entropy(req);

	if (setup_root(req, err, err_len, &overlay) < 0)
		return -1;
	if (req->usr_image_serial && overlay)
		setup_usr_image(req);
	else if (req->usr_image_serial)
		snprintf(req->usr_image_error, sizeof(req->usr_image_error),
			 "the root has no overlay to stack the image in");
	if (setup_switch_root(err, err_len) < 0)
		return -1;
	setup_run_and_tmp();
	if (req->network && setup_network(err, err_len) < 0)
		return -1;
	if (req->has_shared && setup_shared(req, err, err_len) < 0)
		return -1;
	return setup_user_mounts(req, err, err_len);
}
