# SPDX-License-Identifier: MIT
"""Faults end with an explanation, the documented status and nothing left
behind: QEMU missing, refusing an option, lacking 9p or killed in each
stage; a guest agent that is silent, talks garbage, answers with the wrong
id, hangs up mid-reply or never stops talking; the guest powering off
mid-command; commands that leave daemons, close their output or print
binary data; vmtest itself signalled in each stage or killed; a full or
read-only cache, spool or current directory."""
import contextlib
import hashlib
import os
import shutil
import select
import signal
import subprocess
import time

import pexpect
import pytest

from conftest import default_signals, small_kernel

HERE = os.path.dirname(os.path.abspath(__file__))
FAKE_QEMU = os.path.join(HERE, "fake_qemu.py")


def qemus_sharing(path):
    r = subprocess.run(["pgrep", "-f", "qemu-system.*path=%s" % path], capture_output=True,
                       text=True)
    return r.stdout.split()


def fake_qemus(runtime):
    """fake_qemu.py processes started for runs under this runtime directory."""
    r = subprocess.run(["pgrep", "-f", "fake_qemu.py.*%s" % runtime], capture_output=True,
                       text=True)
    return r.stdout.split()


def run_dirs(runtime):
    return sorted(d for d in os.listdir(runtime) if d.startswith("vmtest-"))


def wait_until(condition, what, timeout=120):
    """Returns condition()'s value once it is true; fails with what after
    timeout seconds."""
    end = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < end, what
        time.sleep(0.05)


def start(binary, args, cwd, env):
    return subprocess.Popen([binary, *args], cwd=cwd, env=dict(os.environ, **env),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=default_signals)


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
    # A QEMU built without 9p, as RHEL's qemu-kvm is: it refuses the device
    # with this message (github.com/arighi/virtme-ng/issues/63) and vmtest
    # says what is missing.
    no9p = tmp_path / "qemu-without-9p"
    no9p.write_text("#!/bin/sh\n"
                    "for a; do case $a in virtio-9p-*) echo \"qemu-system-x86_64: -device $a: "
                    "'${a%%,*}' is not a valid device model name\" >&2; exit 1;; esac; done\n"
                    "exec qemu-system-x86_64 \"$@\"\n")
    no9p.chmod(0o755)
    (tmp_path / "vmtest.toml").write_text(base + 'qemu_command = "%s"\n' % no9p)
    r = vmtest(cwd=tmp_path)
    assert r.returncode == 69
    assert "'virtio-9p-pci' is not a valid device model name\nvmtest: this QEMU has no 9p " \
           "(VirtFS) support, which kernel targets need" in r.stdout, r.stdout + r.stderr
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


def test_keys_for_a_program_that_does_not_read(vmtest_binary, tmp_path):
    """Keys typed at a --tty command that never reads them fill the guest
    pty; the guest init (PID 1, the agent too) drops the excess instead of
    blocking on the pty, so the command's output and end still arrive."""
    script = '"$0" --tty -k "$1" "stty -echo; echo ready; sleep 6; echo done-\\$((6*7)); exit 3"; ' \
        'echo "status=$?"'
    child = pexpect.spawn("/bin/bash", ["-c", script, vmtest_binary, small_kernel()],
                          cwd=str(tmp_path), timeout=120, encoding="utf-8")
    sent = 0
    try:
        child.expect("ready")
        line = b"k" * 1023 + b"\r"
        end = time.monotonic() + 3
        while time.monotonic() < end:
            _, writable, _ = select.select([], [child.child_fd], [], 0.2)
            if writable:
                sent += os.write(child.child_fd, line)
            with contextlib.suppress(pexpect.TIMEOUT):
                child.read_nonblocking(65536, timeout=0)
        child.expect("done-42")
        child.expect("status=3")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    # Far more than a pty holds (4 KiB line buffer, 64 KiB in flight).
    assert sent > 1024 * 1024, sent


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

    # SIGTERM while booting (cold: a restore would be over by then): vmtest
    # dies of it (a shell says 143), no QEMU, no run directory, and the
    # stale one of the killed run is gone too.
    p = start(vmtest_binary, ["--no-snapshot", "-k", kernel, "echo never"], project, env)
    try:
        wait_until(lambda: qemus_sharing(project), "no QEMU started")
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == -signal.SIGTERM
    assert p.stdout.read() == b""
    assert p.stderr.read().endswith(b"vmtest: interrupted by SIGTERM; the VM was stopped\n")
    # vmtest reaps its QEMU before it ends: none is left the moment it has.
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


def test_parallel_targets_killed_or_outliving_a_worker(vmtest_binary, tmp_path):
    """With -j 2 the targets run on worker threads, but QEMU is forked by a
    thread that lives as long as vmtest (PR_SET_PDEATHSIG follows the
    thread that forked): a target whose worker thread had nothing more to
    do and exited keeps its QEMU to the end, and SIGKILL of vmtest takes
    every QEMU with it."""
    project = tmp_path / "project"
    project.mkdir()
    kernel = small_kernel()
    (project / "vmtest.toml").write_text(
        '[[target]]\nname = "quick"\nkernel = "%s"\ncommand = "echo quick"\n'
        '[[target]]\nname = "slow"\nkernel = "%s"\ncommand = "sleep 4; echo slow"\n'
        % (kernel, kernel))
    r = subprocess.run([vmtest_binary, "-j", "2", "--prefix"], cwd=project, capture_output=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    assert b"[quick] quick\n" in r.stdout and b"[slow] slow\n" in r.stdout

    (project / "vmtest.toml").write_text(
        '[[target]]\nname = "a"\nkernel = "%s"\ncommand = "echo started; sleep 600"\n'
        '[[target]]\nname = "b"\nkernel = "%s"\ncommand = "echo started; sleep 600"\n'
        % (kernel, kernel))
    p = start(vmtest_binary, ["-j", "2", "--prefix"], project, {})
    try:
        seen = set()
        while len(seen) < 2:
            line = p.stdout.readline()
            assert line, "vmtest ended before both targets started"
            if line.endswith(b"] started\n"):
                seen.add(line)
        assert len(qemus_sharing(project)) == 2
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


def fake_target(tmp_path, kernel=None, **kv):
    """A project whose one target runs under fake_qemu.py."""
    project = tmp_path / "project"
    project.mkdir(exist_ok=True)
    runtime = tmp_path / "runtime"
    runtime.mkdir(exist_ok=True)
    (project / "vmtest.toml").write_text(
        '[[target]]\nname = "t"\nkernel = "%s"\nqemu_command = "%s"\ncommand = "echo started"\n'
        % (kernel or small_kernel(), FAKE_QEMU))
    return project, runtime


def test_misbehaving_agent(vmtest_binary, tmp_path):
    """A fake QEMU on vmtest's real sockets plays agents a real guest cannot
    be made to: each ends within the deadline with what happened, 69, and
    nothing left.  While booting, vmtest keeps reconnecting and syncing
    until --boot-timeout; once set up, the first bad reply ends it (and
    --boot-timeout bounds the set-up's requests too)."""
    project, runtime = fake_target(tmp_path)
    boot = "vmtest: the guest did not answer within 3 s of booting\n"
    trouble = "vmtest: the guest agent did not answer properly within 3 s of booting (last: " \
              "guest-sync-delimited: %s)\n"
    cases = {
        "silent": boot,
        "garbage": boot,
        "wrong-id": boot,
        "close": trouble % "connection closed by the guest agent in the middle of a message "
                           "(21 bytes)",
        "flood": trouble % "a message from the guest agent longer than 67108864 bytes",
        "after-sync-silent": "vmtest: vmtest-setup: timed out waiting for the guest agent\n",
        "after-sync-garbage": "vmtest: vmtest-setup: expected a JSON object from the guest agent, "
                              "got byte 0x00\n",
        "after-sync-wrong-id": "vmtest: vmtest-setup: timed out waiting for the guest agent\n",
        "after-sync-close": "vmtest: vmtest-setup: connection closed by the guest agent in the "
                            "middle of a message (21 bytes)\n",
        "after-sync-flood": "vmtest: vmtest-setup: a message from the guest agent longer than "
                            "67108864 bytes\n",
    }
    for mode, said in cases.items():
        start_time = time.monotonic()
        r = subprocess.run([vmtest_binary, "--boot-timeout", "3s"], cwd=project,
                           env=dict(os.environ, FAKE_AGENT=mode, XDG_RUNTIME_DIR=str(runtime)),
                           capture_output=True, text=True, timeout=120)
        took = time.monotonic() - start_time
        assert r.returncode == 69, (mode, r.stdout, r.stderr)
        assert r.stdout.endswith(said + "FAILED\n"), (mode, r.stdout)
        assert "started" not in r.stdout
        assert took < 30, (mode, took)
        assert fake_qemus(runtime) == [], mode
        assert run_dirs(runtime) == [], mode


def start_and_wait(argv, cwd, env, line):
    p = start(argv[0], argv[1:], cwd, env)
    try:
        wait_line(p, line)
    except BaseException:
        p.kill()
        p.wait()
        raise
    return p


def stacks(pid):
    """Where a vmtest that does not end is stuck, for the failure's report:
    each thread's name, kernel wait channel and system call (and gdb's
    stacks where gdb is installed)."""
    lines = []
    for task in sorted(os.listdir("/proc/%d/task" % pid)):
        info = []
        for name in ("comm", "wchan", "syscall"):
            try:
                with open("/proc/%d/task/%s/%s" % (pid, task, name)) as f:
                    info.append(f.read().strip())
            except OSError as e:
                info.append(str(e))
        lines.append("thread %s: %s" % (task, " | ".join(info)))
    if shutil.which("gdb"):
        r = subprocess.run(["gdb", "-p", str(pid), "-batch", "-ex", "thread apply all bt"],
                           capture_output=True, text=True, timeout=60)
        lines.append(r.stdout[-6000:])
    return "\n".join(lines)


def finish(p, timeout=60):
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        print("vmtest (pid %d) did not end:\n%s" % (p.pid, stacks(p.pid)))
        raise
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    return out, err


def test_qemu_killed_while_booting_or_setting_up(vmtest_binary, tmp_path):
    """QEMU SIGKILLed while booting (the real one) and while setting up (the
    fake one, whose agent stops answering once synced): said, 69, nothing
    left.  (Killed under a running command: test_vmtest_killed_or_stopped.)"""
    project, runtime = fake_target(tmp_path)
    env = {"XDG_RUNTIME_DIR": str(runtime)}
    p = start(vmtest_binary, ["-k", small_kernel(), "echo started"], project, env)
    try:
        for _ in range(200):
            pids = qemus_sharing(project)
            if pids:
                break
            time.sleep(0.02)
        assert pids, "QEMU did not start"
        for pid in pids:
            os.kill(int(pid), signal.SIGKILL)
    finally:
        out, err = finish(p)
    assert p.returncode == 69
    assert b"vmtest: QEMU was killed by signal 9 (SIGKILL)" in err, err
    assert out == b""
    assert run_dirs(runtime) == []

    p = start_and_wait([vmtest_binary], project, dict(env, FAKE_AGENT="after-sync-silent"),
                       b"===> Setting up VM\n")
    for pid in fake_qemus(runtime):
        os.kill(int(pid), signal.SIGKILL)
    out, err = finish(p)
    assert p.returncode == 69
    assert out.endswith(b"vmtest: QEMU was killed by signal 9 (SIGKILL)\nFAILED\n"), out
    assert fake_qemus(runtime) == [] and run_dirs(runtime) == []


# Every asynchronous signal whose default action ends a process takes the
# same path (interrupt.h); one of each kind is tried in every stage.
EVERY_SIGNAL = [signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGPIPE,
                signal.SIGALRM, signal.SIGUSR1, signal.SIGUSR2, signal.SIGVTALRM, signal.SIGPROF,
                signal.SIGXCPU, signal.SIGXFSZ, signal.SIGPWR, signal.SIGSTKFLT]
# Interactive (Ctrl-C, Ctrl-\\, a closed terminal, a kill), pipe, timer, resource.
EACH_KIND = [signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGPIPE,
             signal.SIGALRM, signal.SIGXCPU]
DUMPS_CORE = {signal.SIGQUIT, signal.SIGXCPU, signal.SIGXFSZ}


def assert_ended_by(p, err, sig, what):
    """vmtest died of sig, as a host command would, or (for the signals
    whose default also dumps core) exited 128+N without a core; it said so,
    except for SIGPIPE (nobody reads, and `yes | head` says nothing)."""
    if sig in DUMPS_CORE:
        assert p.returncode == 128 + sig, (what, p.returncode, err)
    else:
        assert p.returncode == -sig, (what, p.returncode, err)
    said = b"vmtest: interrupted by SIG%s; the VM was stopped\n" % sig.name[3:].encode()
    if sig == signal.SIGPIPE:
        assert b"interrupted" not in err, (what, err)
    else:
        assert err.endswith(said), (what, err)


@pytest.mark.parametrize("sig", EACH_KIND, ids=[s.name for s in EACH_KIND])
def test_signals_in_each_stage(vmtest_binary, tmp_path, sig):
    """vmtest signalled while booting, while setting up and while the
    command runs: it ends by the signal, says so, the VM is stopped,
    nothing is left.  Booting and setting up are held open by the fake
    QEMU's agent (silent from the start, or once synced), so the signal
    lands in the stage named whatever the accelerator; the command runs on
    a real guest."""
    project, runtime = fake_target(tmp_path)
    env = {"XDG_RUNTIME_DIR": str(runtime)}
    stages = [
        ("booting", [vmtest_binary], dict(env, FAKE_AGENT="silent"), b"===> Booting\n"),
        ("setting up", [vmtest_binary], dict(env, FAKE_AGENT="after-sync-silent"),
         b"===> Setting up VM\n"),
        ("running", [vmtest_binary, "-k", small_kernel(), "echo started; sleep 600"], env,
         b"started\n"),
    ]
    for stage, argv, stage_env, line in stages:
        p = start_and_wait(argv, project, stage_env, line)
        if stage == "booting":
            # The fake QEMU is up and being waited for.
            for _ in range(200):
                if fake_qemus(runtime):
                    break
                time.sleep(0.02)
        p.send_signal(sig)
        out, err = finish(p)
        assert_ended_by(p, err, sig, stage)
        assert fake_qemus(runtime) == [] and qemus_sharing(project) == [], stage
        assert run_dirs(runtime) == [], stage
        assert not os.path.exists(project / "core"), stage


def test_every_signal_while_running(vmtest_binary, tmp_path):
    """The rest of the set, each while a command runs on a real guest."""
    project = tmp_path / "project"
    project.mkdir()
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    env = {"XDG_RUNTIME_DIR": str(runtime)}
    for sig in EVERY_SIGNAL:
        if sig in EACH_KIND:
            continue
        p = start_and_wait([vmtest_binary, "-k", small_kernel(), "echo started; sleep 600"],
                           project, env, b"started\n")
        p.send_signal(sig)
        out, err = finish(p)
        assert_ended_by(p, err, sig, sig.name)
        assert qemus_sharing(project) == [] and run_dirs(runtime) == [], sig.name
        assert os.listdir(project) == [], sig.name


def test_signals_ignored_on_entry_stay_ignored(vmtest_binary, tmp_path):
    """nohup, and a shell's background jobs, start a program with SIGHUP or
    SIGINT ignored: vmtest keeps them so.  SIGPIPE ignored on entry still
    ends the run when stdout closes (else it would write into EPIPE for
    ever)."""
    project = tmp_path / "project"
    project.mkdir()
    p = subprocess.Popen(["sh", "-c", 'trap "" HUP; exec "$0" -k "$1" -- "echo started; sleep 5; echo done"',
                          vmtest_binary, small_kernel()], cwd=project,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_line(p, b"started\n")
        p.send_signal(signal.SIGHUP)
        out, err = finish(p, timeout=120)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 0, err
    assert out == b"done\n"
    # Python starts children with SIGPIPE at its default; ask for it ignored.
    r = subprocess.run(["sh", "-c", 'trap "" PIPE; "$0" -k "$1" -- yes | head -n 1',
                        vmtest_binary, small_kernel()],
                       cwd=project, capture_output=True, timeout=120)
    assert r.stdout == b"y\n", r
    assert qemus_sharing(project) == []


@contextlib.contextmanager
def tmpfs(path, size="1m", full=False):
    """A small tmpfs at path for the test's duration, full if asked (a file
    takes all of it).  make check runs as root, as CI does."""
    assert os.geteuid() == 0, "this test mounts tmpfs file systems: run it as root"
    path.mkdir(exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s" % size, "tmpfs", str(path)],
                   check=True)
    try:
        if full:
            with open(path / "filler", "wb", buffering=0) as f:
                try:
                    while True:
                        f.write(b"\0" * 4096)
                except OSError:
                    pass
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=True)


@contextlib.contextmanager
def read_only_tmpfs(path, fill):
    """A tmpfs holding what fill(path) puts there, then remounted read-only."""
    assert os.geteuid() == 0, "this test mounts tmpfs file systems: run it as root"
    path.mkdir(exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(path)], check=True)
    try:
        fill(path)
        subprocess.run(["mount", "-o", "remount,ro", str(path)], check=True)
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=True)


def test_full_or_read_only_places(vmtest, tmp_path):
    """The cache full or read-only, the spool directory full, the current
    directory read-only: each said with the place and the cause, or worked
    around, and nothing left behind."""
    kernel = small_kernel()
    project = tmp_path / "project"
    project.mkdir()
    runtime = tmp_path / "runtime"
    runtime.mkdir()

    # The cache's file system is full: the initramfs cannot be written.
    with tmpfs(tmp_path / "full-cache", size="64k", full=True) as full:
        r = vmtest("-k", kernel, "echo never", cwd=project,
                   env={"XDG_CACHE_HOME": str(full), "XDG_RUNTIME_DIR": str(runtime)})
        assert r.returncode == 69
        assert ("vmtest: cannot write the initramfs in the cache %s/vmtest: cpio: cannot write "
                "'init': No space left on device\n" % full) in r.stderr, r.stderr
        assert r.stdout == ""
        # No half-written file (they are hidden until whole).
        assert [f for f in os.listdir(full / "vmtest") if f.startswith(".")] == []
        assert run_dirs(runtime) == []

    # The cache's parent is read-only: said, with what to do about it.
    with read_only_tmpfs(tmp_path / "ro-cache", lambda p: None) as ro:
        r = vmtest("-k", kernel, "echo never", cwd=project, env={"XDG_CACHE_HOME": str(ro)})
        assert r.returncode == 69
        assert ("vmtest: cannot create cache directory %s/vmtest: Read-only file system "
                "(XDG_CACHE_HOME chooses another place for vmtest's cache)\n" % ro) in r.stderr
        assert r.stdout == ""

    # The spools' directory is full, two targets at once: each says which
    # directory, instead of their blocks silently missing the output.
    # (loglevel=7 so that the console is not empty under "quiet".)
    (project / "vmtest.toml").write_text(
        '[[target]]\nname = "a"\nkernel = "%s"\ncommand = "echo from-a"\n'
        'kernel_args = "loglevel=7"\n'
        '[[target]]\nname = "b"\nkernel = "%s"\ncommand = "echo from-b"\n'
        'kernel_args = "loglevel=7"\n' % (kernel, kernel))
    with tmpfs(tmp_path / "full-runtime", size="64k", full=True) as full:
        r = vmtest("-j", "2", cwd=project, env={"XDG_RUNTIME_DIR": str(full)}, timeout=120)
        assert r.returncode == 1, r.stdout + r.stderr
        said = "vmtest: cannot keep the command's output in a spool file in %s: No space left " \
               "on device\nFAILED\n" % full
        assert r.stdout.count(said) == 2, r.stdout
        # The console's spool is in the same directory: said too, per target.
        for name in ("a", "b"):
            assert ("vmtest: [%s] cannot keep the guest console in a spool file in %s: No space "
                    "left on device; what is shown of it is incomplete\n" % (name, full)) \
                in r.stderr, r.stderr
        assert sorted(os.listdir(full)) == ["filler"]
    (project / "vmtest.toml").unlink()

    # A read-only current directory: the one-liner runs, the guest sees the
    # share read-only; a report there is refused before anything starts.
    def with_config(p):
        (p / "data").write_text("from-ro\n")
    with read_only_tmpfs(tmp_path / "ro-project", with_config) as ro:
        r = vmtest("-k", kernel, "cat data; echo x > /mnt/vmtest/new; echo status=$?",
                   cwd=ro, env={"XDG_RUNTIME_DIR": str(runtime)}, timeout=120)
        assert r.returncode == 0, r.stderr
        assert r.stdout == "from-ro\nstatus=1\n"
        assert "/mnt/vmtest/new: Read-only file system" in r.stderr
        start_time = time.monotonic()
        r = vmtest("--junit", "j.xml", "-k", kernel, "echo never", cwd=ro,
                   env={"XDG_RUNTIME_DIR": str(runtime)})
        assert (r.returncode, r.stdout) == (2, "")
        assert r.stderr == "vmtest: --junit j.xml: cannot write in .: Read-only file system\n"
        assert time.monotonic() - start_time < 2
        assert run_dirs(runtime) == []
