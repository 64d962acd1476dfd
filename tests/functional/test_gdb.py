# SPDX-License-Identifier: MIT
"""--gdb (docs/gdb.md): QEMU's gdb stub on the loopback, the kernel booted
with nokaslr, the CPUs held with --gdb-wait until gdb continues, and no
deadline firing while gdb holds the guest.  gdb (Debian's) attaches in
batch mode and stops at start_kernel with a hardware breakpoint."""
import os
import re
import shutil
import socket
import subprocess
import threading
import time

import pytest

from conftest import debian_kernel, small_kernel


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening(port):
    try:
        socket.create_connection(("127.0.0.1", port), 0.2).close()
        return True
    except OSError:
        return False


def test_gdb_stops_the_kernel_at_start_kernel(vmtest, vmtest_binary, tmp_path):
    gdb = shutil.which("gdb")
    if not gdb:
        raise pytest.UsageError("no gdb: make check installs it")
    # Where start_kernel is without KASLR, from the guest itself (Debian's
    # System.map is a placeholder).
    r = vmtest("--kargs", "nokaslr", "-k", debian_kernel(), "--",
               "grep ' T start_kernel$' /proc/kallsyms", cwd=tmp_path, timeout=300)
    assert r.returncode == 0, r.stderr
    address = r.stdout.split()[0]
    port = free_port()
    env = dict(os.environ)
    env.pop("VMTEST_NO_UI", None)
    p = subprocess.Popen([vmtest_binary, "--gdb", str(port), "--gdb-wait", "-k", debian_kernel(),
                          "--", "echo after gdb; cat /proc/cmdline"],
                         cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    timer = threading.Timer(400, p.kill)
    timer.start()
    try:
        for _ in range(600):
            if listening(port) or p.poll() is not None:
                break
            time.sleep(0.1)
        assert listening(port), p.communicate()
        # Held: the CPU is still at its reset vector (0xfff0), not one
        # instruction run, however long QEMU has been up.
        g = subprocess.run([gdb, "-nx", "-batch", "-ex", "target remote 127.0.0.1:%d" % port,
                            "-ex", "p/x $pc",
                            "-ex", "hbreak *0x%s" % address, "-ex", "continue",
                            "-ex", "p/x $pc", "-ex", "delete", "-ex", "detach"],
                           capture_output=True, text=True, timeout=300)
        out, err = p.communicate(timeout=300)
    finally:
        timer.cancel()
        if p.poll() is None:
            p.kill()
            p.wait()
    assert "hit Breakpoint 1, 0x%s" % address in g.stdout, g.stdout + g.stderr
    assert re.search(r"^\$1 = 0xfff0$", g.stdout, re.M), g.stdout
    assert re.search(r"\$2 = 0x%s" % address, g.stdout), g.stdout
    assert p.returncode == 0, err
    assert out.startswith("after gdb\n") and " nokaslr" in out, out
    assert "gdb stub on 127.0.0.1:%d, the CPUs held until gdb continues; attach with: gdb " \
        "-ex 'target remote 127.0.0.1:%d'" % (port, port) in err, err


def test_gdb_refusals(vmtest, tmp_path):
    """A bad port, --gdb-wait alone: usage errors; a port that is taken:
    one line, status 69, before QEMU starts."""
    r = vmtest("--gdb", "0", "-k", small_kernel(), "true", cwd=tmp_path)
    assert r.returncode == 2
    assert "--gdb '0': expected a port (1 to 65535)" in r.stderr, r.stderr
    r = vmtest("--gdb-wait", "-k", small_kernel(), "true", cwd=tmp_path)
    assert r.returncode == 2
    assert "--gdb-wait needs --gdb PORT" in r.stderr, r.stderr
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = vmtest("-v", "--gdb", str(port), "-k", small_kernel(), "true", cwd=tmp_path)
    assert r.returncode == 69, r.stderr
    assert "cannot start the gdb stub on 127.0.0.1:%d: Address already in use" % port \
        in r.stderr, r.stderr
    assert "qemu-system" not in r.stderr
