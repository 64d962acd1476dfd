#!/bin/bash
# Install, from Debian's archive, what vmtest needs to build and run
# ("run"), also to build and run guests of other architectures ("foreign":
# the cross compilers of their guest inits and their QEMUs), or also to
# test ("test", which includes "foreign").  Idempotent and quick when everything
# is already there: apt-get runs only for packages that are missing.
set -euo pipefail

what=${1:-run}

build_packages=(gcc make meson ninja-build pkg-config
	libjansson-dev libpcre2-dev liblzma-dev libzstd-dev zlib1g-dev)
run_packages=(qemu-system-x86 qemu-utils ovmf)
# Each foreign init's cross compiler and C library (base/arch.c names
# them), dpkg-dev to unpack riscv64's jansson from source, and the QEMUs
# that run those guests.
foreign_packages=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross gcc-s390x-linux-gnu
	libc6-dev-s390x-cross gcc-riscv64-linux-gnu libc6-dev-riscv64-cross dpkg-dev
	qemu-system-arm qemu-system-misc)
# Everything the tests and their fixtures use, so that one configuration of
# the build sees it all: procps (pgrep), strace, dpkg-dev (apt-get source for
# the riscv64 init's jansson), and what scripts/test-kernel.sh's kernel
# builds need.
test_packages=(libcmocka-dev python3 python3-pytest python3-pytest-xdist python3-yaml clang libclang-rt-14-dev
	linux-image-amd64 tmux qemu-guest-agent cpio python3-pexpect golang-github-burntsushi-toml-dev
	busybox-static grub-pc-bin grub-efi-amd64-bin mtools dosfstools fdisk
	"${foreign_packages[@]}" kmod valgrind strace procps
	linux-source-6.1 build-essential bc bison flex libelf-dev xz-utils
	linux-headers-amd64 gdb python3-drgn erofs-utils golang-go)

packages=("${build_packages[@]}" "${run_packages[@]}")
case "$what" in
run)
	# A kernel for the demo, only when the host has none in /boot.
	if ! compgen -G '/boot/vmlinuz-*' >/dev/null; then
		packages+=(linux-image-amd64)
	fi
	;;
foreign) packages+=("${foreign_packages[@]}") ;;
test) packages+=("${test_packages[@]}") ;;
*)
	echo "usage: $0 run|foreign|test" >&2
	exit 2
	;;
esac

missing=()
for p in "${packages[@]}"; do
	status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$status" = installed ] || missing+=("$p")
done

sudo=
[ "$(id -u)" = 0 ] || sudo=sudo
if [ ${#missing[@]} -gt 0 ]; then
	echo "Installing with apt-get: ${missing[*]}"
	$sudo apt-get update -q
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# The kernel-warning tests build a module for the newest kernel in /boot:
# its headers must be that release's.  A machine whose linux-image-amd64
# is older than the archive's gets the headers of its own release or, when
# the archive no longer has them, both brought up to date.
if [ "$what" = test ]; then
	release=$(ls /boot/vmlinuz-* 2>/dev/null | sed 's|^/boot/vmlinuz-||' | sort -V | tail -n 1)
	if [ -n "$release" ] && [ ! -d "/lib/modules/$release/build" ]; then
		echo "Installing the headers of the kernel $release"
		$sudo apt-get update -q
		DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends \
			"linux-headers-$release" ||
			DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q \
				--no-install-recommends linux-image-amd64 linux-headers-amd64
	fi
fi
