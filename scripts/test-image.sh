#!/bin/bash
# Print, on stdout, the path of a small bootable disk image for vmtest's
# image-target tests, built here from Debian packages when it is not cached.
#
#   scripts/test-image.sh bios|uefi|noagent|locked|bare [--format qcow2|raw]
#   scripts/test-image.sh --reserved-offset
#
# Variants:
#   bios     MBR partition table, GRUB for BIOS (boot.img in the MBR, core.img
#            in the gap before the first partition); no EFI loader, so it
#            does not boot under OVMF.
#   uefi     GPT with an EFI system partition holding \EFI\BOOT\BOOTX64.EFI
#            (GRUB for x86_64-efi); no BIOS boot code (the protective MBR's
#            code area is zero), so it does not boot under SeaBIOS.
#   noagent  the bios image without qemu-ga: it boots and idles, and never
#            answers on the guest agent port.
#   locked   the bios image with qemu-ga started as RHEL and Fedora ship it:
#            --block-rpcs=guest-exec,guest-exec-status.
#   bare     the bios image without /sbin/shutdown, like many busybox
#            images: qemu-ga's guest-shutdown fails there.
#
# What the guest runs: GRUB boots Debian's kernel (the one linux-image-amd64
# depends on) with console=ttyS0 quiet panic=-1 and an initramfs whose /init
# is a busybox sh script.  It mounts /proc, /sys, /dev (devtmpfs), /run and
# /tmp, loads virtio_pci, virtio_console, virtio_blk, virtio_rng,
# 9pnet_virtio, 9p and virtio_net (with their modules.dep dependencies, in
# order; virtio_net for the network tests, which set its address themselves) with
# insmod, waits up to 5 s for the virtio-serial port named
# org.qemu.guest_agent.0 and runs qemu-ga on it in the foreground; it powers
# off when that port never appears or qemu-ga exits.  Every busybox applet is
# installed (/bin/sh, mount, dd, sync, poweroff...), /mnt/vmtest exists, and
# /sbin/shutdown is a script that runs `poweroff -f` (or `reboot -f` for -r,
# `halt -f` for -H), so qemu-ga's guest-shutdown powers the VM off itself.
#
# Disk layout, the same for every variant (32 MiB disk):
#   [0, 1 MiB)       MBR or GPT; for bios, GRUB's core.img from sector 1
#   [1 MiB, 30 MiB)  partition 1, FAT: /boot/vmlinuz, /boot/initrd.img,
#                    /boot/grub/grub.cfg (and /EFI/BOOT/BOOTX64.EFI for uefi)
#   [30 MiB, 31 MiB) reserved: outside every partition, all zeros, free for
#                    tests to overwrite (--reserved-offset prints its offset)
#   [31 MiB, 32 MiB) free (the backup GPT for uefi)
#
# Images are cached in ${XDG_CACHE_HOME:-~/.cache}/vmtest-test-images/ under
# names keyed by a hash of this script, the versions of the Debian packages
# used and the contents of the libraries qemu-ga loads.  A build makes both
# formats of its variant, takes a few seconds and needs no root: no mounts,
# no loop devices, only user-space tools (sfdisk, mkfs.vfat, mtools,
# grub-mkimage, cpio, qemu-img).  Missing packages are installed with
# apt-get (through sudo when not root).  Progress goes to stderr.
#
# The cached files are shared by every caller: boot them with snapshot=on or
# an overlay, or copy them, never write to them.
set -euo pipefail

self=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")

MiB=1048576
disk_size=$((32 * MiB))
part_start=$((1 * MiB))
part_size=$((29 * MiB))
reserved_offset=$((30 * MiB))
reserved_size=$((1 * MiB))
# The reserved region lies after the partition and before the backup GPT.
if ((part_start + part_size > reserved_offset ||
	reserved_offset + reserved_size > disk_size - 33 * 512)); then
	echo "test-image.sh: bad disk layout" >&2
	exit 1
fi

# Fixed identifiers, so that two builds of the same inputs are identical.
disk_id=0x766d7465
disk_guid=766D7465-7374-4000-8000-000000000001
part_guid=766D7465-7374-4000-8000-000000000002
fat_id=766d7465
esp_type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B
# The time stamp of every file in the images (mtools reads it from the
# environment for the directories it creates): 2000-01-01 00:00 UTC.
export SOURCE_DATE_EPOCH=946684800

# Debian packages the build uses; their versions are part of the cache key,
# with the kernel's own package (what linux-image-amd64 depends on).
packages=(linux-image-amd64 busybox-static qemu-guest-agent grub-pc-bin
	grub-efi-amd64-bin grub-common mtools dosfstools fdisk qemu-utils cpio gzip)
modules=(virtio_pci virtio_console virtio_blk virtio_rng 9pnet_virtio 9p virtio_net)
grub_modules_bios=(biosdisk part_msdos part_gpt fat normal linux configfile
	search echo serial terminal)
grub_modules_efi=(part_msdos part_gpt fat normal linux configfile search echo)
qemu_ga=/usr/sbin/qemu-ga

# shellcheck source=lib.sh
. "$(dirname "$self")/lib.sh"

usage() {
	echo "usage: $0 bios|uefi|noagent|locked|bare [--format qcow2|raw]"
	echo "       $0 --reserved-offset"
}

variant=
format=qcow2
print_reserved=false
while [ $# -gt 0 ]; do
	case $1 in
	bios | uefi | noagent | locked | bare) variant=$1 ;;
	--format)
		[ $# -ge 2 ] || {
			usage >&2
			exit 2
		}
		format=$2
		shift
		;;
	--format=*) format=${1#--format=} ;;
	--reserved-offset) print_reserved=true ;;
	-h | --help)
		usage
		exit 0
		;;
	*)
		usage >&2
		exit 2
		;;
	esac
	shift
done
case $format in
qcow2 | raw) ;;
*)
	usage >&2
	exit 2
	;;
esac
if $print_reserved; then
	echo "$reserved_offset"
	exit 0
fi
[ -n "$variant" ] || {
	usage >&2
	exit 2
}

# --- Packages ---------------------------------------------------------------

if ! command -v dpkg-query >/dev/null || ! command -v apt-get >/dev/null; then
	die "building the test images needs Debian 12 (dpkg, apt-get)"
fi

install_missing "${packages[@]}"

# The kernel package linux-image-amd64 points to, e.g. linux-image-6.1.0-56-amd64.
kernel_pkg=$(dpkg-query -W -f='${Depends}' linux-image-amd64 |
	sed -n 's/^\(linux-image-[^ ,|]*\).*/\1/p')
[ -n "$kernel_pkg" ] || die "cannot tell which kernel linux-image-amd64 depends on"
release=${kernel_pkg#linux-image-}
kernel=/boot/vmlinuz-$release
moddir=/lib/modules/$release
[ -r "$kernel" ] || die "$kernel is missing or unreadable (reinstall $kernel_pkg)"
[ -f "$moddir/modules.dep" ] || die "$moddir/modules.dep is missing (reinstall $kernel_pkg)"

# qemu-ga's libraries and dynamic loader, as ldd resolves them on this host.
qga_libs() {
	local out
	out=$(ldd "$qemu_ga") || die "ldd $qemu_ga failed"
	! grep -q 'not found' <<<"$out" || die "ldd $qemu_ga: $(grep 'not found' <<<"$out")"
	awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' <<<"$out"
}
mapfile -t libs < <(qga_libs)
[ ${#libs[@]} -gt 0 ] || die "ldd $qemu_ga listed no libraries"

cache_key() {
	local l
	{
		# The recipe: this script and what it sources.
		cat "$self" "$(dirname "$self")/lib.sh" | sha256sum
		dpkg-query -W -f='${Package} ${Version}\n' "${packages[@]}" "$kernel_pkg"
		# The libraries come from several packages; their contents say it all.
		for l in "${libs[@]}"; do
			printf '%s ' "$l"
			sha256sum <"$l"
		done
	} | sha256sum | cut -c1-16
}

cache_dir=${XDG_CACHE_HOME:-${HOME:?HOME is not set}/.cache}/vmtest-test-images
base=$cache_dir/$variant-$release-$(cache_key)
image=$base.$format
if [ -f "$image" ]; then
	echo "$image"
	exit 0
fi

# --- Build ------------------------------------------------------------------

mkdir -p "$cache_dir"
# One builder per variant at a time; the others wait, then find its result.
lock_or_wait "$cache_dir/.lock-$variant" "another build of the $variant image"
if [ -f "$image" ]; then
	echo "$image"
	exit 0
fi

work=
cleanup() { [ -z "$work" ] || rm -rf "$work"; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
work=$(mktemp -d "$cache_dir/.build-$variant.XXXXXX")

# A command's output goes to the build log, shown only when it fails.
log=$work/build.log
run() {
	"$@" >"$log" 2>&1 || {
		msg "error: $1 failed; its output:"
		tail -n 20 "$log" >&2
		exit 1
	}
}

# PID 1 of the image.  Messages go to the serial console.
write_init() {
	cat <<'EOF'
#!/bin/sh
# PID 1 of a vmtest test image (scripts/test-image.sh in vmtest).
export PATH=/sbin:/bin:/usr/sbin:/usr/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
mount -t tmpfs -o mode=0755 tmpfs /run
mount -t tmpfs -o mode=1777 tmpfs /tmp
hostname vmtest-image

while read -r module; do
	insmod "$module" || echo "init: insmod $module failed"
done </etc/vmtest-modules

if [ ! -x /usr/sbin/qemu-ga ]; then
	echo "init: this image has no guest agent; idling"
	while :; do sleep 3600; done
fi

# The port's name arrives from the host a moment after virtio_console loads.
port=
tries=0
while [ -z "$port" ]; do
	for f in /sys/class/virtio-ports/*/name; do
		[ -r "$f" ] && [ "$(cat "$f")" = org.qemu.guest_agent.0 ] || continue
		p=${f%/name}
		p=${p##*/}
		[ -c "/dev/$p" ] && port=$p
	done
	[ -n "$port" ] && break
	tries=$((tries + 1))
	if [ "$tries" -gt 50 ]; then
		echo "init: no virtio-serial port named org.qemu.guest_agent.0; powering off"
		poweroff -f
	fi
	sleep 0.1
done

echo "init: starting qemu-ga on /dev/$port"
# shellcheck disable=SC2046 # the file holds options, one per word
/usr/sbin/qemu-ga --method=virtio-serial --path="/dev/$port" \
	--statedir=/run --pidfile=/run/qemu-ga.pid $(cat /etc/qemu-ga.options 2>/dev/null)
echo "init: qemu-ga exited with status $?; powering off"
sync
poweroff -f
EOF
}

# qemu-ga's guest-shutdown runs `/sbin/shutdown -h -P|-H|-r +0 message`.
write_shutdown() {
	cat <<'EOF'
#!/bin/sh
# qemu-ga's guest-shutdown: shutdown -h -P|-H|-r +0 message
sync
case " $* " in
*" -r "*) exec reboot -f ;;
*" -H "*) exec halt -f ;;
esac
exec poweroff -f
EOF
}

# Module files (relative to $moddir) in load order: each after its
# modules.dep dependencies.
declare -A dep_of=() path_of=() seen=()
module_order=()
read_modules_dep() {
	local line path name
	while IFS= read -r line; do
		path=${line%%:*}
		name=${path##*/}
		name=${name%%.ko*}
		path_of[${name//-/_}]=$path
		dep_of[$path]=${line#*:}
	done <"$moddir/modules.dep"
}
add_module() {
	local path=$1 d
	[ -z "${seen[$path]:-}" ] || return 0
	seen[$path]=1
	for d in ${dep_of[$path]}; do
		add_module "$d"
	done
	module_order+=("$path")
}

# Copy a module, decompressed, to $1/lib/modules/<release>/<path>.ko.
stage_module() {
	local root=$1 path=$2 dst
	dst=$root$moddir/${path%%.ko*}.ko
	mkdir -p "$(dirname "$dst")"
	case $path in
	*.ko) cp "$moddir/$path" "$dst" ;;
	*.ko.xz) xz -dc "$moddir/$path" >"$dst" ;;
	*.ko.zst) zstd -qdc "$moddir/$path" >"$dst" ;;
	*.ko.gz) gzip -dc "$moddir/$path" >"$dst" ;;
	*) die "unknown module file type: $path" ;;
	esac
	echo "${dst#"$root"}" >>"$root/etc/vmtest-modules"
}

# $1: with_agent (true|false); writes $work/initrd.img.
build_initramfs() {
	local with_agent=$1 root=$work/initramfs m l applet
	mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,run,tmp,root,mnt/vmtest}
	cp /bin/busybox "$root/bin/busybox"
	! ldd /bin/busybox >/dev/null 2>&1 ||
		die "/bin/busybox is not static (is busybox-static installed?)"
	for applet in $(busybox --list-full); do
		[ -e "$root/$applet" ] || ln -s /bin/busybox "$root/$applet"
	done
	write_init >"$root/init"
	chmod 755 "$root/init"
	rm -f "$root/sbin/shutdown"
	if [ "$variant" != bare ]; then
		write_shutdown >"$root/sbin/shutdown"
		chmod 755 "$root/sbin/shutdown"
	fi
	if [ "$variant" = locked ]; then
		echo "--block-rpcs=guest-exec,guest-exec-status" >"$root/etc/qemu-ga.options"
	fi

	read_modules_dep
	: >"$root/etc/vmtest-modules"
	for m in "${modules[@]}"; do
		[ -n "${path_of[$m]:-}" ] || die "module $m is not in $moddir/modules.dep"
		add_module "${path_of[$m]}"
	done
	for m in "${module_order[@]}"; do
		stage_module "$root" "$m"
	done

	if $with_agent; then
		cp "$qemu_ga" "$root/usr/sbin/qemu-ga"
		for l in "${libs[@]}"; do
			mkdir -p "$root$(dirname "$l")"
			cp -L "$l" "$root$l"
		done
	fi

	find "$root" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
	(cd "$root" && find . -mindepth 1 | LC_ALL=C sort |
		cpio -o -H newc -R 0:0 --reproducible --quiet) |
		gzip -n -9 >"$work/initrd.img"
}

write_grub_cfg() {
	if [ "$variant" != uefi ]; then
		echo 'serial --unit=0 --speed=115200'
		echo 'terminal_output serial'
	fi
	cat <<'EOF'
echo 'vmtest test image: loading Linux'
linux /boot/vmlinuz console=ttyS0 quiet panic=-1
initrd /boot/initrd.img
boot
EOF
}

# The FAT file system of partition 1, as a separate file.
build_fat() {
	local fat=$work/fat.img
	export MTOOLS_SKIP_CHECK=1
	touch -d "@$SOURCE_DATE_EPOCH" "$work/vmlinuz" "$work/initrd.img" "$work/grub.cfg"
	run truncate -s "$part_size" "$fat"
	run mkfs.vfat --invariant -i "$fat_id" -n VMTEST "$fat"
	run mmd -i "$fat" ::/boot ::/boot/grub
	run mcopy -m -i "$fat" "$work/vmlinuz" ::/boot/vmlinuz
	run mcopy -m -i "$fat" "$work/initrd.img" ::/boot/initrd.img
	run mcopy -m -i "$fat" "$work/grub.cfg" ::/boot/grub/grub.cfg
	if [ "$variant" = uefi ]; then
		touch -d "@$SOURCE_DATE_EPOCH" "$work/BOOTX64.EFI"
		run mmd -i "$fat" ::/EFI ::/EFI/BOOT
		run mcopy -m -i "$fat" "$work/BOOTX64.EFI" ::/EFI/BOOT/BOOTX64.EFI
	fi
}

partition_table() {
	local start=$((part_start / 512)) size=$((part_size / 512))
	if [ "$variant" = uefi ]; then
		echo "label: gpt"
		echo "label-id: $disk_guid"
		echo "start=$start, size=$size, type=$esp_type, uuid=$part_guid, name=\"EFI system partition\""
	else
		echo "label: dos"
		echo "label-id: $disk_id"
		echo "start=$start, size=$size, type=e, bootable"
	fi
}

build_disk() {
	local disk=$work/disk.raw grub=/usr/lib/grub/i386-pc
	run truncate -s "$disk_size" "$disk"
	partition_table | run sfdisk --no-reread --no-tell-kernel -q "$disk"
	run dd if="$work/fat.img" of="$disk" bs=1M seek=$((part_start / MiB)) \
		conv=notrunc,sparse status=none
	[ "$variant" != uefi ] || return 0
	# What grub-bios-setup would do: boot.img's code (not the partition
	# table) in the MBR, core.img from sector 1.  boot.img loads sector 1 and
	# core.img's first sector loads the rest from sector 2 on: the defaults
	# of both, so nothing needs patching.
	run grub-mkimage -O i386-pc -d "$grub" -o "$work/core.img" \
		-p '(,msdos1)/boot/grub' "${grub_modules_bios[@]}"
	[ "$(stat -c %s "$work/core.img")" -le $((part_start - 512)) ] ||
		die "core.img does not fit before the first partition"
	run dd if="$grub/boot.img" of="$disk" bs=440 count=1 conv=notrunc status=none
	run dd if="$work/core.img" of="$disk" bs=512 seek=1 conv=notrunc status=none
}

start=$SECONDS
msg "building the $variant image from $kernel_pkg (in $work)"
with_agent=true
[ "$variant" != noagent ] || with_agent=false
build_initramfs "$with_agent"
cp "$kernel" "$work/vmlinuz"
write_grub_cfg >"$work/grub.cfg"
if [ "$variant" = uefi ]; then
	run grub-mkimage -O x86_64-efi -d /usr/lib/grub/x86_64-efi \
		-o "$work/BOOTX64.EFI" -p /boot/grub "${grub_modules_efi[@]}"
fi
build_fat
build_disk
run qemu-img convert -f raw -O qcow2 "$work/disk.raw" "$work/disk.qcow2"
chmod 644 "$work/disk.raw" "$work/disk.qcow2"

# The requested format's presence is what makes a cache hit: it goes last.
if [ "$format" = raw ]; then
	mv -f "$work/disk.qcow2" "$base.qcow2"
	mv -f "$work/disk.raw" "$base.raw"
else
	mv -f "$work/disk.raw" "$base.raw"
	mv -f "$work/disk.qcow2" "$base.qcow2"
fi
msg "built $image ($(du -k --apparent-size "$image" | cut -f1) KiB) in $((SECONDS - start)) s"
echo "$image"
