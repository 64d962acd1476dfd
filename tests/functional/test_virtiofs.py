# SPDX-License-Identifier: MIT
"""virtiofs (docs/virtiofs.md): the root stays read-only to a root guest
that mounts it again and remounts it read-write; the shares keep 9p's
semantics; a daemon that dies mid-run is said, and leaves nothing behind.
The behaviours shared with 9p are checked by
test_kernel_targets.py::test_one_liner_on_host_userspace, on both kernels."""
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

from conftest import debian_kernel, small_kernel

PID_DIR = "/run/virtiofsd"


def pid_files():
    return sorted(n for n in os.listdir(PID_DIR) if ".vmtest-" in n) \
        if os.path.isdir(PID_DIR) else []


def pid_files_left():
    """The daemons' pid files of vmtest processes that have ended: those of
    other tests' runs, going on meanwhile (make check runs tests in
    parallel), are theirs to remove."""
    return [n for n in pid_files()
            if not os.path.exists("/proc/%s" % re.search(r"\.vmtest-(\d+)-", n).group(1))]


ATTACK = r"""
mkdir -p /run/again
mount -t virtiofs vmtest-root /run/again && echo mounted-again
mount -o remount,rw /run/again && echo remounted-rw
echo evil > /run/again/$PLANT 2>/dev/null || echo plant=refused
mknod /run/again/$PLANT.node c 1 3 2>/dev/null || echo mknod=refused
mount -o remount,rw / 2>/dev/null; echo x > /ro/new 2>/dev/null || echo ro-mount=refused
mount -o remount,rw /ro 2>/dev/null; echo x > /ro/new 2>/dev/null || echo ro-mount-remounted=refused
echo rw > /rw/new && echo rw-mount=ok
echo "owner=$(stat -c %u /rw/new)"
echo "ro-data=$(cat /ro/data)"
"""


def test_a_root_guest_cannot_write_the_root_over_virtiofs(vmtest, tmp_path):
    """The guest is root: it mounts the root's tag again and remounts it
    read-write.  The daemon serves a read-only view, so nothing lands."""
    for d in ("ro", "rw"):
        (tmp_path / d).mkdir()
    (tmp_path / "ro" / "data").write_text("ro data\n")
    plant = "var/tmp/vmtest-virtiofs-plant-%d" % os.getpid()
    (tmp_path / "vmtest.toml").write_text(
        '[[target]]\nname = "attack"\nkernel = "%s"\ncommand = \'\'\'%s\'\'\'\n'
        '[target.vm]\nfilesystem = "virtiofs"\n'
        '[target.vm.mounts]\n"/ro" = { host_path = "ro" }\n'
        '"/rw" = { host_path = "rw", writable = true }\n' % (debian_kernel(), ATTACK))
    try:
        r = vmtest("--no-ui", cwd=tmp_path, env={"PLANT": plant}, timeout=300)
        assert not os.path.exists("/" + plant), "the guest wrote the host's root"
        assert not os.path.exists("/" + plant + ".node")
    finally:
        for p in ("/" + plant, "/" + plant + ".node"):
            if os.path.lexists(p):
                os.unlink(p)
    assert r.returncode == 0, r.stdout + r.stderr
    for line in ("mounted-again", "remounted-rw", "plant=refused", "mknod=refused",
                 "ro-mount=refused", "ro-mount-remounted=refused", "rw-mount=ok",
                 "ro-data=ro data"):
        assert line + "\n" in r.stdout, (line, r.stdout)
    # Files the guest writes are the user's who ran vmtest (root here).
    assert "owner=%d\n" % os.getuid() in r.stdout
    assert (tmp_path / "rw" / "new").read_text() == "rw\n"
    assert not (tmp_path / "ro" / "new").exists()
    assert os.stat(tmp_path / "rw" / "new").st_uid == os.getuid()
    assert pid_files_left() == []


def vmtest_children(pid):
    found = []
    for task in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/children" % (pid, task)) as f:
            found += [int(p) for p in f.read().split()]
    return found


def cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().split(b"\0")
    except OSError:
        return []


def test_a_daemon_killed_mid_run(vmtest_binary, tmp_path):
    """The daemon serving the root is killed while the command runs: one
    line says which daemon and how, the run fails with 69, and no process,
    socket, pid file or run directory is left."""
    env = dict(os.environ)
    env.pop("VMTEST_NO_UI", None)
    p = subprocess.Popen([vmtest_binary, "--filesystem", "virtiofs", "-k", small_kernel(), "--",
                          "echo started; sleep 4; cat /etc/hostname /usr/bin/* > /dev/null; "
                          "echo finished"],
                         cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    line = p.stdout.readline()
    assert line == "started\n", p.stderr.read()
    children = vmtest_children(p.pid)
    daemons = [c for c in children if cmdline(c)[0].endswith(b"virtiofsd") and
               any(a.endswith(b"vfs-root.sock") for a in cmdline(c))]
    assert len(daemons) == 1, [cmdline(c) for c in children]
    run_dir = os.path.dirname([a for a in cmdline(daemons[0])
                               if a.startswith(b"--socket-path=")][0][14:].decode())
    assert [n for n in pid_files() if ".vmtest-%d-" % p.pid in n] != []
    os.kill(daemons[0], signal.SIGKILL)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 69, (out, err)
    assert "finished" not in out
    assert "the virtiofs daemon serving the root filesystem / was killed by signal 9 while " \
        "the command ran" in err, err
    # vmtest has ended: each of its children has been reaped by now.
    for c in children:
        assert not os.path.exists("/proc/%d" % c) or \
            open("/proc/%d/stat" % c).read().split()[2] == "Z", cmdline(c)
    assert not os.path.exists(run_dir)
    assert pid_files_left() == []


def test_virtiofs_where_it_cannot_be_had(vmtest, vmtest_binary, tmp_path):
    """Not root (Debian 12's daemon runs only as root): one line, status 1,
    no VM.  A filesystem vmtest does not know: a usage error."""
    # A directory and a kernel that user can reach (pytest's are root's own,
    # and the test kernel may be in root's cache).
    with tempfile.TemporaryDirectory(prefix="vmtest-nobody-") as where:
        os.chmod(where, 0o777)
        kernel = os.path.join(where, "bzImage")
        shutil.copyfile(small_kernel(), kernel)
        os.chmod(kernel, 0o644)
        r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                            vmtest_binary, "--filesystem", "virtiofs", "-k", kernel, "true"],
                           cwd=where, capture_output=True, text=True, timeout=120,
                           env=dict(os.environ, HOME=where, XDG_CACHE_HOME=where))
    assert r.returncode != 0
    assert "runs only as root (use --filesystem 9p)" in r.stderr, r.stderr
    r = vmtest("--filesystem", "nfs", "-k", small_kernel(), "true", cwd=tmp_path)
    assert r.returncode == 2
    assert "--filesystem 'nfs': expected auto, virtiofs or 9p" in r.stderr


def daemon_holds_a_walk():
    """What vmtest asks of auto's daemons: 1M files open, or the right to raise the limit."""
    import resource
    if resource.getrlimit(resource.RLIMIT_NOFILE)[1] >= 1048576:
        return True
    with open("/proc/self/status") as f:
        capeff = [line for line in f if line.startswith("CapEff:")][0].split()[1]
    return bool(int(capeff, 16) & (1 << 24))  # CAP_SYS_RESOURCE


def test_auto_takes_virtiofs_where_it_serves_any_walk(vmtest, tmp_path):
    """vm.filesystem = auto (the default): virtiofs for root with a daemon
    that may open a file per inode of a walk of the root, else 9p, and -v
    says why.  Either way the run works."""
    daemon = any(os.access(p, os.X_OK) for p in
                 ("/usr/libexec/virtiofsd", "/usr/lib/qemu/virtiofsd")) or \
        shutil.which("virtiofsd")
    expect = "virtiofs" if os.geteuid() == 0 and daemon and daemon_holds_a_walk() else "9p"
    r = vmtest("-v", "-k", small_kernel(), "--",
               "awk '$2 == \"/mnt/vmtest\" {print \"mount\", $3}' /proc/mounts",
               cwd=tmp_path, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "mount %s\n" % expect in r.stdout, (expect, r.stdout)
    if expect == "9p":
        assert re.search(r"9p \(vm.filesystem = auto\): (a virtiofs daemon could keep only "
                         r"\d+ files open|no virtiofsd|virtiofsd runs only as root)", r.stderr), \
            r.stderr
    else:
        assert "and over 9p for a kernel without it" in r.stderr, r.stderr
    assert pid_files_left() == []
