#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""How fast a guest reads the host's files, next to the host itself.

Three workloads, each timed inside the guest (so the boot is not counted)
and on the host, interleaved, for each of vmtest's ways to share files
(9p, and virtiofs where a virtiofsd is installed and we are root):

  walk   `find /usr -xdev | wc -l`: metadata of the read-only root
  read   every file of /usr/include read once (`find ... -exec cat {} +`)
  git    `git status` of this checkout (the shared directory, read-write)

The guest runs under TCG here, so its CPU is several times slower than the
host's for the same work: the host column is the floor of the workload, not
what a share could reach.  It prints figures only.  See bench/README.md.
"""
import argparse
import datetime
import glob
import os
import re
import shlex
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)

WORKLOADS = [
    ("walk", "find /usr -xdev | wc -l"),
    ("walk-15k", "find /usr/include /usr/share/doc -xdev | wc -l"),
    ("read", "find /usr/include -type f -exec cat {} + | wc -c"),
    ("git", "git status --porcelain | wc -l"),
]


def timed_script(guest):
    """One guest (or host) shell script that times each workload and prints
    'NAME START END OUTPUT' lines.  In the guest, each workload starts with
    the guest's caches dropped: a cold start for each, and a virtiofs
    daemon's open files (one per inode the guest holds) closed."""
    lines = ["cd %s" % shlex.quote(REPO)]
    for name, cmd in WORKLOADS:
        if guest:
            lines.append("sync; echo 3 > /proc/sys/vm/drop_caches")
        lines.append('s=$(date +%%s.%%N); o=$(%s 2>/dev/null); e=$(date +%%s.%%N); '
                     'echo "%s $s $e $o"' % (cmd, name))
    return "\n".join(lines)


def parse(out):
    """{name: (seconds, output)}: the output tells a complete run from one
    that failed part way (an error the workload hid)."""
    times = {}
    for m in re.finditer(r"^([\w-]+) (\d+\.\d+) (\d+\.\d+) (.*)$", out, re.M):
        times[m.group(1)] = (float(m.group(3)) - float(m.group(2)), m.group(4).strip())
    if len(times) != len(WORKLOADS):
        raise SystemExit("bench/files.py: the workload printed no times:\n" + out[-2000:])
    return times


def on_host():
    r = subprocess.run(["sh", "-c", timed_script(False)], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit("bench/files.py: on the host: " + r.stderr)
    return parse(r.stdout)


def in_guest(vmtest, kernel, options):
    r = subprocess.run([vmtest, *options, "-k", kernel, "--", "sh", "-c", timed_script(True)],
                       cwd=REPO, capture_output=True, text=True, timeout=1800)
    if r.returncode != 0:
        raise SystemExit("bench/files.py: vmtest: exit %d: %s" % (r.returncode, r.stderr[-2000:]))
    return parse(r.stdout)


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--vmtest", default=os.path.join(REPO, "build", "vmtest"))
    p.add_argument("--kernel", default=(sorted(glob.glob("/boot/vmlinuz-*-amd64")) or [""])[-1],
                   help="the kernel to boot (default: the newest /boot/vmlinuz-*-amd64)")
    p.add_argument("--runs", type=int, default=3)
    args = p.parse_args(argv)
    if not os.path.exists(args.kernel):
        p.error("no kernel: give --kernel (make check installs linux-image-amd64)")
    shares = [("9p", ["--filesystem", "9p"])]
    have_virtiofs = os.geteuid() == 0 and any(
        os.access(p, os.X_OK) for p in ("/usr/libexec/virtiofsd", "/usr/lib/qemu/virtiofsd"))
    if have_virtiofs:
        shares.append(("virtiofs", ["--filesystem", "virtiofs"]))
    results = {name: {w: [] for w, _ in WORKLOADS} for name in ["host"] + [s for s, _ in shares]}
    # A guest run whose output differs from the host's failed part way: its time is no figure.
    incomplete = {}
    for i in range(args.runs):
        host = on_host()
        for name, options in shares:
            for w, (t, out) in in_guest(args.vmtest, args.kernel, options).items():
                if w != "git" and out != host[w][1]:
                    incomplete[(name, w)] = "%s: %s instead of %s" % (name, out, host[w][1])
                results[name][w].append(t)
        for w, (t, out) in host.items():
            results["host"][w].append(t)
        print("# run %d/%d done" % (i + 1, args.runs), file=sys.stderr, flush=True)
    print("# vmtest file-access benchmark, %s" % datetime.datetime.now().astimezone()
          .strftime("%Y-%m-%d %H:%M %Z"))
    print("# command: %s" % shlex.join(["/usr/bin/python3", "bench/files.py", *argv]))
    print("# kernel: %s; %d runs, interleaved; medians in seconds, inside the guest"
          % (args.kernel, args.runs))
    if not have_virtiofs:
        print("# virtiofs: no column (no virtiofsd, or not root)")
    print()
    head = ["workload"] + [s for s, _ in shares] + ["host"] + ["%s/host" % s for s, _ in shares]
    if have_virtiofs:
        head.append("virtiofs/9p")
    rows = [head]
    for w, cmd in WORKLOADS:
        med = {n: statistics.median(results[n][w]) for n in results}
        bad = {s for s, _ in shares if (s, w) in incomplete}
        rows.append([w] + ["failed" if s in bad else "%.2f" % med[s] for s, _ in shares]
                    + ["%.2f" % med["host"]]
                    + ["-" if s in bad or not med["host"] else "%.0f" % (med[s] / med["host"])
                       for s, _ in shares]
                    + (["-" if bad else "%.2f" % (med["virtiofs"] / med["9p"])]
                       if have_virtiofs else []))
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    for n, r in enumerate(rows):
        print("  ".join(c.ljust(wd) if i == 0 else c.rjust(wd)
                        for i, (c, wd) in enumerate(zip(r, widths))))
        if n == 0:
            print("  ".join("-" * wd for wd in widths))
    print()
    for w, cmd in WORKLOADS:
        print("# %s: %s" % (w, cmd))
    print("# in the guest, each workload starts with its caches dropped")
    for (name, w), why in sorted(incomplete.items()):
        print("# %s failed part way over %s (counted %s)" % (w, name, why))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
