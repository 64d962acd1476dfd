#!/bin/bash
# Try the README as a new user would: on a pristine Debian 12 root, made
# here with debootstrap, run the commands of the README's "Install and try
# it" block exactly as written, in a clone of this checkout, and print the
# wall time of each.  Exits non-zero on the first command that fails.
#
#   scripts/fresh-machine.sh [--demo-only] [--keep] [--then 'COMMAND']
#
#   --demo-only   stop after `make demo`, then `make foreign` (a quick pass:
#                 ~15 minutes)
#   --keep        leave the root in place afterwards (its path is printed)
#   --then CMD    run CMD in the clone after the README's commands (for
#                 example 'make check' again, to time a warm second run)
#
# The root is debootstrap's minbase variant of bookworm (the least a Debian
# 12 machine has) from the host's own mirror and suites, in a temporary
# directory under /var/tmp.  Before the README's commands the machine gets
# only what a freshly installed one already has: apt's package lists
# (apt-get update).  Then it is entered with chroot, as root, under
# `env -i` with a plain PATH and HOME, with itself bound on itself (so that
# its / is a mount point), /proc mounted, /sys and /dev
# bound recursively (tmux and pexpect need /dev/pts, QEMU /dev/shm and
# /dev/kvm when there is one) and the host's resolv.conf.
#
# The clone holds this checkout's HEAD (committed work only, as CI sees it),
# with nothing beside it: no ../shared.  A full pass builds the small test
# kernels inside the root (no ~/.cache there): budget about an hour.
#
# The host is changed only by installing debootstrap when it is missing.
# Downloaded packages are kept outside the root, in
# ${XDG_CACHE_HOME:-~/.cache}/vmtest-fresh-machine/archives, so a second pass
# does not fetch 1.5 GB again.  Every process left in the root is killed
# and every mount undone on exit, interrupted or not.
set -euo pipefail

demo_only=no
keep=no
then_cmd=
while [ $# -gt 0 ]; do
	case $1 in
	--demo-only) demo_only=yes ;;
	--keep) keep=yes ;;
	--then)
		then_cmd=${2:?--then needs a command}
		shift
		;;
	*)
		echo "usage: $0 [--demo-only] [--keep] [--then 'COMMAND']" >&2
		exit 2
		;;
	esac
	shift
done

[ "$(id -u)" = 0 ] || {
	echo "fresh-machine.sh: needs root (debootstrap, chroot, mounts)" >&2
	exit 2
}
checkout=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
archives=${XDG_CACHE_HOME:-$HOME/.cache}/vmtest-fresh-machine/archives
mkdir -p "$archives/partial"

msg() { echo "fresh-machine.sh: $*" >&2; }

# The README's commands: the lines of the first code block after the
# "## Install and try it" heading, without their comments.
readme_commands() {
	awk '/^## Install and try it/ { section = 1; next }
	     section && /^```/ { if (inside) exit; inside = 1; next }
	     inside { sub(/[ \t]+#.*$/, ""); if ($0 != "") print }' "$checkout/README.md"
}
mapfile -t commands < <(readme_commands)
[ ${#commands[@]} -gt 0 ] || {
	msg "no commands found in README.md's 'Install and try it' block"
	exit 1
}

if ! command -v debootstrap >/dev/null; then
	msg "installing debootstrap on the host"
	apt-get update -q >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends debootstrap >&2
fi

root=$(mktemp -d /var/tmp/vmtest-fresh-XXXXXX)
# mktemp makes it 0700; a machine's / is 0755, and the tests run programs
# as nobody, who must reach /usr/lib.
chmod 755 "$root"
mounts=()

cleanup() {
	local status=$?
	# Whatever still runs inside (a tmux server, a QEMU) holds the mounts.
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/root" 2>/dev/null)" = "$root" ] && kill -9 "${p#/proc/}" 2>/dev/null
	done
	for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
		umount -R "${mounts[i]}" 2>/dev/null || umount -R -l "${mounts[i]}" 2>/dev/null || true
	done
	if [ $keep = yes ]; then
		msg "the root is kept in $root"
	else
		rm -rf --one-file-system "$root"
	fi
	exit $status
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

bind() {
	mkdir -p "$2"
	mount "$@"
	mounts+=("${*: -1}")
}

timed() {
	local what=$1 start=$SECONDS
	shift
	msg "== $what"
	if ! "$@"; then
		msg "FAILED after $((SECONDS - start)) s: $what"
		exit 1
	fi
	msg "== $what: $((SECONDS - start)) s"
	times+=("$(printf '%6d s  %s' $((SECONDS - start)) "$what")")
}
times=()

# The host's mirror and suites (bookworm, -updates, -security), as a
# Debian 12 install has them.
uri=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n 1)
uri=${uri:-http://deb.debian.org/debian}
timed "debootstrap bookworm (minbase) into $root" \
	debootstrap --variant=minbase --cache-dir="$archives" bookworm "$root" "$uri"
if [ -f /etc/apt/sources.list.d/debian.sources ]; then
	rm -f "$root/etc/apt/sources.list"
	cp /etc/apt/sources.list.d/debian.sources "$root/etc/apt/sources.list.d/"
fi
cp -L /etc/resolv.conf "$root/etc/resolv.conf"

# The root a mount point of its own, as a machine's / is: virtiofsd's
# read-only view (a private mount namespace) needs "/" to be one.
bind --bind "$root" "$root"
bind -t proc proc "$root/proc"
bind --rbind /sys "$root/sys"
mount --make-rslave "$root/sys"
bind --rbind /dev "$root/dev"
mount --make-rslave "$root/dev"
bind --bind "$archives" "$root/var/cache/apt/archives"
# apt fetches as its _apt user, which must be able to write there.
chroot "$root" chown _apt:root /var/cache/apt/archives/partial

inside() {
	chroot "$root" env -i HOME=/root \
		PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		/bin/sh -c "$1" </dev/null
}
timed "apt-get update (what a freshly installed machine has)" inside "apt-get update -q"

git clone -q "$checkout" "$root/root/vmtest"
msg "a clone of $(git -C "$checkout" rev-parse --short HEAD) in $root/root/vmtest, nothing beside it"
for c in "${commands[@]}"; do
	timed "$c" inside "cd /root/vmtest && $c"
	if [ $demo_only = yes ] && [ "$c" = "make demo" ]; then
		# The one command docs/foreign-arches.md gives after the demo.
		timed "make foreign" inside "cd /root/vmtest && make foreign"
		break
	fi
done
# Either way the build now has every guest init: after make check (which
# installs the test packages after make demo's build was configured),
# or after make foreign.
check_inits() {
	local said
	said=$(inside "/root/vmtest/build/vmtest --version")
	printf '%s\n' "$said" >&2
	grep -qx 'guest inits: x86_64 aarch64 s390x riscv64' <<<"$said"
}
timed "every guest init built (vmtest --version)" check_inits
[ -z "$then_cmd" ] || timed "$then_cmd (again)" inside "cd /root/vmtest && $then_cmd"

msg "wall time of each step:"
printf '%s\n' "${times[@]}" >&2
