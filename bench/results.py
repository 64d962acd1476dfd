#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""What reading a command's tests costs a run (vm.results, docs/tests.md).

1. The parsers alone, on the host: build/bench-results-parse, each format
   fed a suite of --tests tests as the relay feeds it (seconds, MB/s,
   microseconds a test).
2. A whole run: `vmtest -k KERNEL --results FORMAT -- cat SUITE` against
   the same with `--results none`, interleaved, wall time from spawn to
   exit, warm starts; SUITE is the same generated output (TAP of
   kselftest's shape, or go test -json events), --run-tests tests.

Figures only (medians, ratios against `none` in the same run); see
bench/README.md.
"""
import argparse
import json
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


def tap_suite(n):
    lines = ["TAP version 13", "1..%d" % ((n + 19) // 20)]
    for s in range((n + 19) // 20):
        lines += ["# selftests: bench: suite%d" % s, "# TAP version 13", "# 1..20"]
        for i in range(20):
            lines += ["# # running case %d" % i, "# ok %d case%d" % (i + 1, i)]
        lines.append("ok %d selftests: bench: suite%d" % (s + 1, s))
    return "\n".join(lines) + "\n"


def gotest_suite(n):
    out = []
    for i in range(n):
        ev = {"Action": "run", "Package": "example.com/p", "Test": "TestX/case%d" % i}
        out.append(json.dumps(ev))
        out.append(json.dumps(dict(ev, Action="output", Output="    x_test.go:9: hello\n")))
        out.append(json.dumps(dict(ev, Action="pass", Elapsed=0.01)))
    out.append(json.dumps({"Action": "pass", "Package": "example.com/p", "Test": "TestX",
                           "Elapsed": 1}))
    out.append(json.dumps({"Action": "pass", "Package": "example.com/p", "Elapsed": 1}))
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vmtest", default=os.path.join(REPO, "build", "vmtest"))
    ap.add_argument("--parser", default=os.path.join(REPO, "build", "bench-results-parse"))
    ap.add_argument("--kernel", default=None, help="default: scripts/test-kernel.sh's")
    ap.add_argument("--tests", type=int, default=100000, help="tests for the parsers alone")
    ap.add_argument("--run-tests", type=int, default=10000, help="tests for whole runs")
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    args.vmtest = os.path.abspath(args.vmtest)
    print("# vmtest test results benchmark, %s" % time.strftime("%Y-%m-%d %H:%M UTC",
                                                                time.gmtime()))
    print("# command: %s" % " ".join([os.path.relpath(sys.argv[0], REPO)] + sys.argv[1:]))
    print()
    sys.stdout.flush()
    subprocess.run([args.parser, str(args.tests), str(args.runs)], check=True)
    print()
    kernel = os.path.abspath(args.kernel) if args.kernel else small_kernel()
    with tempfile.TemporaryDirectory(prefix="vmtest-bench-") as d:
        suites = {"tap": tap_suite(args.run_tests), "gotest-json": gotest_suite(args.run_tests)}
        for name, text in suites.items():
            with open(os.path.join(d, name), "w") as f:
                f.write(text)
        ways = [("none", "tap"), ("tap", "tap"), ("none", "gotest-json"),
                ("gotest-json", "gotest-json")]
        times = {w: [] for w in ways}
        # A first run saves the snapshot the others start from.
        subprocess.run([args.vmtest, "-k", kernel, "--", "true"], cwd=d, capture_output=True)
        for _ in range(args.runs):
            for results, suite in ways:
                start = time.monotonic()
                r = subprocess.run([args.vmtest, "--results", results, "-k", kernel, "--",
                                    "cat", suite], cwd=d, capture_output=True)
                elapsed = time.monotonic() - start
                if r.returncode != 0:
                    sys.stderr.write(r.stderr.decode(errors="replace"))
                    sys.exit("bench/results.py: --results %s failed (%d)" % (results,
                                                                             r.returncode))
                times[(results, suite)].append(elapsed)
    print("# whole runs: vmtest -k %s --results FORMAT -- cat SUITE (%d tests), %d runs, "
          "interleaved, warm starts; medians in seconds" % (os.path.basename(kernel),
                                                          args.run_tests, args.runs))
    print("%-12s %8s %12s %8s %8s" % ("suite", "none", "its format", "ratio", "bytes"))
    for suite in ("tap", "gotest-json"):
        none = statistics.median(times[("none", suite)])
        parsed = statistics.median(times[(suite, suite)])
        print("%-12s %8.2f %12.2f %8.2f %8d" % (suite, none, parsed, parsed / none,
                                                len(suites[suite])))


if __name__ == "__main__":
    main()
