#!/bin/bash
# Build or find every asset the tests read, before any test runs, so that no
# test waits on a build (meson gives a unit test 30 s) and a missing tool
# fails here, named, rather than in the middle of the suite.  Each asset
# comes from its own script and is cached in ${XDG_CACHE_HOME:-~/.cache}:
# the first time on a machine this builds the small x86_64 and riscv64
# kernels and the x86_64 KUnit one (about 16 CPU-minutes each) and downloads Debian's arm64 and s390x
# kernels; later it takes seconds.  ../shared, where it exists, only saves
# the x86_64 build (scripts/test-kernel.sh's step 2).
#
# Prints, on stdout, shell assignments of the paths that the test programs
# read from their environment (make writes them to build/fixtures.env and
# sources that before each test program).  Progress, with each asset's time,
# goes to stderr.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

step() {
	local what=$1 start=$SECONDS out
	shift
	out=$("$@") || {
		echo "test-fixtures.sh: $what failed: $*" >&2
		exit 1
	}
	echo "test-fixtures.sh: $what ready ($((SECONDS - start)) s)" >&2
	printf '%s\n' "$out"
}

kernel=$(step "the small x86_64 test kernel" "$here/test-kernel.sh" | tail -n 1)
kunit_kernel=$(step "the x86_64 KUnit test kernel" "$here/test-kernel.sh" --kunit | tail -n 1)
for arch in arm64 s390x riscv64; do
	step "the $arch kernel and rootfs" "$here/test-rootfs.sh" "$arch" >/dev/null
done
for arch in amd64 arm64; do
	step "the $arch kernel package, unpacked without depmod" \
		"$here/test-rootfs.sh" --no-depmod "$arch" >/dev/null
done
for variant in bios uefi noagent locked bare; do
	step "the $variant test image" "$here/test-image.sh" "$variant" >/dev/null
done

printf 'VMTEST_TEST_KERNEL=%q\n' "$kernel"
printf 'VMTEST_KUNIT_KERNEL=%q\n' "$kunit_kernel"
