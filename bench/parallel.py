#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""How much -j saves: one vmtest.toml of four kernel targets, run with -j 1
and with -j 2 (and -j 4 with --max-jobs 4), interleaved, wall time from
spawn to exit.  Each target boots the small test kernel and runs a command
that takes about a second, like a short test suite.

It prints figures only (medians and the ratio against -j 1 of the same
run); it never judges them.  See bench/README.md.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)


def small_kernel():
    return subprocess.run([os.path.join(REPO, "scripts", "test-kernel.sh")], check=True,
                          capture_output=True, text=True).stdout.strip()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vmtest", default=os.path.join(REPO, "build", "vmtest"))
    ap.add_argument("--kernel", default=None, help="default: scripts/test-kernel.sh's")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--targets", type=int, default=4)
    ap.add_argument("--max-jobs", type=int, default=2)
    args = ap.parse_args()
    # vmtest runs from a temporary directory: a relative path would not be found there.
    args.vmtest = os.path.abspath(args.vmtest)
    kernel = os.path.abspath(args.kernel) if args.kernel else small_kernel()
    jobs = [j for j in (1, 2, 4, 8) if j <= args.max_jobs]
    with tempfile.TemporaryDirectory(prefix="vmtest-bench-") as d:
        with open(os.path.join(d, "vmtest.toml"), "w") as f:
            for i in range(args.targets):
                f.write('[[target]]\nname = "t%d"\nkernel = "%s"\n'
                        'command = "sleep 1; echo done"\n' % (i, kernel))
        times = {j: [] for j in jobs}
        for run in range(args.runs):
            for j in jobs:
                start = time.monotonic()
                r = subprocess.run([args.vmtest, "-j", str(j)], cwd=d, capture_output=True)
                elapsed = time.monotonic() - start
                if r.returncode != 0:
                    sys.stderr.write(r.stdout.decode(errors="replace") +
                                     r.stderr.decode(errors="replace"))
                    sys.exit("bench/parallel.py: vmtest -j %d failed (%d)" % (j, r.returncode))
                times[j].append(elapsed)
                print("run %d  -j %d  %.2f s" % (run + 1, j, elapsed), flush=True)
    base = statistics.median(times[1])
    print("\n%d targets (%s, 'sleep 1'), %d runs, %d CPUs:" % (
        args.targets, os.path.basename(kernel), args.runs, os.cpu_count()))
    for j in jobs:
        m = statistics.median(times[j])
        print("  -j %d   median %6.2f s   %.2fx the speed of -j 1" % (j, m, base / m))


if __name__ == "__main__":
    main()
