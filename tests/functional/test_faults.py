# SPDX-License-Identifier: MIT
"""Faults end with an explanation, the documented status and nothing left
behind: QEMU missing, refusing an option or killed; the guest powering off
mid-command; commands that leave daemons, close their output or print
binary data; vmtest itself killed with SIGKILL or stopped with SIGTERM."""
import hashlib
import os
import signal
import subprocess
import time

from conftest import small_kernel


def qemus_sharing(path):
    r = subprocess.run(["pgrep", "-f", "qemu-system.*path=%s" % path], capture_output=True,
                       text=True)
    return r.stdout.split()


def run_dirs(runtime):
    return sorted(d for d in os.listdir(runtime) if d.startswith("vmtest-"))


def start(binary, args, cwd, env):
    return subprocess.Popen([binary, *args], cwd=cwd, env=dict(os.environ, **env),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def wait_line(p, line, timeout=120):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        got = p.stdout.readline()
        if got == line:
            return
        assert got, "vmtest ended before printing %r" % line
    raise AssertionError("no %r within %d s" % (line, timeout))


def test_qemu_missing_or_refusing(vmtest, tmp_path):
    base = '[[target]]\nname = "t"\nkernel = "%s"\ncommand = "true"\n' % small_kernel()
    (tmp_path / "vmtest.toml").write_text(base + 'qemu_command = "/nonexistent/qemu-system-x86_64"\n')
    start_time = time.monotonic()
    r = vmtest(cwd=tmp_path)
    assert r.returncode == 69, r.stdout + r.stderr
    assert r.stdout.endswith("vmtest: cannot run /nonexistent/qemu-system-x86_64: No such file or "
                             "directory\nFAILED\n")
    assert time.monotonic() - start_time < 5  # said at once, not after a socket timeout
    (tmp_path / "vmtest.toml").write_text(base + '[target.vm]\nextra_args = ["-no-such-option"]\n')
    r = vmtest(cwd=tmp_path)
    assert r.returncode == 69
    assert "-no-such-option: invalid option" in r.stdout, r.stdout + r.stderr
    assert r.stdout.endswith("FAILED\n")
    assert qemus_sharing(tmp_path) == []


def test_guest_faults_and_hard_commands(vmtest, tmp_path):
    kernel = small_kernel()
    # The guest powers itself off while the command runs.
    r = vmtest("-k", kernel, "echo going; busybox poweroff -f; sleep 60", cwd=tmp_path,
               timeout=120)
    assert r.returncode == 69
    assert r.stdout == "going\n"
    assert "vmtest: the guest powered off before the command ended" in r.stderr
    # A daemon that outlives the command (and keeps its output open) does
    # not hold vmtest: the command's end is the end.
    start_time = time.monotonic()
    r = vmtest("-k", kernel, "sleep 600 & echo parent-done", cwd=tmp_path, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "parent-done\n"
    assert time.monotonic() - start_time < 60
    # The command kills every process it can (kill -9 -1): vmtest's init
    # (PID 1, which also answers the agent protocol) survives it, and the
    # command's output and status still arrive.
    r = vmtest("-k", kernel, "kill -9 -1; echo survived > /mnt/vmtest/after; echo survived; exit 4",
               cwd=tmp_path, timeout=120)
    assert r.returncode == 4, r.stderr
    assert r.stdout == "survived\n"
    assert (tmp_path / "after").read_text() == "survived\n"
    # A command that closes its stdout early still reports its status.
    r = vmtest("-k", kernel, "exec >&-; echo to-stderr >&2; exit 3", cwd=tmp_path, timeout=120)
    assert r.returncode == 3
    assert r.stdout == "" and "to-stderr\n" in r.stderr
    # Binary data, and a 1 MiB line without a newline, arrive byte for byte.
    r = subprocess.run([vmtest.binary, "-k", kernel,
                        "head -c 1048576 /dev/urandom > blob; cat blob; "
                        "head -c 1048576 /dev/zero | tr '\\0' x"],
                       cwd=tmp_path, capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr
    blob = (tmp_path / "blob").read_bytes()
    assert len(blob) == 1048576
    assert hashlib.sha256(r.stdout).hexdigest() == hashlib.sha256(blob + b"x" * 1048576).hexdigest()


def test_vmtest_killed_or_stopped(vmtest_binary, tmp_path):
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    project = tmp_path / "project"
    project.mkdir()
    env = {"XDG_RUNTIME_DIR": str(runtime)}
    kernel = small_kernel()

    # SIGKILL while the command runs: QEMU goes with vmtest (PDEATHSIG);
    # the run directory stays until the next run removes it.
    p = start(vmtest_binary, ["-k", kernel, "echo started; sleep 600"], project, env)
    try:
        wait_line(p, b"started\n")
        assert qemus_sharing(project)
        p.kill()
        p.wait(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
    for _ in range(50):
        if not qemus_sharing(project):
            break
        time.sleep(0.1)
    assert qemus_sharing(project) == []
    stale = run_dirs(runtime)
    assert len(stale) == 1 and stale[0].startswith("vmtest-%d-" % p.pid)

    # SIGTERM while booting: 143, no QEMU, no run directory, and the stale
    # one of the killed run is gone too.
    p = start(vmtest_binary, ["-k", kernel, "echo never"], project, env)
    try:
        time.sleep(1.0)
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 143
    assert p.stdout.read() == b""
    assert p.stderr.read().endswith(b"vmtest: interrupted by SIGTERM; the VM was stopped\n")
    time.sleep(0.2)
    assert qemus_sharing(project) == []
    assert run_dirs(runtime) == []

    # QEMU killed under a running command: explained, 69, nothing left.
    p = start(vmtest_binary, ["-k", kernel, "echo started; sleep 600"], project, env)
    try:
        wait_line(p, b"started\n")
        for pid in qemus_sharing(project):
            os.kill(int(pid), signal.SIGKILL)
        p.wait(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 69
    assert b"vmtest: QEMU was killed by signal 9 (SIGKILL)" in p.stderr.read()
    assert run_dirs(runtime) == []


def test_two_runs_at_once(vmtest_binary, tmp_path):
    """Two vmtest runs of one config at once: their sockets, caches and
    output directories do not meet."""
    (tmp_path / "vmtest.toml").write_text(
        '[[target]]\nname = "t"\nkernel = "%s"\ncommand = "echo run-$RUN > /mnt/vmtest/out-$RUN; '
        'cat /mnt/vmtest/out-$RUN"\n' % small_kernel())
    ps = [subprocess.Popen([vmtest_binary, "--output-dir", "art-%d" % i, "--junit", "j-%d.xml" % i],
                           cwd=tmp_path, env=dict(os.environ, RUN=str(i)),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE) for i in (1, 2)]
    outs = [p.communicate(timeout=300) for p in ps]
    for i, (p, (out, err)) in enumerate(zip(ps, outs), 1):
        assert p.returncode == 0, err
        assert out.endswith(b"run-%d\nPASS\n" % i)
        assert (tmp_path / ("art-%d" % i) / "t" / "output.log").read_text() == "run-%d\n" % i
        assert (tmp_path / ("j-%d.xml" % i)).exists()


def test_core_path_under_valgrind(vmtest_binary, tmp_path):
    """A kernel target, and two at once with every report, under valgrind:
    no memory errors, nothing leaked.  (Run with the normal binary only: the
    Makefile deselects it for the ASan one, which valgrind cannot run.)"""
    kernel = small_kernel()
    vg = ["valgrind", "--leak-check=full", "--errors-for-leak-kinds=definite,indirect,possible",
          "--error-exitcode=99", "-q"]
    r = subprocess.run(vg + [vmtest_binary, "-k", kernel, "--", "echo hi; exit 3"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 3, r.stderr
    assert r.stdout == "hi\n"
    (tmp_path / "vmtest.toml").write_text(
        '[[target]]\nname = "a"\nkernel = "%s"\ncommand = "echo one"\n'
        '[[target]]\nname = "b"\nkernel = "%s"\ncommand = "exit 2"\n' % (kernel, kernel))
    r = subprocess.run(vg + [vmtest_binary, "-j", "2", "--junit", "j.xml", "--json", "j.json",
                             "--output-dir", "art", "--log", "run.log"],
                       cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert r.returncode == 1, r.stderr  # one target failed; 99 would be valgrind's
    assert "==" not in r.stderr, r.stderr  # -q: valgrind speaks only of errors
