#!/bin/bash
# SPDX-License-Identifier: MIT
# Where a kernel target's file access goes: the 9p requests of each phase
# of bench/files.py's workload (find, read, git), counted by type from
# QEMU's trace events, and what /usr's image served (vmtest -v).  One run
# of vmtest's default settings; counts, not times (docs/performance.md).
#   bench/files-profile.sh [KERNEL] [VMTEST]
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
kernel=${1:-$(ls /boot/vmlinuz-*-amd64 | sort -V | tail -1)}
vmtest=${2:-$repo/build/vmtest}
work=$(mktemp -d /tmp/vmtest-profile-XXXXXX)
trap 'rm -rf "$work"' EXIT
cat > "$work/vmtest.toml" <<T
[[target]]
name = "profile"
kernel = "$kernel"
command = "bash load.sh"
[target.vm]
extra_args = ["-trace", "enable=v9fs_*,file=$work/trace.log"]
T
# Each phase starts with the caches dropped and a mkdir in the shared
# directory: the mkdir requests split the trace into phases.
cat > "$work/load.sh" <<L
drop() { sync; echo 3 > /proc/sys/vm/drop_caches; }
cd "$repo"
git status >/dev/null 2>&1
drop; mkdir "$work/m-find"
find /usr/include /usr/share/doc /usr/lib/x86_64-linux-gnu | wc -l
drop; mkdir "$work/m-read"
find /usr/include -type f -exec cat {} + | wc -c
drop; mkdir "$work/m-git"
git status --porcelain | wc -l
mkdir "$work/m-end"
L
(cd "$work" && "$vmtest" -v --no-snapshot 2>&1) | grep -E "/usr|took"
python3 - "$work/trace.log" <<'P'
import collections, re, sys
order = ["boot and set-up", "find", "read", "git", "end"]
phase, counts = 0, collections.OrderedDict()
for line in open(sys.argv[1], errors="replace"):
    m = re.search(r"v9fs_([a-z_]+?) tag", line)
    if not m or m.group(1).endswith("_return"):
        continue
    counts.setdefault(order[phase], collections.Counter())[m.group(1)] += 1
    if m.group(1) == "mkdir" and phase + 1 < len(order):
        phase += 1
for name, c in counts.items():
    print("%-16s %6d  %s" % (name, sum(c.values()),
                             ", ".join("%s %d" % kv for kv in c.most_common(7))))
P
