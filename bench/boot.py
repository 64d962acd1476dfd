#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""How long `vmtest -k KERNEL -- true` takes, next to the floor under it.

For each kernel, in one run and interleaved, this times:

  A      `vmtest -k KERNEL -- true`, from spawn to exit: a warm start, the
         guest restored from the snapshot an earlier run saved;
  first  the same as the first run of a guest: a cold boot that saves the
         snapshot (the bench's cache has its snapshots removed before);
  cold   `vmtest --no-snapshot -k KERNEL -- true`: a cold boot, nothing saved;
  A vfs  `vmtest --filesystem virtiofs -k KERNEL -- true`, warm (after an
         untimed run that saves its snapshot): where vmtest can run
         virtiofs daemons (root, a virtiofsd installed);
  B      the floor: the same QEMU booting the same file vmtest boots, with the
         same machine, accelerator, CPU, memory and kernel command line, into
         an initramfs whose /init powers off at once, with no devices beyond
         a serial console written to a file;
  phases `vmtest -v -k KERNEL -- true`, its stage lines time-stamped as they
         arrive (skipped with --no-phases).

and for each disk image (by default the project's busybox test image,
scripts/test-image.sh bios), `vmtest -i IMAGE -- true` warm, first and
cold as above; an image has no floor of this kind.

It prints figures only; it never judges them.  See bench/README.md.
"""
import argparse
import datetime
import glob
import os
import re
import selectors
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
DEFAULT_VMTEST = os.path.join(REPO, "build", "vmtest")


def small_kernel():
    """The small test kernel: scripts/test-kernel.sh's (built and cached when absent)."""
    return subprocess.run([os.path.join(REPO, "scripts", "test-kernel.sh")], check=True,
                          stdout=subprocess.PIPE, text=True).stdout.strip()


# The floor keeps these options of vmtest's QEMU command line and nothing
# else: what decides how fast the same kernel boots.
FLOOR_KEPT = ("-machine", "-M", "-accel", "-cpu", "-smp", "-m", "-kernel", "-append")
FLOOR_KEPT_FLAGS = ("-enable-kvm",)
QEMU_FLAGS = ("-nodefaults", "-no-user-config", "-no-reboot", "-enable-kvm",
              "-nographic", "-S", "-snapshot")
FLOOR_BASE = ("-nodefaults", "-no-user-config", "-display", "none", "-no-reboot")

FLOOR_INIT_C = r"""
#include <sys/reboot.h>
#include <unistd.h>

int main(void)
{
	reboot(RB_POWER_OFF);
	return 1;
}
"""

# vmtest -v stage lines (on stderr for a one-liner), in order, each with the
# phase it ends.  "Running command" is followed by QEMU's exit, seen through
# a pidfd, and then vmtest's own; PASS is printed only after power-off.
PHASE_MARKS = (
    ("prepare", "===> Booting"),
    ("boot", "===> Setting up VM"),
    ("setup", "===> Running command"),
)
PHASES = ["prepare", "boot", "setup", "run+poweroff", "exit"]

KERNEL_TIME = re.compile(rb"^\[\s*(\d+\.\d+)\]", re.M)


class BenchError(Exception):
    pass


class Interrupted(Exception):
    pass


# --- children ----------------------------------------------------------------

# The child being timed, so that an interrupt can stop it and its QEMU.
_current = None


def _start_time(pid):
    """The process's start time in clock ticks: with its pid, an identity
    that a recycled pid does not share."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _children_of(pid):
    """Direct children of pid (vmtest's QEMU) with their start times."""
    found = []
    for task in glob.glob("/proc/%d/task/*/children" % pid):
        try:
            with open(task) as f:
                found += [int(p) for p in f.read().split()]
        except OSError:
            pass
    return [(p, _start_time(p)) for p in found]


def _kill_quietly(pid, signo):
    try:
        os.kill(pid, signo)
    except ProcessLookupError:
        pass


def stop_current():
    """Stop the running child: vmtest first politely (it kills its QEMU),
    then SIGKILL for it and for a QEMU of its still running."""
    proc = _current
    if proc is None or proc.poll() is not None:
        return
    stray = _children_of(proc.pid)
    _kill_quietly(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        _kill_quietly(proc.pid, signal.SIGKILL)
        proc.wait()
    for pid, started in stray:
        if started is not None and _start_time(pid) == started:
            _kill_quietly(pid, signal.SIGKILL)


def _on_signal(signo, _frame):
    raise Interrupted("interrupted by signal %d" % signo)


def spawn(argv, cwd, stderr):
    """Start argv in its own process group, so that a Ctrl-C reaches only us
    and we decide how the child stops."""
    global _current
    _current = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=stderr,
                                start_new_session=True)
    return _current


def finish(proc):
    global _current
    rc = proc.wait()
    _current = None
    return rc


# --- preparing ---------------------------------------------------------------

def _version_key(path):
    return [int(x) if x.isdigit() else x for x in re.split(r"(\d+)", path)]


def debian_kernels():
    """The newest of Debian's kernels in /boot, if any."""
    return sorted(glob.glob("/boot/vmlinuz-*-amd64"), key=_version_key)[-1:]


def build_floor_initramfs(tmp):
    """A static /init that only powers off, packed as cpio newc."""
    src = os.path.join(tmp, "floor-init.c")
    root = os.path.join(tmp, "floor-root")
    os.mkdir(root)
    with open(src, "w") as f:
        f.write(FLOOR_INIT_C)
    run_checked(["gcc", "-static", "-O2", "-o", os.path.join(root, "init"), src])
    cpio = os.path.join(tmp, "floor.cpio")
    with open(cpio, "wb") as out:
        r = subprocess.run(["cpio", "-o", "-H", "newc", "--quiet"], cwd=root,
                           input=b"init\n", stdout=out, stderr=subprocess.PIPE)
    if r.returncode != 0:
        raise BenchError("cpio: " + r.stderr.decode(errors="replace").strip())
    return cpio


def run_checked(argv, cwd=None):
    r = subprocess.run(argv, cwd=cwd, stdin=subprocess.DEVNULL,
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise BenchError("%s: exit %d: %s" % (shlex.join(argv), r.returncode,
                                              (r.stderr or r.stdout).strip()))
    return r


def vmtest_qemu_argv(vmtest, kernel, cwd):
    """vmtest's own QEMU command line for kernel, from --dry-run.  This also
    fills vmtest's cache (PVH ELF, initramfs) before anything is timed."""
    r = run_checked([vmtest, "-v", "--dry-run", "-k", kernel, "--", "true"], cwd=cwd)
    for line in (r.stdout + r.stderr).splitlines():
        if line.startswith("# qemu: "):
            return shlex.split(line[len("# qemu: "):])
    raise BenchError("%s --dry-run printed no '# qemu:' line" % vmtest)


def floor_argv(qemu_argv, initrd, serial_log):
    """The floor's QEMU command line, derived from vmtest's."""
    argv = [qemu_argv[0], *FLOOR_BASE]
    i = 1
    while i < len(qemu_argv):
        opt = qemu_argv[i]
        if opt in FLOOR_KEPT_FLAGS:
            argv.append(opt)
        elif opt in FLOOR_KEPT and i + 1 < len(qemu_argv):
            argv += [opt, qemu_argv[i + 1]]
            i += 1
        elif opt not in QEMU_FLAGS and i + 1 < len(qemu_argv):
            i += 1  # an option of vmtest's we leave out, with its value
        i += 1
    if "-kernel" not in argv:
        raise BenchError("no -kernel in vmtest's QEMU command line")
    return argv + ["-initrd", initrd, "-serial", "file:" + serial_log]


def option(argv, name):
    return argv[argv.index(name) + 1] if name in argv else "-"


# --- measuring ---------------------------------------------------------------

def drop_snapshots(cache):
    root = os.path.join(cache, "vmtest", "snapshots")
    if os.path.isdir(root):
        shutil.rmtree(root)


def time_vmtest(vmtest, kernel, cwd, log, *options, what="-k"):
    with open(log, "wb") as err:
        t0 = time.perf_counter()
        rc = finish(spawn([vmtest, *options, what, kernel, "--", "true"], cwd, err))
        t = time.perf_counter() - t0
    if rc != 0:
        raise BenchError("vmtest %s %s -- true: exit %d:\n%s" % (what, kernel, rc, tail(log)))
    return t


def time_floor(argv, serial_log, log):
    if os.path.exists(serial_log):
        os.unlink(serial_log)
    with open(log, "wb") as err:
        t0 = time.perf_counter()
        rc = finish(spawn(argv, None, err))
        t = time.perf_counter() - t0
    with open(serial_log, "rb") as f:
        console = f.read()
    if rc != 0 or b"reboot: Power down" not in console:
        raise BenchError("the floor did not power off (QEMU exit %d):\n%s\n%s"
                         % (rc, tail(log), console[-2000:].decode(errors="replace")))
    stamps = KERNEL_TIME.findall(console)
    return t, float(stamps[-1]) if stamps else None


def time_phases(vmtest, kernel, cwd):
    """vmtest -v, each stage line stamped when it arrives on our end, and
    its QEMU's exit when it happens."""
    t0 = time.perf_counter()
    proc = spawn([vmtest, "-v", "-k", kernel, "--", "true"], cwd, subprocess.PIPE)
    seen, lines, qemu_exit = {}, [], None
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stderr, selectors.EVENT_READ)
        pending = b""
        while sel.get_map():
            for key, _ in sel.select():
                now = time.perf_counter() - t0
                if key.fileobj is not proc.stderr:
                    qemu_exit = now
                    sel.unregister(key.fileobj)
                    os.close(key.fd)
                    continue
                data = os.read(key.fd, 65536)
                if not data:
                    sel.unregister(proc.stderr)
                    continue
                pending += data
                *complete, pending = pending.split(b"\n")
                for raw in complete:
                    line = raw.decode(errors="replace")
                    lines.append(line)
                    for name, mark in PHASE_MARKS:
                        if line == mark and name not in seen:
                            seen[name] = now
                    if line == "===> Booting":
                        watch_qemu(proc.pid, sel)
    rc = finish(proc)
    end = time.perf_counter() - t0
    proc.stderr.close()
    if rc != 0 or len(seen) != len(PHASE_MARKS) or qemu_exit is None:
        raise BenchError("vmtest -v -k %s -- true: exit %d:\n%s"
                         % (kernel, rc, "\n".join(lines[-20:])))
    ends = [seen[name] for name, _ in PHASE_MARKS] + [qemu_exit, end]
    return [b - a for a, b in zip([0.0] + ends, ends)]


def watch_qemu(vmtest_pid, sel):
    """Register a pidfd of vmtest's QEMU, which it starts right after
    printing "===> Booting"."""
    for _ in range(2000):
        for pid, _ in _children_of(vmtest_pid):
            try:
                fd = os.pidfd_open(pid)
            except ProcessLookupError:
                continue
            sel.register(fd, selectors.EVENT_READ)
            return
        time.sleep(0.001)
    raise BenchError("vmtest started no QEMU within 2 s of '===> Booting'")


def tail(path, n=2000):
    with open(path, "rb") as f:
        return f.read()[-n:].decode(errors="replace")


class Kernel:
    """One kernel to measure: vmtest's QEMU command line for it and the
    figures so far."""

    def __init__(self, path, qemu_argv, floor_initrd):
        self.path = path
        self.qemu_argv = qemu_argv
        self.floor_initrd = floor_initrd
        self.a, self.first, self.cold, self.b, self.b_kernel, self.phases = [], [], [], [], [], []
        self.a_vfs = []

    @property
    def name(self):
        return os.path.basename(self.path)

    @property
    def booted(self):
        """The file QEMU boots: the bzImage, or the PVH ELF vmtest cached."""
        return option(self.qemu_argv, "-kernel")

    def floor_argv(self, serial_log):
        return floor_argv(self.qemu_argv, self.floor_initrd, serial_log)


class Image:
    """One disk image to measure (warm, first, cold; no floor)."""

    def __init__(self, path):
        self.path = path
        self.a, self.first, self.cold = [], [], []

    @property
    def name(self):
        return os.path.basename(self.path)


def measure_image(image, args, tmp, label, timed):
    log = os.path.join(tmp, "vmtest.log")
    drop_snapshots(os.environ["XDG_CACHE_HOME"])
    first = time_vmtest(args.vmtest, image.path, tmp, log, what="-i")
    a = time_vmtest(args.vmtest, image.path, tmp, log, what="-i")
    cold = time_vmtest(args.vmtest, image.path, tmp, log, "--no-snapshot", what="-i")
    print("# %-9s %-28s A %6.2f s  first %6.2f s  cold %6.2f s"
          % (label, image.name, a, first, cold), file=sys.stderr, flush=True)
    if timed:
        image.a.append(a)
        image.first.append(first)
        image.cold.append(cold)


def measure(kernels, images, args, tmp):
    total = args.warmup + args.runs
    for i in range(total):
        timed = i >= args.warmup
        label = "run %d/%d" % (i - args.warmup + 1, args.runs) if timed else "warm-up"
        for k in kernels:
            serial = os.path.join(tmp, "floor-serial.log")
            log = os.path.join(tmp, "vmtest.log")
            drop_snapshots(os.environ["XDG_CACHE_HOME"])
            first = time_vmtest(args.vmtest, k.path, tmp, log)
            a = time_vmtest(args.vmtest, k.path, tmp, log)
            cold = time_vmtest(args.vmtest, k.path, tmp, log, "--no-snapshot")
            a_vfs = None
            if args.virtiofs:
                time_vmtest(args.vmtest, k.path, tmp, log, "--filesystem", "virtiofs")
                a_vfs = time_vmtest(args.vmtest, k.path, tmp, log, "--filesystem", "virtiofs")
            b, b_kernel = time_floor(k.floor_argv(serial), serial, os.path.join(tmp, "qemu.log"))
            p = time_phases(args.vmtest, k.path, tmp) if args.phases else None
            print("# %-9s %-28s A %6.2f s  first %6.2f s  cold %6.2f s  B %6.2f s"
                  % (label, k.name, a, first, cold, b), file=sys.stderr, flush=True)
            if timed:
                if a_vfs is not None:
                    k.a_vfs.append(a_vfs)
                k.first.append(first)
                k.cold.append(cold)
                k.a.append(a)
                k.b.append(b)
                if b_kernel is not None:
                    k.b_kernel.append(b_kernel)
                if p:
                    k.phases.append(p)
        for image in images:
            measure_image(image, args, tmp, label, timed)


# --- reporting ---------------------------------------------------------------

def med(xs):
    return statistics.median(xs) if xs else float("nan")


def print_table(rows):
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for n, r in enumerate(rows):
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                        for i, (c, w) in enumerate(zip(r, widths))).rstrip())
        if n == 0:
            print("  ".join("-" * w for w in widths))


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def report(kernels, images, args, argv_line, load_before):
    first = kernels[0].qemu_argv
    qemu_version = run_checked([first[0], "--version"]).stdout.splitlines()[0]
    print("# vmtest boot benchmark, %s" % datetime.datetime.now().astimezone()
          .strftime("%Y-%m-%d %H:%M %Z"))
    print("# command: %s" % argv_line)
    print("# host: %s, %d CPUs; %s" % (os.uname().nodename, os.cpu_count(), qemu_version))
    print("# load average (1, 5, 15 min): %s before, %s after" % (load_before, loadavg()))
    print("# QEMU options: -machine %s -accel %s -cpu %s -smp %s -m %s"
          % tuple(option(first, o) for o in ("-machine", "-accel", "-cpu", "-smp", "-m")))
    print("# %d timed runs per kernel after %d warm-up, interleaved first, A, cold, B%s; "
          "seconds" % (args.runs, args.warmup, ", phases" if args.phases else ""))
    print()
    rows = [("kernel", "A warm", "first", "cold", "B floor", "A/B", "cold/B", "first-cold",
             "A vfs", "vfs/B", "A min..max", "B min..max", "B in kernel")]
    for k in kernels:
        vfs = ("%.2f" % med(k.a_vfs), "%.2f" % (med(k.a_vfs) / med(k.b))) if k.a_vfs \
            else ("-", "-")
        rows.append((k.name, "%.2f" % med(k.a), "%.2f" % med(k.first), "%.2f" % med(k.cold),
                     "%.2f" % med(k.b), "%.2f" % (med(k.a) / med(k.b)),
                     "%.2f" % (med(k.cold) / med(k.b)),
                     "%+.2f" % (med(k.first) - med(k.cold)), *vfs,
                     "%.2f..%.2f" % (min(k.a), max(k.a)),
                     "%.2f..%.2f" % (min(k.b), max(k.b)),
                     "%.2f" % med(k.b_kernel)))
    print_table(rows)
    print()
    for k in kernels:
        print("# %s boots %s" % (k.name, k.booted))
    print("# A: vmtest -k KERNEL -- true, restored from its snapshot; first: the same with")
    print("# no snapshot yet (cold boot, then saved); cold: with --no-snapshot;")
    print("# A vfs: A with --filesystem virtiofs (-: vmtest cannot run its daemons here);")
    print("# B: QEMU alone, same kernel file and options,")
    print("# /init = reboot(RB_POWER_OFF); 'B in kernel': the guest clock at power-off")
    if images:
        print()
        rows = [("image", "A warm", "first", "cold", "A/cold", "first-cold", "A min..max")]
        for image in images:
            rows.append((image.name, "%.2f" % med(image.a), "%.2f" % med(image.first),
                         "%.2f" % med(image.cold), "%.2f" % (med(image.a) / med(image.cold)),
                         "%+.2f" % (med(image.first) - med(image.cold)),
                         "%.2f..%.2f" % (min(image.a), max(image.a))))
        print_table(rows)
        print("# vmtest -i IMAGE -- true: A restored from its snapshot, first saving it,")
        print("# cold with --no-snapshot")
    if args.phases:
        print()
        print("# vmtest -v phases (medians): prepare = spawn to '===> Booting';")
        print("# boot = to '===> Setting up VM'; setup = to '===> Running command';")
        print("# run+poweroff = to QEMU's exit; exit = to vmtest's exit")
        rows = [("kernel", *PHASES, "total")]
        for k in kernels:
            cols = list(zip(*k.phases))
            rows.append((k.name, *("%.2f" % med(c) for c in cols),
                         "%.2f" % med([sum(p) for p in k.phases])))
        print_table(rows)


# --- main --------------------------------------------------------------------

def parse_args(argv):
    p = argparse.ArgumentParser(
        description="Time `vmtest -k KERNEL -- true` against QEMU booting the "
                    "same kernel into an /init that powers off at once.")
    p.add_argument("--vmtest", default=DEFAULT_VMTEST,
                   help="the vmtest binary (default: build/vmtest of this checkout)")
    p.add_argument("--kernel", action="append", dest="kernels", metavar="PATH",
                   help="a kernel to boot; repeatable (default: the small test kernel of "
                        "scripts/test-kernel.sh and the newest /boot/vmlinuz-*-amd64)")
    p.add_argument("--image", action="append", dest="images", metavar="PATH",
                   help="a disk image to boot; repeatable (default: scripts/test-image.sh "
                        "bios); --image none for none")
    p.add_argument("--runs", type=int, default=7, help="timed runs of each (default 7)")
    p.add_argument("--no-virtiofs", dest="virtiofs", action="store_false",
                   help="skip the virtiofs column (it is skipped where vmtest cannot run "
                        "virtiofs daemons: not root, or no virtiofsd)")
    p.add_argument("--warmup", type=int, default=1,
                   help="untimed rounds first (default 1)")
    p.add_argument("--no-phases", dest="phases", action="store_false",
                   help="skip the extra `vmtest -v` runs that time its phases")
    args = p.parse_args(argv)
    if args.runs < 1 or args.warmup < 0:
        p.error("--runs must be at least 1 and --warmup at least 0")
    if not args.kernels:
        args.kernels = [small_kernel()] + debian_kernels()
    if not args.images:
        args.images = [subprocess.run([os.path.join(REPO, "scripts", "test-image.sh"), "bios"],
                                      check=True, stdout=subprocess.PIPE,
                                      text=True).stdout.strip()]
    args.images = [os.path.abspath(i) for i in args.images if i != "none"]
    args.vmtest = os.path.abspath(args.vmtest)
    args.kernels = [os.path.abspath(k) for k in args.kernels]
    for path in [args.vmtest] + args.kernels + args.images:
        if not os.path.exists(path):
            p.error("%s: no such file" % path)
    return args


def virtiofs_available():
    """What vmtest asks before it runs virtiofs daemons (docs/virtiofs.md)."""
    return os.geteuid() == 0 and (
        any(os.access(p, os.X_OK) for p in ("/usr/libexec/virtiofsd", "/usr/lib/qemu/virtiofsd"))
        or shutil.which("virtiofsd") is not None)


def prepare(args, tmp):
    args.virtiofs = args.virtiofs and virtiofs_available()
    initrd = build_floor_initramfs(tmp)
    kernels = []
    for path in args.kernels:
        qemu_argv = vmtest_qemu_argv(args.vmtest, path, tmp)
        kernels.append(Kernel(path, qemu_argv, initrd))
    return kernels


def main(argv):
    args = parse_args(argv)
    # Explicitly: a shell starting us in the background may have set
    # SIGINT to be ignored, and then Python installs no handler of its own.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGHUP, _on_signal)
    argv_line = shlex.join(["/usr/bin/python3", "bench/boot.py", *argv])
    try:
        with tempfile.TemporaryDirectory(prefix="vmtest-bench-") as tmp:
            # A cache of the bench's own: its snapshots are dropped at will.
            os.environ["XDG_CACHE_HOME"] = os.path.join(tmp, "cache")
            load_before = loadavg()
            try:
                kernels = prepare(args, tmp)
                images = [Image(path) for path in args.images]
                measure(kernels, images, args, tmp)
            finally:
                stop_current()
            report(kernels, images, args, argv_line, load_before)
    except (KeyboardInterrupt, Interrupted) as e:
        print("bench/boot.py: %s" % (str(e) or "interrupted"), file=sys.stderr)
        return 130
    except BenchError as e:
        print("bench/boot.py: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
