#!/bin/bash
# Build vmtest's guest init for another architecture with Debian's cross
# compiler, statically, and write it to OUTPUT.  Run by meson for each
# architecture whose cross compiler is installed (see meson.build).
#
#   scripts/build-guest-init.sh ARCH CC OUTPUT SOURCE...
#
# The init uses jansson; the static library for ARCH comes from Debian's
# libjansson-dev of that architecture, downloaded (not installed) by
# scripts/foreign-debs.sh and unpacked in the cache.
set -euo pipefail

# A failure here must not fail vmtest's build: the init is left empty, and
# vmtest then says, for that architecture only, what to install.
fail() {
	echo "build-guest-init.sh: warning: no guest init for $arch: $*" >&2
	: >"$output"
	exit 0
}

[ $# -ge 4 ] || {
	echo "usage: $0 ARCH CC OUTPUT SOURCE..." >&2
	exit 2
}
arch=$1 cc=$2 output=$3
shift 3
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
case $arch in
aarch64) debarch=arm64 ;;
s390x) debarch=s390x ;;
riscv64) debarch=riscv64 ;;
*)
	echo "build-guest-init.sh: no cross build for $arch" >&2
	exit 2
	;;
esac

deb=$("$here/foreign-debs.sh" "$debarch" libjansson-dev) ||
	fail "cannot download Debian's libjansson-dev for $debarch"
sysroot=${XDG_CACHE_HOME:-$HOME/.cache}/vmtest-foreign/jansson-$debarch-$(basename "$deb" .deb)
if [ ! -e "$sysroot/.done" ]; then
	rm -rf "$sysroot"
	mkdir -p "$sysroot"
	dpkg-deb -x "$deb" "$sysroot"
	touch "$sysroot/.done"
fi
lib=$(find "$sysroot/usr/lib" -name libjansson.a | head -n 1)
[ -n "$lib" ] || fail "no libjansson.a in $deb"
src=$(cd "$here/.." && pwd)
"$cc" -std=gnu11 -D_GNU_SOURCE -Os -static -Wall -Wextra -Werror -Wno-unused-parameter \
	-Wno-missing-field-initializers -s -I"$src/common" -I"$src/guest" \
	-I"$sysroot/usr/include" -o "$output" "$@" "$lib" || fail "$cc failed"
