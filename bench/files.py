#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""How fast a guest reads the host's files, next to a plain 9p root and the host.

Four workloads, each timed inside the guest (so the boot is not counted)
and on the host, interleaved, for each way of reaching the host's files:

  find      `find /usr/include /usr/share/doc /usr/lib/x86_64-linux-gnu`:
            metadata of the read-only root
  read      every file of /usr/include read once (`find ... -exec cat {} +`)
  git       `git status` of this checkout (the shared directory, read-write)
  walk-15k  `find /usr/include /usr/share/doc` (the earlier figure)

The ways, each a column:

  default   vmtest as a user runs it (vm.filesystem = auto): /usr from
            vmtest's image of it where the kernel has EROFS
  9p        --filesystem 9p: all of the root over 9p, no image
  virtiofs  --filesystem virtiofs, where a virtiofsd is installed and we
            are root
  plain-9p  the floor 9p allows: a second 9p export of /, mounted read-only
            with cache=loose and nothing over it (no overlay), the workload
            run chrooted in it (its `git status` reads the checkout through
            that mount too, as a guest with nothing else would)
  host      the host itself

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
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)

WORKLOADS = [
    ("find", "find /usr/include /usr/share/doc /usr/lib/x86_64-linux-gnu | wc -l"),
    ("read", "find /usr/include -type f -exec cat {} + | wc -c"),
    ("git", "git status --porcelain | wc -l"),   # after an untimed one: see PREPARE
    ("walk-15k", "find /usr/include /usr/share/doc -xdev | wc -l"),
]
# Untimed, before a workload: git's index keeps each file's inode number,
# which a guest sees other than the host does over 9p (docs/performance.md),
# so the first `git status` after one on the other side (or over another
# share) hashes every file again and rewrites the index.  Each way is timed
# in its steady state: after a `git status` of its own.
PREPARE = {"git": "git status >/dev/null 2>&1"}
# The workload (docs/performance.md): the sum of these.
TOTAL = ("find", "read", "git")

# The plain 9p root: a second export of / that the guest mounts itself.
PLAIN_TAG = "plainroot"
PLAIN_EXTRA_ARGS = ["-fsdev", "local,id=plain,path=/,security_model=none,readonly=on,multidevs=remap",
                    "-device", "virtio-9p-pci,fsdev=plain,mount_tag=" + PLAIN_TAG]
PLAIN_MOUNT = ("mkdir -p /mnt/plain && mount -t 9p -o ro,trans=virtio,version=9p2000.L,"
               "msize=512000,cache=loose %s /mnt/plain && mount -t proc proc /mnt/plain/proc"
               % PLAIN_TAG)


def timed_script(guest):
    """One guest (or host) shell script that times each workload and prints
    'NAME START END OUTPUT' lines.  In the guest, each workload starts with
    the guest's caches dropped: a cold start for each, and a virtiofs
    daemon's open files (one per inode the guest holds) closed."""
    lines = ["cd %s" % shlex.quote(REPO)]
    for name, cmd in WORKLOADS:
        if name in PREPARE:
            lines.append(PREPARE[name])
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


def in_plain_guest(vmtest, kernel, tmp):
    """The workload chrooted in a plain read-only 9p mount of / (cache=loose).
    The target's config lives in tmp, so that what vmtest shares read-write
    is tmp, not the checkout: the checkout is read through the plain mount."""
    script = os.path.join(tmp, "plain.sh")
    with open(script, "w") as f:
        f.write("%s || exit 97\nexec chroot /mnt/plain sh -c %s\n"
                % (PLAIN_MOUNT, shlex.quote(timed_script(True))))
    with open(os.path.join(tmp, "vmtest.toml"), "w") as f:
        f.write('[[target]]\nname = "plain-9p"\nkernel = "%s"\ncommand = "sh %s"\n'
                '[target.vm]\nfilesystem = "9p"\nextra_args = [%s]\n'
                % (kernel, script, ", ".join('"%s"' % a for a in PLAIN_EXTRA_ARGS)))
    r = subprocess.run([vmtest, "--no-ui", "-c", os.path.join(tmp, "vmtest.toml")], cwd=tmp,
                       capture_output=True, text=True, timeout=1800)
    if r.returncode != 0:
        raise SystemExit("bench/files.py: the plain 9p guest: exit %d: %s"
                         % (r.returncode, (r.stdout + r.stderr)[-2000:]))
    return parse(r.stdout)


def auto_choice(vmtest, kernel):
    """What vm.filesystem = auto takes here, as vmtest -v says it."""
    r = subprocess.run([vmtest, "-v", "--no-ui", "-k", kernel, "--", "true"], cwd=REPO,
                       capture_output=True, text=True, timeout=600)
    m = re.search(r"^vmtest: (9p|virtiofs) \(vm.filesystem = auto\)(.*)$", r.stderr, re.M)
    usr = re.search(r"^vmtest: (/usr from vmtest's image|/usr over .*?):", r.stderr, re.M)
    if not m:
        return "unknown (%s)" % r.stderr[-300:]
    return "%s%s; %s" % (m.group(1), m.group(2), usr.group(1) if usr else "/usr: not said")


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--vmtest", default=os.path.join(REPO, "build", "vmtest"))
    p.add_argument("--kernel", default=(sorted(glob.glob("/boot/vmlinuz-*-amd64")) or [""])[-1],
                   help="the kernel to boot (default: the newest /boot/vmlinuz-*-amd64)")
    p.add_argument("--runs", type=int, default=3)
    args = p.parse_args(argv)
    if not os.path.exists(args.kernel):
        p.error("no kernel: give --kernel (make check installs linux-image-amd64)")
    auto = auto_choice(args.vmtest, args.kernel)
    ways = [("default", []), ("9p", ["--filesystem", "9p"])]
    have_virtiofs = os.geteuid() == 0 and any(
        os.access(p, os.X_OK) for p in ("/usr/libexec/virtiofsd", "/usr/lib/qemu/virtiofsd"))
    if have_virtiofs:
        ways.append(("virtiofs", ["--filesystem", "virtiofs"]))
    ways.append(("plain-9p", None))
    names = [w for w, _ in ways] + ["host"]
    results = {name: {w: [] for w, _ in WORKLOADS} for name in names}
    # A guest run whose output differs from the host's failed part way: its time is no figure.
    incomplete = {}
    with tempfile.TemporaryDirectory(prefix="vmtest-bench-files-") as tmp:
        for i in range(args.runs):
            host = on_host()
            for name, options in ways:
                got = in_plain_guest(args.vmtest, args.kernel, tmp) if options is None else \
                    in_guest(args.vmtest, args.kernel, options)
                for w, (t, out) in got.items():
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
    print("# default: vm.filesystem = auto, which here is %s" % auto)
    if not have_virtiofs:
        print("# virtiofs: no column (no virtiofsd, or not root)")
    print()
    guests = [w for w, _ in ways]
    head = ["workload"] + names + ["%s/plain" % g for g in guests if g != "plain-9p"]
    rows = [head]
    for w in [w for w, _ in WORKLOADS] + ["total"]:
        parts = TOTAL if w == "total" else (w,)
        med = {n: sum(statistics.median(results[n][x]) for x in parts) for n in names}
        bad = {g for g in guests if any((g, x) in incomplete for x in parts)}
        rows.append([w] + ["failed" if n in bad else "%.2f" % med[n] for n in names]
                    + ["-" if g in bad or "plain-9p" in bad else "%.2f" % (med[g] / med["plain-9p"])
                       for g in guests if g != "plain-9p"])
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    for n, r in enumerate(rows):
        print("  ".join(c.ljust(wd) if i == 0 else c.rjust(wd)
                        for i, (c, wd) in enumerate(zip(r, widths))))
        if n == 0:
            print("  ".join("-" * wd for wd in widths))
    print()
    for w, cmd in WORKLOADS:
        print("# %s: %s" % (w, cmd))
    print("# total: %s (the workload of docs/performance.md)" % " + ".join(TOTAL))
    print("# in the guest, each workload starts with its caches dropped")
    for (name, w), why in sorted(incomplete.items()):
        print("# %s failed part way over %s (counted %s)" % (w, name, why))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
