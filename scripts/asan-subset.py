#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Choose the functional tests that make check runs again under ASan: the
fewest seconds of tests that, together, run every line of vmtest's host
code (src/) that the whole suite runs.  The ASan pass looks for memory
errors in that code; a test that only adds what the guest sees adds no
host line and is left out.

Measure, then choose:

  meson setup -Db_coverage=true -Dbuildtype=debug build-cov && ninja -C build-cov
  VMTEST_COVERAGE_DIR=/tmp/cov VMTEST_BINARY=$PWD/build-cov/vmtest \\
      python3 -m pytest -n 2 --basetemp=/tmp/vtc --junitxml=/tmp/cov.xml tests/functional
  scripts/asan-subset.py --coverage /tmp/cov --build build-cov --junit /tmp/cov.xml \\
      > tests/functional/asan_subset.txt

Each test's vmtest processes write their counts under a directory of the
test's own (conftest.py sets GCOV_PREFIX from VMTEST_COVERAGE_DIR).  The
choice is greedy: the test with the most new lines per second of its own,
until no test adds a line.  What it prints is the list, one test id a
line, with a comment of the figures; progress goes to stderr.

The last lines are the costliest: a test that adds a line or two after a
minute of guests (a race's other branch, a retry).  The choice stops when
the best test left adds fewer than --min-rate new lines a second, and says
how many lines, in which files, the subset leaves to the first pass.
Tests that cannot run under ASan (valgrind's) are never chosen."""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET


def lines_of(test_dir, build, source):
    """The (file, line) pairs of src/ that ran in this test's processes."""
    covered = set()
    build = os.path.abspath(build)
    for root, _, files in os.walk(test_dir):
        for f in files:
            if not f.endswith(".gcda"):
                continue
            rel = os.path.relpath(os.path.join(root, f), test_dir)
            obj = "/" + rel                      # the object's own path, under the prefix
            gcno = obj[:-5] + ".gcno"
            if not obj.startswith(build) or not os.path.exists(gcno):
                continue
            with tempfile.TemporaryDirectory() as tmp:
                shutil.copy(os.path.join(root, f), os.path.join(tmp, os.path.basename(obj)))
                os.symlink(gcno, os.path.join(tmp, os.path.basename(gcno)))
                out = subprocess.run(["gcov", "--json-format", "--stdout", "-o", tmp,
                                      os.path.join(tmp, os.path.basename(obj))],
                                     cwd=build, capture_output=True, text=True).stdout
            for doc in out.splitlines():
                if not doc.startswith("{"):
                    continue
                for fl in json.loads(doc).get("files", []):
                    path = os.path.normpath(os.path.join(build, fl["file"]))
                    rel_src = os.path.relpath(path, source)
                    if not rel_src.startswith("src/"):
                        continue
                    for ln in fl["lines"]:
                        if ln["count"] > 0:
                            covered.add((rel_src, ln["line_number"]))
    return covered


def durations(junit):
    """Each test's time, by the directory name conftest.py gives it."""
    times = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        nodeid = "%s::%s" % (case.get("classname").replace(".", "/") + ".py", case.get("name"))
        times[nodeid] = float(case.get("time") or 0)
    return times


def dir_name(nodeid):
    """As tests/functional/conftest.py names a test's coverage directory."""
    import hashlib
    name = "".join(c if c.isalnum() or c in "._-" else "_" for c in nodeid)
    if len(name) > 120:
        name = name[:100] + "-" + hashlib.sha1(nodeid.encode()).hexdigest()[:12]
    return name


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--coverage", required=True)
    ap.add_argument("--build", required=True)
    ap.add_argument("--junit", required=True)
    ap.add_argument("--min-rate", type=float, default=0.25)
    ap.add_argument("--exclude", action="append", default=["test_core_path_under_valgrind"])
    ap.add_argument("--source", default=os.path.abspath(os.path.join(os.path.dirname(__file__),
                                                                     "..")))
    a = ap.parse_args()
    times = durations(a.junit)
    by_dir = {dir_name(n): n for n in times}
    cover = {}
    for d in sorted(os.listdir(a.coverage)):
        nodeid = by_dir.get(d)
        if nodeid:
            cover[nodeid] = lines_of(os.path.join(a.coverage, d), a.build, a.source)
            print("%6d lines  %s" % (len(cover[nodeid]), nodeid), file=sys.stderr)
    print("# The functional tests make check runs again under ASan and UBSan: made by\n"
          "# scripts/asan-subset.py from a coverage run of the whole suite (its docstring\n"
          "# says how); made again when tests are added or renamed (a name listed that\n"
          "# no longer exists fails the ASan pass).  Each line: what the test adds.")
    every = set().union(*cover.values())
    chosen, got = [], set()
    while True:
        best, best_score = None, 0.0
        for n, c in cover.items():
            new = len(c - got)
            if n in chosen or not new or any(x in n for x in a.exclude):
                continue
            score = new / max(times.get(n, 1.0), 0.5)
            if score > best_score:
                best, best_score = n, score
        if not best or best_score < a.min_rate:
            break
        chosen.append(best)
        print("# + %5d lines in %6.1f s: %s" % (len(cover[best] - got), times.get(best, 0), best))
        got |= cover[best]
    total = sum(times.values())
    spent = sum(times.get(n, 0) for n in chosen)
    left = every - got
    files = {}
    for f, _ in left:
        files[f] = files.get(f, 0) + 1
    print("# %d of %d tests, %.0f of %.0f s, cover %d of the %d lines of src/ that the whole "
          "suite runs; left to the first pass: %s" % (
              len(chosen), len(cover), spent, total, len(got), len(every),
              ", ".join("%s %d" % kv for kv in sorted(files.items(), key=lambda kv: -kv[1]))
              or "none"))
    for n in chosen:
        print(n)


if __name__ == "__main__":
    main()
