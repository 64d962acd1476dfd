#!/bin/bash
# Print, on stdout, the path of a test kernel: a small kernel with everything
# vmtest's tests need built in (virtio-pci, virtio-console, 9p over virtio,
# devtmpfs, tmpfs, overlayfs, 8250 console, initramfs), no modules.  For
# x86_64 (the default) it is found or built as below; for riscv64
# (--arch=riscv64), which Debian 12 has no kernel for, it is always built
# here (step 3), with Debian's cross compiler.
#
#   1. $VMTEST_TEST_KERNEL, if it names a file;
#   2. else the prebuilt shared copy,
#      ${VMTEST_SHARED_DIR:-<checkout>/../shared}/kernels/bzImage-6.1-vmtest-x86_64;
#   3. else one built here from Debian 12's linux-source-6.1 (tinyconfig plus
#      the fragment below) and cached in
#      ${XDG_CACHE_HOME:-~/.cache}/vmtest-test-kernels/, under a name keyed
#      by the fragment and the source package version.  The build takes about
#      16 CPU-minutes; linux-source-6.1 and the build tools are installed with
#      apt-get when missing.
#
# Options:
#   --kunit         the x86_64 kernel with KUnit and a few of the kernel's
#                   own KUnit suites built in, which run as it boots (the
#                   tests of vm.results = "kunit"); always step 3, cached
#                   like the others under its own name
#   --build         skip steps 1 and 2 (a cached build is still reused;
#                   delete it from the cache to rebuild)
#   --print-config  print the config fragment applied on top of tinyconfig
#
# Progress goes to stderr; the compiler's output goes to a log file in the
# cache, whose tail is shown if the build fails.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
checkout=$(dirname "$here")

arch=x86_64
kunit=false
for a in "$@"; do
	case $a in
	--arch=*) arch=${a#--arch=} ;;
	--kunit) kunit=true ;;
	esac
done

src_pkg=linux-source-6.1
src_tarball=/usr/src/linux-source-6.1.tar.xz
src_dir=linux-source-6.1 # top directory inside the tarball

# What every test kernel has built in, whatever the architecture.
common_options=(
	PRINTK PRINTK_TIME TTY BINFMT_ELF BINFMT_SCRIPT
	PROC_FS SYSFS TMPFS TMPFS_POSIX_ACL DEVTMPFS DEVTMPFS_MOUNT
	SHMEM BLK_DEV_INITRD RD_GZIP RD_ZSTD MULTIUSER FUTEX
	EPOLL SIGNALFD TIMERFD EVENTFD POSIX_TIMERS FILE_LOCKING
	AIO ADVISE_SYSCALLS MEMBARRIER NET UNIX INET PCI
	VIRTIO_MENU VIRTIO VIRTIO_PCI VIRTIO_CONSOLE VIRTIO_BLK
	BLOCK BLK_DEV NET_9P NET_9P_VIRTIO NETWORK_FILESYSTEMS
	9P_FS 9P_FS_POSIX_ACL OVERLAY_FS HW_RANDOM HW_RANDOM_VIRTIO
	UNIX98_PTYS SMP
)
case $arch in
x86_64)
	kernel_name=bzImage-6.1-vmtest-x86_64
	# ARCH=x86, as a plain `make` on an x86_64 host, and not ARCH=x86_64:
	# with x86_64, tinyconfig's allnoconfig also turns off what 64BIT
	# brings by default (VMAP_STACK, X86_5LEVEL, SPARSEMEM_VMEMMAP,
	# vsyscall emulation...), which the shared kernel has.  Part of the
	# cache key.
	make_args=(ARCH=x86 CROSS_COMPILE=)
	target=bzImage
	built=arch/x86/boot/bzImage
	# The option list of ../shared/kernels/README.md, enabled with
	# scripts/config on top of `make tinyconfig`.  Changing it changes the
	# cache key.
	options=(
		64BIT PRINTK PRINTK_TIME EARLY_PRINTK TTY
		SERIAL_8250 SERIAL_8250_CONSOLE BINFMT_ELF BINFMT_SCRIPT
		PROC_FS SYSFS TMPFS TMPFS_POSIX_ACL DEVTMPFS DEVTMPFS_MOUNT
		SHMEM BLK_DEV_INITRD RD_GZIP RD_ZSTD MULTIUSER FUTEX
		EPOLL SIGNALFD TIMERFD EVENTFD POSIX_TIMERS FILE_LOCKING
		AIO ADVISE_SYSCALLS MEMBARRIER NET UNIX INET PCI
		VIRTIO_MENU VIRTIO VIRTIO_PCI VIRTIO_CONSOLE VIRTIO_BLK
		BLOCK BLK_DEV NET_9P NET_9P_VIRTIO NETWORK_FILESYSTEMS
		9P_FS 9P_FS_POSIX_ACL FUSE_FS VIRTIO_FS ACPI CGROUPS
		DEBUG_FS FTRACE OVERLAY_FS EXT4_FS HW_RANDOM
		HW_RANDOM_VIRTIO RTC_CLASS RTC_DRV_CMOS MODULES
		MODULE_UNLOAD IKCONFIG IKCONFIG_PROC KALLSYMS BPF_SYSCALL
		SYSVIPC POSIX_MQUEUE UNIX98_PTYS HYPERVISOR_GUEST PARAVIRT
		KVM_GUEST SMP
	)
	required=(VIRTIO_PCI VIRTIO_CONSOLE NET_9P_VIRTIO 9P_FS OVERLAY_FS DEVTMPFS
		BLK_DEV_INITRD SERIAL_8250_CONSOLE TMPFS)
	cross_pkg=
	;;
riscv64)
	# Debian 12 has no riscv64 kernel: this one is the riscv64 tests'.
	# QEMU's virt machine: OpenSBI (QEMU's own copy) for power-off through
	# SBI, a 16550 UART and PCIe (ECAM) described in the device tree.
	kernel_name=Image-6.1-vmtest-riscv64
	make_args=(ARCH=riscv CROSS_COMPILE=riscv64-linux-gnu-)
	target=Image
	built=arch/riscv/boot/Image
	options=("${common_options[@]}" ARCH_RV64I MMU FPU SOC_VIRT RISCV_SBI
		SERIAL_8250 SERIAL_8250_CONSOLE SERIAL_OF_PLATFORM SERIAL_EARLYCON
		PCI_HOST_GENERIC PCIEPORTBUS VIRTIO_MMIO POWER_RESET)
	required=(VIRTIO_PCI PCI_HOST_GENERIC VIRTIO_CONSOLE NET_9P_VIRTIO 9P_FS
		OVERLAY_FS DEVTMPFS BLK_DEV_INITRD SERIAL_8250_CONSOLE SERIAL_OF_PLATFORM
		TMPFS RISCV_SBI)
	cross_pkg=gcc-riscv64-linux-gnu
	;;
*)
	echo "test-kernel.sh: no test kernel for $arch (x86_64 or riscv64)" >&2
	exit 2
	;;
esac
# KUnit, and suites of the kernel's own that are quick under TCG: the
# example suite (passes, skips, parameters), the linked list's, the
# command line parser's and bitfield's.  Built in, they run as the kernel
# boots, before the init (6.1 has no kunit.enable to turn them off);
# RUNTIME_TESTING_MENU, which tinyconfig turns off, holds the last three.
if $kunit; then
	[ "$arch" = x86_64 ] || { echo "test-kernel.sh: --kunit: the KUnit test kernel is x86_64's" >&2; exit 2; }
	kernel_name=bzImage-6.1-vmtest-x86_64-kunit
	kunit_options=(KUNIT KUNIT_EXAMPLE_TEST RUNTIME_TESTING_MENU LIST_KUNIT_TEST
		CMDLINE_KUNIT_TEST BITFIELD_KUNIT)
	options+=("${kunit_options[@]}")
	required+=(KUNIT KUNIT_EXAMPLE_TEST LIST_KUNIT_TEST)
fi

# Build-Depends of a 6.1 kernel with this config: gcc/make/libc
# (build-essential), bc (timeconst.h), bison and flex (kconfig), libelf-dev
# (objtool), xz-utils (the tarball, and the XZ-compressed bzImage).  Not
# needed: libssl-dev (only for module signing and trusted keyrings, both
# off), cpio (only for IKHEADERS, off).
packages=("$src_pkg" build-essential bc bison flex libelf-dev xz-utils $cross_pkg)

# shellcheck source=lib.sh
. "$here/lib.sh"

print_config() { printf 'CONFIG_%s=y\n' "${options[@]}"; }

usage() {
	echo "usage: $0 [--arch=x86_64|riscv64 | --kunit] [--build | --print-config]"
}

force_build=false
for a in "$@"; do
	case $a in
	--arch=* | --kunit) ;;
	--build) force_build=true ;;
	--print-config)
		print_config
		exit 0
		;;
	-h | --help)
		usage
		exit 0
		;;
	*)
		usage >&2
		exit 2
		;;
	esac
done

if ! $force_build && [ "$arch" = x86_64 ] && ! $kunit; then
	# 1. An explicitly chosen kernel.
	if [ -n "${VMTEST_TEST_KERNEL:-}" ]; then
		if [ -f "$VMTEST_TEST_KERNEL" ]; then
			echo "$VMTEST_TEST_KERNEL"
			exit 0
		fi
		msg "VMTEST_TEST_KERNEL=$VMTEST_TEST_KERNEL is not a file; ignoring it"
	fi
	# 2. The prebuilt shared copy.
	shared=${VMTEST_SHARED_DIR:-$(dirname "$checkout")/shared}/kernels/$kernel_name
	if [ -f "$shared" ]; then
		echo "$shared"
		exit 0
	fi
fi

# 3. Built here, cached outside the checkout.
cache_dir=${XDG_CACHE_HOME:-${HOME:?HOME is not set}/.cache}/vmtest-test-kernels

# The version of linux-source-6.1 installed, else the one apt would install.
source_version() {
	local v=
	if is_installed "$src_pkg"; then
		v=$(dpkg-query -W -f='${Version}' "$src_pkg")
	else
		v=$(apt-cache policy "$src_pkg" 2>/dev/null | sed -n 's/^ *Candidate: *//p')
	fi
	case $v in '' | '(none)') v=unknown ;; esac
	echo "$v"
}

# File name in the cache: readable version plus a hash of version, recipe
# and fragment.
cache_name() {
	local version=$1 hash
	hash=$(
		{
			echo "$src_pkg $version"
			echo "make ${make_args[*]} tinyconfig"
			print_config
		} | sha256sum | cut -c1-16
	)
	echo "$kernel_name-$(echo "$version" | tr -c 'A-Za-z0-9.+\n-' _)-$hash"
}

name=$(cache_name "$(source_version)")
if [ -f "$cache_dir/$name" ]; then
	echo "$cache_dir/$name"
	exit 0
fi

[ "$arch" != x86_64 ] || [ "$(uname -m)" = x86_64 ] ||
	die "building the x86_64 test kernel needs an x86_64 host; set VMTEST_TEST_KERNEL instead"
if ! command -v dpkg-query >/dev/null || ! command -v apt-get >/dev/null; then
	die "building the test kernel needs Debian 12's $src_pkg (dpkg/apt); set VMTEST_TEST_KERNEL instead"
fi
mkdir -p "$cache_dir"
# One builder at a time; the others wait, then find its result.
lock_or_wait "$cache_dir/.lock" "another test kernel build"
install_missing "${packages[@]}"

# Now the source is installed: key by its actual version, and look again
# (another caller may have built it while we waited for the lock).
name=$(cache_name "$(source_version)")
kernel=$cache_dir/$name
if [ -f "$kernel" ]; then
	echo "$kernel"
	exit 0
fi
[ -f "$src_tarball" ] || die "$src_tarball is missing after installing $src_pkg"

build_dir=
tmp_files=()
cleanup() {
	[ ${#tmp_files[@]} -eq 0 ] || rm -f "${tmp_files[@]}"
	[ -z "$build_dir" ] || rm -rf "$build_dir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

build_dir=$(mktemp -d "$cache_dir/build.XXXXXX")
log=$cache_dir/$name.build.log
: >"$log"
src=$build_dir/$src_dir
# Make the result depend on the sources and the fragment only.
unset KBUILD_OUTPUT KCONFIG_CONFIG
export KBUILD_BUILD_USER=vmtest KBUILD_BUILD_HOST=vmtest
kmake() { make -C "$src" "${make_args[@]}" "$@" >>"$log" 2>&1; }

fail() {
	msg "error: $*; last lines of $log:"
	tail -n 30 "$log" >&2
	exit 1
}

msg "building $name (about 16 CPU-minutes; log: $log)"
msg "unpacking $src_tarball"
tar -xf "$src_tarball" -C "$build_dir"
[ -d "$src" ] || die "$src_tarball has no $src_dir/ directory"

msg "configuring: tinyconfig + $(print_config | wc -l) options"
kmake tinyconfig || fail "make tinyconfig failed"
config_args=()
for o in "${options[@]}"; do
	config_args+=(-e "$o")
done
"$src/scripts/config" --file "$src/.config" "${config_args[@]}" >>"$log" 2>&1 ||
	fail "scripts/config failed"
kmake olddefconfig || fail "make olddefconfig failed"

not_set=()
for o in "${required[@]}"; do
	grep -qx "CONFIG_$o=y" "$src/.config" || not_set+=("$o")
done
[ ${#not_set[@]} -eq 0 ] ||
	die "not built in after make olddefconfig: ${not_set[*]} (check the dependencies of the option list)"
dropped=()
for o in "${options[@]}"; do
	grep -qx "CONFIG_$o=y" "$src/.config" || dropped+=("$o")
done
[ ${#dropped[@]} -eq 0 ] ||
	msg "warning: options not =y after make olddefconfig: ${dropped[*]}"

jobs=$(nproc 2>/dev/null || echo 2)
msg "compiling $target with make -j$jobs"
kmake -j"$jobs" "$target" || fail "make $target failed"
[ -s "$src/$built" ] || fail "make $target produced no $built"

# The kernel's presence is what makes a cache hit, so it is moved in last,
# and both are moved in whole.
tmp_config=$(mktemp "$cache_dir/.$name.config.XXXXXX")
tmp_kernel=$(mktemp "$cache_dir/.$name.XXXXXX")
tmp_files+=("$tmp_config" "$tmp_kernel")
cp "$src/.config" "$tmp_config"
cp "$src/$built" "$tmp_kernel"
chmod 644 "$tmp_config" "$tmp_kernel"
mv -f "$tmp_config" "$kernel.config"
mv -f "$tmp_kernel" "$kernel"
tmp_files=()

msg "removing the build tree"
rm -rf "$build_dir"
build_dir=
msg "built $kernel in $((SECONDS / 60))m$((SECONDS % 60))s"
echo "$kernel"
