#!/bin/bash
# A kernel and a small root filesystem of another architecture, for the
# foreign-architecture tests, made from Debian's packages without root:
# Debian's kernel for ARCH (its Image and /lib/modules, indexed with the
# host's depmod) and busybox-static for ARCH, unpacked with dpkg-deb into a
# directory.  Prints two lines: the
# kernel's path, then the rootfs's.  Cached under
# ${XDG_CACHE_HOME:-~/.cache}/vmtest-foreign/, keyed by the packages.
#
#   scripts/test-rootfs.sh arm64|s390x
#
# The busybox applets get links named after the host busybox's list (the
# same Debian version), since the foreign binary cannot run here.
set -euo pipefail

[ $# -eq 1 ] || {
	echo "usage: $0 arm64|s390x" >&2
	exit 2
}
debarch=$1
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${XDG_CACHE_HOME:-$HOME/.cache}/vmtest-foreign

mapfile -t debs < <("$here/foreign-debs.sh" "$debarch" "linux-image-$debarch" busybox-static)
kernel_deb=${debs[1]}
busybox_deb=${debs[2]}
key=$(basename "$kernel_deb" .deb)-$(basename "$busybox_deb" .deb | tr -c 'A-Za-z0-9._+\n-' _)
root=$cache/rootfs-$debarch-$key

if [ ! -e "$root/.done" ]; then
	if ! command -v busybox >/dev/null; then
		echo "test-rootfs.sh: needs the host's busybox for its applet list (busybox-static)" >&2
		exit 1
	fi
	echo "test-rootfs.sh: making $root" >&2
	rm -rf "$root" "$root.tmp"
	mkdir -p "$root.tmp"
	dpkg-deb -x "$kernel_deb" "$root.tmp"
	dpkg-deb -x "$busybox_deb" "$root.tmp"
	mkdir -p "$root.tmp"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,run,tmp,mnt,root}
	for applet in $(busybox --list-full); do
		[ -e "$root.tmp/$applet" ] || [ -L "$root.tmp/$applet" ] ||
			ln -s /bin/busybox "$root.tmp/$applet"
	done
	# The package's postinst would run depmod; kmod's reads any architecture.
	for rel in "$root.tmp"/lib/modules/*; do
		/sbin/depmod -b "$root.tmp" "${rel##*/}"
	done
	echo "root:x:0:0:root:/root:/bin/sh" >"$root.tmp/etc/passwd"
	echo "root:x:0:" >"$root.tmp/etc/group"
	mv "$root.tmp" "$root"
	touch "$root/.done"
fi
kernel=$(ls "$root"/boot/vmlinu[xz]-* | head -n 1)
echo "$kernel"
echo "$root"
