#!/bin/bash
# A kernel and a small root filesystem of another architecture, for the
# foreign-architecture tests, made from Debian's packages without root:
# Debian's kernel for ARCH (its Image and /lib/modules, indexed with the
# host's depmod) and busybox-static for ARCH, unpacked with dpkg-deb into a
# directory.  Prints two lines: the
# kernel's path, then the rootfs's.  Cached under
# ${XDG_CACHE_HOME:-~/.cache}/vmtest-foreign/, keyed by the packages.
#
#   scripts/test-rootfs.sh [--no-depmod] arm64|s390x|riscv64|amd64
#
# --no-depmod leaves the tree as dpkg-deb -x unpacks it: the kernel
# package's modules.order, modules.builtin and modules.builtin.modinfo, but
# no modules.dep, because that is written by depmod in the package's
# postinst.  vmtest must boot such a tree too (tests/functional/
# test_unpacked_kernel.py); amd64 is there for that test.
#
# The busybox applets get links named after the host busybox's list (the
# same Debian version), since the foreign binary cannot run here.
#
# Debian 12 has no riscv64 packages.  For riscv64 the kernel is the small
# one scripts/test-kernel.sh --arch=riscv64 cross-builds from linux-source-6.1
# (everything built in, no modules), and busybox is cross-built, static and
# with a handful of applets (a shell and what the tests run), from Debian's
# busybox source (scripts/foreign-debs.sh --source).
set -euo pipefail

depmod=yes
if [ "${1:-}" = --no-depmod ]; then
	depmod=no
	shift
fi
[ $# -eq 1 ] || {
	echo "usage: $0 [--no-depmod] arm64|s390x|riscv64|amd64" >&2
	exit 2
}
debarch=$1
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${XDG_CACHE_HOME:-$HOME/.cache}/vmtest-foreign

if [ "$debarch" = riscv64 ]; then
	kernel=$("$here/test-kernel.sh" --arch=riscv64)
	bsrc=$("$here/foreign-debs.sh" --source busybox)
	applets=(ash sh cat echo uname sleep ls mkdir env true false test printf id rm)
	root=$cache/rootfs-riscv64-$(basename "$bsrc")-$(echo "${applets[*]}" | sha256sum | cut -c1-12)
	if [ ! -e "$root/.done" ]; then
		command -v riscv64-linux-gnu-gcc >/dev/null || {
			echo "test-rootfs.sh: riscv64-linux-gnu-gcc is missing (apt-get install gcc-riscv64-linux-gnu)" >&2
			exit 1
		}
		echo "test-rootfs.sh: cross-building busybox for riscv64 into $root" >&2
		rm -rf "$root" "$root.tmp" "$root.build"
		mkdir -p "$root.build" "$root.tmp"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,run,tmp,mnt,root}
		bmake() { make -C "$bsrc" O="$root.build" CROSS_COMPILE=riscv64-linux-gnu- "$@" >>"$root.build/log" 2>&1; }
		bmake allnoconfig
		# Turn on what the tests need; oldconfig settles the rest (each
		# new question answered with its default).
		on=(STATIC LONG_OPTS SH_IS_ASH ASH ASH_OPTIMIZE_FOR_SIZE ASH_ECHO ASH_PRINTF
			ASH_TEST ASH_GETOPTS FEATURE_SH_MATH CAT ECHO UNAME SLEEP LS MKDIR ENV
			TRUE FALSE TEST PRINTF ID RM)
		for o in "${on[@]}"; do
			sed -i -e "s/^# CONFIG_$o is not set\$/CONFIG_$o=y/" "$root.build/.config"
			grep -qx "CONFIG_$o=y" "$root.build/.config" || echo "CONFIG_$o=y" >>"$root.build/.config"
		done
		bmake oldconfig < <(yes "") || {
			tail -n 20 "$root.build/log" >&2
			exit 1
		}
		bmake -j"$(nproc)" busybox || {
			tail -n 30 "$root.build/log" >&2
			exit 1
		}
		cp "$root.build/busybox" "$root.tmp/bin/busybox"
		for a in "${applets[@]}"; do
			ln -s busybox "$root.tmp/bin/$a"
		done
		echo "root:x:0:0:root:/root:/bin/sh" >"$root.tmp/etc/passwd"
		echo "root:x:0:" >"$root.tmp/etc/group"
		rm -rf "$root.build"
		mv "$root.tmp" "$root"
		touch "$root/.done"
	fi
	echo "$kernel"
	echo "$root"
	exit 0
fi

mapfile -t debs < <("$here/foreign-debs.sh" "$debarch" "linux-image-$debarch" busybox-static)
kernel_deb=${debs[1]}
busybox_deb=${debs[2]}
key=$(basename "$kernel_deb" .deb)-$(basename "$busybox_deb" .deb | tr -c 'A-Za-z0-9._+\n-' _)
root=$cache/rootfs-$debarch-$key
[ $depmod = yes ] || root=$root-nodepmod

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
	if [ $depmod = yes ]; then
		for rel in "$root.tmp"/lib/modules/*; do
			/sbin/depmod -b "$root.tmp" "${rel##*/}"
		done
	fi
	echo "root:x:0:0:root:/root:/bin/sh" >"$root.tmp/etc/passwd"
	echo "root:x:0:" >"$root.tmp/etc/group"
	mv "$root.tmp" "$root"
	touch "$root/.done"
fi
kernel=$(ls "$root"/boot/vmlinu[xz]-* | head -n 1)
echo "$kernel"
echo "$root"
