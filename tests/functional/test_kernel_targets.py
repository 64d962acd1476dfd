# SPDX-License-Identifier: MIT
"""Kernel targets end to end: the real vmtest binary boots real kernels under
QEMU (TCG here) on the host's userspace.  A boot costs seconds, so each test
checks several behaviours in one boot."""
import hashlib
import os
import signal
import subprocess
import time

import pexpect
import pytest

from conftest import debian_kernel, default_signals, run_live, small_kernel

TINY = "tiny"
DEBIAN = "debian"


def kernel_path(kind):
    return small_kernel() if kind == TINY else debian_kernel()


def expected_release(kind):
    if kind == TINY:
        return "6.1.192"
    return os.path.basename(debian_kernel())[len("vmlinuz-"):]


# One boot per kernel kind checks what a user relies on every day.
GUEST_SCRIPT = r"""
set -u
echo "release=$(uname -r)"
echo "var=$VMTEST_TEST_VAR"
echo "cwd=$(pwd)"
echo "nproc=$(nproc)"
echo "mem=$(awk '/MemTotal/ {print $2}' /proc/meminfo)"
echo "cmdline=$(cat /proc/cmdline)"
echo "lo=$(cat /sys/class/net/lo/flags)"
echo "from-host=$(cat /mnt/vmtest/from-host)"
echo "same-at-host-path=$(cat "$PROJECT/from-host")"
echo guest-wrote > /mnt/vmtest/from-guest
python3 -c 'import mmap; f = open("/mnt/vmtest/mapped", "r+b"); m = mmap.mmap(f.fileno(), 4); m[:4] = b"MMAP"; m.flush()' && echo "mmap=ok"
echo tampered >> "$SACRED" && echo "overlay-write=ok"
echo "overlay-sees=$(tail -n 1 "$SACRED")"
if touch /vmtest-root-probe 2>/dev/null; then echo "root-write=overlay"; fi
echo to-stderr >&2
echo via-dev-stderr > /dev/stderr
echo "fs=$(awk '$2 == "/mnt/vmtest" {print $3}' /proc/mounts | head -n 1)"
exit 12
"""


# The same behaviours over virtiofs as over 9p (docs/virtiofs.md).
@pytest.mark.parametrize("kind,filesystem", [
    (TINY, "9p"), (TINY, "virtiofs"), (DEBIAN, "9p"), (DEBIAN, "virtiofs")])
def test_one_liner_on_host_userspace(vmtest, tmp_path, kind, filesystem):
    project = tmp_path / "project"
    project.mkdir()
    (project / "from-host").write_text("hello from the host\n")
    (project / "mapped").write_bytes(b"....")
    # A host file outside anything shared: the guest may change its own
    # copy (overlay), never the host's.
    sacred = "/var/tmp/vmtest-sacred-%d" % os.getpid()
    with open(sacred, "w") as f:
        f.write("original\n")
    try:
        env = {"VMTEST_TEST_VAR": "a b $c 'q'", "PROJECT": str(project), "SACRED": sacred}
        r = vmtest("-k", kernel_path(kind), "--kargs", "vmtest.test=1", "--filesystem",
                   filesystem, "--", "sh", "-c", GUEST_SCRIPT,
                   cwd=project, env=env, timeout=300)
        with open(sacred) as f:
            assert f.read() == "original\n", "the guest wrote the host's root filesystem"
    finally:
        os.unlink(sacred)
    out = dict(l.split("=", 1) for l in r.stdout.splitlines() if "=" in l)
    assert r.returncode == 12, r.stderr
    assert out["release"] == expected_release(kind)
    assert out["fs"] == filesystem
    assert out["var"] == "a b $c 'q'"
    # The project directory is shared at /mnt/vmtest and at its own path.
    assert out["cwd"] == str(project)
    assert out["from-host"] == "hello from the host"
    assert out["same-at-host-path"] == "hello from the host"
    assert (project / "from-guest").read_text() == "guest-wrote\n"
    # Shared writable mmap works on the shared directory.
    assert out["mmap"] == "ok"
    assert (project / "mapped").read_bytes() == b"MMAP"
    assert out["nproc"] == "2"
    assert 3_900_000 < int(out["mem"]) <= 4 * 1024 * 1024
    assert "vmtest.test=1" in out["cmdline"].split()
    assert int(out["lo"], 16) & 1, "loopback is up"
    assert out["overlay-write"] == "ok"
    assert out["overlay-sees"] == "tampered"
    assert out["root-write"] == "overlay"
    assert not os.path.exists("/vmtest-root-probe")
    # stdout and stderr stay apart; vmtest's own lines go to stderr.
    assert "to-stderr" not in r.stdout and "via-dev-stderr" not in r.stdout
    assert "to-stderr\n" in r.stderr and "via-dev-stderr\n" in r.stderr
    assert "=> " + os.path.basename(kernel_path(kind)) in r.stderr
    assert "Command failed with exit code: 12" in r.stderr


def test_text_that_is_not_utf8(vmtest, tmp_path):
    # JSON carries UTF-8 only: a stray variable is left out with a notice,
    # the rest of the environment still arrives.
    r = vmtest("-k", small_kernel(), "--", "sh", "-c", 'echo "good=$GOOD bad=${BAD-unset}"',
               cwd=tmp_path, env={"GOOD": "yes", "BAD": "caf\udce9"}, timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "good=yes bad=unset\n"
    assert "not passing BAD to the guest: its value is not valid UTF-8" in r.stderr
    # A command that is not UTF-8 is refused before anything starts.
    r = vmtest("-k", small_kernel(), "--", "echo", "caf\udce9", cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr.startswith("vmtest: target '")
    assert "the command is not valid UTF-8" in r.stderr
    assert "Booting" not in r.stderr


@pytest.mark.parametrize("command, status, verdict", [
    ("true", 0, "PASS"),
    ("exit 1", 1, "Command failed with exit code: 1"),
    ("exit 255", 255, "Command failed with exit code: 255"),
    ("kill -TERM $$", 128 + 15, "Command killed by signal 15"),
])
def test_exit_status_is_the_commands(vmtest, tmp_path, command, status, verdict):
    r = vmtest("-k", small_kernel(), command, cwd=tmp_path, timeout=300)
    assert r.returncode == status, r.stderr
    assert verdict in r.stderr


CONFIG = """\
[[target]]
name = "mounts and sizes"
kernel = "{kernel}"
kernel_args = "vmtest.config=yes"
command = '''
set -e
echo "nproc=$(nproc)"
echo "mem=$(awk '/MemTotal/ {{print $2}}' /proc/meminfo)"
grep -qw vmtest.config=yes /proc/cmdline && echo cmdline=ok
cat /ro/data
if echo x > /ro/new 2>/dev/null; then echo ro=writable; else echo ro=refused; fi
echo from-guest > /rw/new && echo rw=ok
echo line one
exit 3
'''
[target.vm]
num_cpus = 1
memory = "1G"
[target.vm.mounts]
"/ro" = {{ host_path = "ro" }}
"/rw" = {{ host_path = "rw", writable = true }}
"""


def test_config_mode_mounts_and_plain_output(vmtest, tmp_path):
    (tmp_path / "ro").mkdir()
    (tmp_path / "ro" / "data").write_text("data=from-ro\n")
    (tmp_path / "rw").mkdir()
    (tmp_path / "vmtest.toml").write_text(CONFIG.format(kernel=small_kernel()))
    r = vmtest(cwd=tmp_path, timeout=300)
    assert r.returncode == 3, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    # The seed's plain format, on stdout.
    assert lines[:4] == ["=> mounts and sizes", "===> Booting", "===> Setting up VM",
                         "===> Running command"]
    assert lines[-2:] == ["Command failed with exit code: 3", "FAILED"]
    out = dict(l.split("=", 1) for l in lines if "=" in l and not l.startswith("="))
    assert out["nproc"] == "1"
    assert 900_000 < int(out["mem"]) <= 1024 * 1024
    assert out["cmdline"] == "ok"
    assert out["data"] == "from-ro"
    assert out["ro"] == "refused"
    assert out["rw"] == "ok"
    assert (tmp_path / "rw" / "new").read_text() == "from-guest\n"
    assert not (tmp_path / "ro" / "new").exists()


def test_output_is_live_and_intact(vmtest_binary, tmp_path):
    """Output arrives while the command runs, and 50 MB arrive bit for bit."""
    script = ("echo ready; while [ ! -e /mnt/vmtest/go ]; do sleep 0.1; done; "
              "head -c 50000000 /dev/urandom | tee /mnt/vmtest/blob")
    out, err, status = run_live([vmtest_binary, "-k", small_kernel(), script], tmp_path,
                                b"ready\n", tmp_path / "go")
    assert status == 0, err
    assert out.startswith(b"ready\n")
    rest = out[len(b"ready\n"):]
    assert len(rest) == 50_000_000
    assert hashlib.sha256(rest).digest() == hashlib.sha256((tmp_path / "blob").read_bytes()).digest()


def test_errors_are_explained(vmtest, tmp_path):
    # QEMU missing: 69 and its name.
    r = vmtest("-q", "/nonexistent/qemu-system-x86_64", "-k", small_kernel(), "true", cwd=tmp_path)
    assert r.returncode == 69
    assert "cannot run /nonexistent/qemu-system-x86_64: No such file or directory" in r.stderr
    # QEMU refusing an option: 69 and QEMU's own words.
    (tmp_path / "vmtest.toml").write_text(
        '[[target]]\nname = "bad"\nkernel = "%s"\ncommand = "true"\n'
        '[target.vm]\nextra_args = ["-no-such-option"]\n' % small_kernel())
    r = vmtest(cwd=tmp_path)
    assert r.returncode == 69
    assert "-no-such-option: invalid option" in r.stdout
    # A missing kernel: a configuration error, nothing starts.
    r = vmtest("-k", str(tmp_path / "missing"), "true", cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr == "vmtest: -k: %s: No such file or directory\n" % (tmp_path / "missing")


def test_guest_panic_is_explained(vmtest, tmp_path):
    # The pause lets the init forward "before" first: what a command wrote in
    # the instant before its kernel died may still be in the guest.
    r = vmtest("-k", debian_kernel(), "echo before; sleep 0.5; echo c > /proc/sysrq-trigger; "
               "echo after",
               cwd=tmp_path, timeout=300)
    assert r.returncode == 69
    assert r.stdout == "before\n"
    assert ("vmtest: the guest kernel panicked: Kernel panic - not syncing: sysrq triggered crash\n"
            in r.stderr)
    # The console of the failure is shown, with the panic's backtrace.
    assert "--- guest console (last lines) ---" in r.stderr
    assert "Call Trace:" in r.stderr
    # A panic while booting (no init: the kernel looks for a root device).
    r = vmtest("--kargs", "rdinit=/nonexistent", "-k", small_kernel(), "echo never",
               cwd=tmp_path, timeout=120)
    assert r.returncode == 69
    assert r.stdout == ""
    assert ("\nvmtest: the guest kernel panicked: Kernel panic - not syncing: VFS: Unable to mount "
            "root fs" in r.stderr), r.stderr


def test_kernel_without_9p_names_the_options(vmtest, tmp_path):
    # Debian's kernel has virtio and 9p as modules; a rootfs without its
    # modules directory leaves the kernel with neither.
    empty = tmp_path / "emptyroot"
    empty.mkdir()
    project = tmp_path / "project"
    project.mkdir()
    r = vmtest("-k", debian_kernel(), "-r", str(empty), "true", cwd=project, timeout=300)
    assert r.returncode == 69
    for option in ["CONFIG_VIRTIO_PCI", "CONFIG_VIRTIO_CONSOLE", "CONFIG_NET_9P_VIRTIO",
                   "CONFIG_9P_FS"]:
        assert option in r.stderr
    assert "lib/modules/%s does not exist" % expected_release(DEBIAN) in r.stderr


def _qemus_with(path):
    out = subprocess.run(["pgrep", "-f", path], capture_output=True, text=True).stdout
    return out.split()


def test_ctrl_c_and_timeout_leave_nothing_behind(vmtest, vmtest_binary, tmp_path):
    # Each run's private directory goes under XDG_RUNTIME_DIR: a directory of
    # this test's own, which must be empty again after every run.
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    project = tmp_path / "project"
    project.mkdir()
    env = {"XDG_RUNTIME_DIR": str(runtime)}
    # Timeout: just this target fails, with the reason and 124.
    r = vmtest("--timeout", "2", "-k", small_kernel(), "echo started; sleep 600", cwd=project,
               env=env, timeout=300)
    assert r.returncode == 124, r.stderr
    assert r.stdout == "started\n"
    assert "Timed out after 2 s" in r.stderr
    assert os.listdir(runtime) == []
    assert _qemus_with(str(project)) == []
    # Ctrl-C while the command runs: vmtest dies of SIGINT (a shell says
    # 130), no QEMU, no run directory.
    p = subprocess.Popen([vmtest_binary, "-k", small_kernel(), "echo started; sleep 600"],
                         cwd=project, env=dict(os.environ, **env),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         preexec_fn=default_signals)
    try:
        assert p.stdout.readline() == b"started\n"
        assert _qemus_with(str(project))
        assert len(os.listdir(runtime)) == 1
        p.send_signal(signal.SIGINT)
        p.wait(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == -signal.SIGINT
    assert p.stderr.read().endswith(b"vmtest: interrupted by SIGINT; the VM was stopped\n")
    assert _qemus_with(str(project)) == []
    assert os.listdir(runtime) == []


def test_interactive_shell_and_tty(vmtest, tmp_path):
    """`vmtest -k K -` is a login shell on a guest pty: keys, window size and
    its changes, the shell's exit status, and the user's terminal restored."""
    binary = vmtest.binary
    script = ('stty -g > before; "$0" -k "$1" -; echo "status=$?"; stty -g > after')
    child = pexpect.spawn("/bin/bash", ["-c", script, binary, small_kernel()], cwd=str(tmp_path),
                          dimensions=(30, 100), timeout=240, encoding="utf-8")
    try:
        child.expect("Running command")
        child.expect(r"vmtest.*# ")
        child.sendline("stty size; tty; echo marker-$((6*7))")
        child.expect("marker-42")
        assert "30 100" in child.before
        assert "/dev/pts/" in child.before
        child.setwinsize(40, 120)
        # The new size reaches the guest's pty some time after: asked until
        # it has (or the expect's timeout).
        deadline = time.monotonic() + 60
        while True:
            child.sendline("stty size")
            if child.expect(["40 120", "30 100"]) == 0:
                break
            assert time.monotonic() < deadline, "the window's new size never reached the guest"
        child.sendline("exit 5")
        child.expect("status=5")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert (tmp_path / "before").read_text() == (tmp_path / "after").read_text()
    # --tty without a terminal: the command still runs on a guest pty.
    r = vmtest("--tty", "-k", small_kernel(), "tty; echo err >&2; exit 4", cwd=tmp_path)
    assert r.returncode == 4
    assert r.stdout.startswith("/dev/pts/")
    assert "err" in r.stdout.split()  # a pty merges stderr into the terminal
