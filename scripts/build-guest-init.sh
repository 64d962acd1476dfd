#!/bin/bash
# Build vmtest's guest init for another architecture with Debian's cross
# compiler, statically, and write it to OUTPUT.  Run by meson for each
# architecture whose cross compiler is installed (see meson.build).
#
#   scripts/build-guest-init.sh ARCH CC OUTPUT SOURCE...
#
# The init uses jansson; the static library for ARCH comes from Debian's
# libjansson-dev of that architecture, downloaded (not installed) by
# scripts/foreign-debs.sh and unpacked in the cache; for riscv64, which
# Debian 12 does not build, from Debian's jansson source compiled here.
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

cache=${XDG_CACHE_HOME:-$HOME/.cache}/vmtest-foreign
if [ "$debarch" = riscv64 ]; then
	# Debian 12 has no riscv64 packages: Debian's jansson source, compiled
	# here with the cross compiler (its own configure only makes the one
	# header below).
	jsrc=$("$here/foreign-debs.sh" --source jansson) ||
		fail "cannot download Debian's jansson source"
	sysroot=$cache/jansson-$debarch-$(basename "$jsrc")
	if [ ! -e "$sysroot/.done" ]; then
		rm -rf "$sysroot"
		mkdir -p "$sysroot/usr/include" "$sysroot/usr/lib/obj"
		sed -e 's/@json_inline@/inline/' -e 's/@json_have_long_long@/1/' \
			-e 's/@json_have_localeconv@/1/' -e 's/@json_have_atomic_builtins@/1/' \
			-e 's/@json_have_sync_builtins@/1/' \
			"$jsrc/src/jansson_config.h.in" >"$sysroot/usr/include/jansson_config.h"
		cp "$jsrc/src/jansson.h" "$sysroot/usr/include/"
		# What jansson's cmake would find on glibc: every feature, no
		# Windows crypto, its default hashtable order.
		sed -e 's/^#cmakedefine USE_WINDOWS_CRYPTOAPI 1$//' \
			-e 's/^#cmakedefine \([A-Z0-9_]*\) 1$/#define \1 1/' \
			-e 's/@JANSSON_INITIAL_HASHTABLE_ORDER@/3/' \
			"$jsrc/cmake/jansson_private_config.h.cmake" \
			>"$sysroot/usr/include/jansson_private_config.h"
		for c in "$jsrc"/src/*.c; do
			"$cc" -std=gnu99 -Os -DHAVE_CONFIG_H -I"$sysroot/usr/include" -c "$c" \
				-o "$sysroot/usr/lib/obj/$(basename "$c" .c).o" ||
				fail "compiling jansson's $(basename "$c") failed"
		done
		"${cc%gcc}ar" rcs "$sysroot/usr/lib/libjansson.a" "$sysroot"/usr/lib/obj/*.o ||
			fail "archiving jansson failed"
		touch "$sysroot/.done"
	fi
else
	deb=$("$here/foreign-debs.sh" "$debarch" libjansson-dev) ||
		fail "cannot download Debian's libjansson-dev for $debarch"
	sysroot=$cache/jansson-$debarch-$(basename "$deb" .deb)
	if [ ! -e "$sysroot/.done" ]; then
		rm -rf "$sysroot"
		mkdir -p "$sysroot"
		dpkg-deb -x "$deb" "$sysroot"
		touch "$sysroot/.done"
	fi
fi
lib=$(find "$sysroot/usr/lib" -name libjansson.a | head -n 1)
[ -n "$lib" ] || fail "no libjansson.a for $debarch"
src=$(cd "$here/.." && pwd)
"$cc" -std=gnu11 -D_GNU_SOURCE -Os -static -Wall -Wextra -Werror -Wno-unused-parameter \
	-Wno-missing-field-initializers -s -I"$src/common" -I"$src/guest" \
	-I"$sysroot/usr/include" -o "$output" "$@" "$lib" || fail "$cc failed"
