# SPDX-License-Identifier: MIT
"""Warm starts: a kernel target restored from a snapshot of an earlier boot
behaves as a cold boot does, a snapshot is used only for the guest it was
taken of, and a cache that is shared, full or broken never costs more than
a cold boot.  Each test has its own cache (XDG_CACHE_HOME)."""
import ctypes
import os
import re
import subprocess
import time

import pytest

from conftest import debian_kernel, small_kernel
from test_faults import tmpfs


def snapshots(cache):
    root = cache / "vmtest" / "snapshots"
    return sorted(os.listdir(root)) if root.exists() else []


def how_it_booted(stderr):
    """What -v said: restored, saved (after a cold boot) or cold."""
    if "saved the snapshot" in stderr:
        return "saved"
    if "booting cold, to save a snapshot" in stderr or "could not be restored" in stderr:
        return "save failed"
    if "restoring the snapshot" in stderr:
        return "restored"
    if "booting cold: " in stderr:
        return "cold"
    return "?"


# What a test sees of its guest, in one command: everything that must be
# the same after a restore as after a cold boot.
PROBE = r"""
echo "cwd=$(pwd)"
echo "env=$WARM_PROBE"
echo "host-file=$(cat from-host.txt)"
echo "ro-mount=$(cat /opt/ro/data.txt)"
echo written-in-guest > "out-$RUN.txt"
touch /opt/ro/x 2>/dev/null && echo "ro-mount writable" || echo "ro-mount read-only"
touch /usr/vmtest-probe 2>/dev/null && echo "root written (overlay)"
echo "kernel=$(uname -r)"
echo "hostname=$(hostname)"
awk '$2 ~ "^/(mnt/vmtest|opt/ro|run|tmp|dev/shm|sys/fs/cgroup|sys/fs/bpf)$" {print "mount", $2, $3}' /proc/mounts | sort
echo "virtiofs-devices=$(ls -d /sys/bus/virtio/drivers/virtiofs/virtio* 2>/dev/null | wc -l)"
echo "modules=$(cut -d' ' -f1 /proc/modules | sort | tr '\n' ' ')"
date +%s.%N > "clock-$RUN.txt"
head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n' > "random-$RUN.txt"
exit 3
"""


@pytest.mark.parametrize("filesystem", ["9p", "virtiofs"])
def test_a_restored_guest_behaves_as_a_cold_one(vmtest, tmp_path, filesystem):
    """Over virtiofs, a warm boot's guest gets its devices plugged in after
    the restore (QEMU 7.2 cannot save them), the cold one at boot."""
    cache = tmp_path / "cache"
    project = tmp_path / "project"
    ro = tmp_path / "ro"
    project.mkdir()
    ro.mkdir()
    (project / "from-host.txt").write_text("host data\n")
    (ro / "data.txt").write_text("read-only share\n")
    (project / "probe.sh").write_text(PROBE)
    (project / "vmtest.toml").write_text(
        '[[target]]\nname = "probe"\nkernel = "%s"\ncommand = "sh probe.sh"\n'
        # A console that shows the boot (vmtest boots quiet).
        'kernel_args = "loglevel=6"\n'
        '[target.vm]\nfilesystem = "%s"\n'
        '[target.vm.mounts]\n"/opt/ro" = { host_path = "%s" }\n' % (debian_kernel(), filesystem, ro))
    outputs = {}
    for run, args in (("nosnap", ["--no-snapshot"]), ("cold", []), ("warm1", []), ("warm2", [])):
        # A restored guest that kept the snapshot's clock would be seconds late.
        time.sleep(3 if run == "warm1" else 0)
        start = time.time()
        r = vmtest("-v", "--no-ui", "--output-dir", str(tmp_path / ("od-" + run)), *args,
                   cwd=project, timeout=300,
                   env={"XDG_CACHE_HOME": str(cache), "WARM_PROBE": "from the host",
                        "RUN": run})
        end = time.time()
        assert r.returncode == 3, r.stderr
        assert "FAIL" in r.stdout and "Command failed with exit code: 3" in r.stdout, r.stdout
        outputs[run] = r.stdout[:r.stdout.index("\n", r.stdout.index("modules="))]
        # Written in the guest, on the host.
        assert (project / ("out-%s.txt" % run)).read_text() == "written-in-guest\n"
        # The guest's clock is the host's, not the snapshot's.
        clock = float((project / ("clock-%s.txt" % run)).read_text())
        assert start - 0.5 <= clock <= end + 0.5, (run, start, clock, end)
        # The console of the boot is kept, restored or not.
        console = (tmp_path / ("od-" + run) / "probe" / "console.log").read_text()
        assert "Linux version" in console
        # The init set the clock and reseeded the RNG without complaint.
        assert "vmtest-init:" not in console, console
        expected = {"nosnap": "cold", "cold": "saved", "warm1": "restored", "warm2": "restored"}
        assert how_it_booted(r.stderr) == expected[run], r.stderr
        if run == "nosnap":
            assert "booting cold: --no-snapshot" in r.stderr
            assert snapshots(cache) == []
        plugged = "plugged the virtiofs devices in" in r.stderr
        assert plugged == (filesystem == "virtiofs" and run != "nosnap"), r.stderr
    assert "ro-mount read-only" in outputs["cold"]
    assert "root written (overlay)" in outputs["cold"]
    assert "mount /mnt/vmtest %s" % filesystem in outputs["cold"]
    # The root, the shared directory and the read-only mount.
    assert "virtiofs-devices=%d" % (3 if filesystem == "virtiofs" else 0) in outputs["cold"]
    assert "virtio_net" not in outputs["cold"]  # modules listed: the probe sees them
    for run in ("cold", "warm1", "warm2"):
        assert outputs[run].replace(run, "RUN") == outputs["nosnap"].replace("nosnap", "RUN"), run
    # Two restores of one snapshot do not share their random numbers.
    randoms = {(project / ("random-%s.txt" % run)).read_text() for run in outputs}
    assert len(randoms) == 4
    assert len(snapshots(cache)) == 1


def test_faults_in_a_restored_guest(vmtest, tmp_path):
    """Timeouts and panics after a restore are what they are after a boot."""
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    r = vmtest("-v", "-k", debian_kernel(), "true", cwd=tmp_path, env=env, timeout=120)
    assert r.returncode == 0 and how_it_booted(r.stderr) == "saved", r.stderr
    r = vmtest("-v", "--timeout", "3", "-k", debian_kernel(), "echo started; sleep 60",
               cwd=tmp_path, env=env, timeout=120)
    assert how_it_booted(r.stderr) == "restored", r.stderr
    assert r.returncode == 124 and r.stdout == "started\n", (r.stdout, r.stderr)
    assert "Timed out after 3 s" in r.stderr
    r = vmtest("-v", "-k", debian_kernel(), "echo before; echo c > /proc/sysrq-trigger; echo after",
               cwd=tmp_path, env=env, timeout=120)
    assert how_it_booted(r.stderr) == "restored", r.stderr
    assert r.returncode == 69 and r.stdout == "before\n", (r.stdout, r.stderr)
    assert "vmtest: the guest kernel panicked: Kernel panic - not syncing: sysrq triggered crash" \
        in r.stderr
    # The snapshot is still good: the guest that panicked had its own memory.
    r = vmtest("-v", "-k", debian_kernel(), "echo fine", cwd=tmp_path, env=env, timeout=120)
    assert r.returncode == 0 and r.stdout == "fine\n"
    assert how_it_booted(r.stderr) == "restored", r.stderr


def test_a_snapshot_serves_only_its_own_guest(vmtest, tmp_path):
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    kernel = tmp_path / "bzImage"
    kernel.write_bytes(open(small_kernel(), "rb").read())

    def boot(*args):
        r = vmtest("-v", *args, "-k", str(kernel), "cat /proc/cmdline", cwd=tmp_path, env=env,
                   timeout=120)
        assert r.returncode == 0, r.stderr
        return how_it_booted(r.stderr), r.stdout

    assert boot()[0] == "saved"
    assert boot()[0] == "restored"
    # Other kernel arguments, another guest.
    how, cmdline = boot("--kargs", "vmtest.probe=1")
    assert how == "saved" and "vmtest.probe=1" in cmdline
    how, cmdline = boot()
    assert how == "restored" and "vmtest.probe=1" not in cmdline
    # The same kernel file, rewritten: its bytes may have changed.
    kernel.write_bytes(kernel.read_bytes())
    assert boot()[0] == "saved"
    # Another machine shape.
    (tmp_path / "vmtest.toml").write_text(
        '[[target]]\nname = "small"\nkernel = "%s"\ncommand = "true"\n'
        '[target.vm]\nmemory = "1G"\nnum_cpus = 1\n' % kernel)
    r = vmtest("-v", cwd=tmp_path, env=env, timeout=120)
    assert r.returncode == 0 and how_it_booted(r.stderr) == "saved", r.stderr
    # extra_args that set the machine or its memory themselves: cold.
    (tmp_path / "vmtest.toml").write_text(
        '[[target]]\nname = "own"\nkernel = "%s"\ncommand = "true"\n'
        '[target.vm]\nextra_args = ["-machine", "q35"]\n' % kernel)
    r = vmtest("-v", cwd=tmp_path, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "booting cold: vm.extra_args set the machine, its memory or a snapshot of QEMU's own" \
        in r.stderr, r.stderr
    # vm.snapshot = false: cold, nothing saved.
    before = snapshots(tmp_path / "cache")
    (tmp_path / "vmtest.toml").write_text(
        '[[target]]\nname = "cold"\nkernel = "%s"\ncommand = "true"\n'
        '[target.vm]\nsnapshot = false\nmemory = "768M"\n' % kernel)
    r = vmtest("-v", cwd=tmp_path, env=env, timeout=120)
    assert r.returncode == 0 and "booting cold: vm.snapshot = false" in r.stderr, r.stderr
    assert snapshots(tmp_path / "cache") == before


def test_concurrent_runs_share_one_snapshot(vmtest_binary, tmp_path):
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache"))
    env.pop("VMTEST_NO_UI", None)
    procs = [subprocess.Popen([vmtest_binary, "-v", "-k", small_kernel(), "echo run %d" % i],
                              cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for i in range(3)]
    for i, p in enumerate(procs):
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0 and out == "run %d\n" % i, err
    # One snapshot, whole; nothing half-written left behind.
    assert len(snapshots(tmp_path / "cache")) == 1
    root = tmp_path / "cache" / "vmtest" / "snapshots"
    assert sorted(os.listdir(root / snapshots(tmp_path / "cache")[0])) == ["console", "ram", "state"]
    # Two targets at once (-j 2) restore it side by side.
    (tmp_path / "vmtest.toml").write_text(
        ''.join('[[target]]\nname = "t%d"\nkernel = "%s"\ncommand = "echo t%d"\n'
                % (i, small_kernel(), i) for i in range(2)))
    r = subprocess.run([vmtest_binary, "-v", "-j", "2"], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stderr.count("restoring the snapshot") == 2, r.stderr
    assert "t0\n" in r.stdout and "t1\n" in r.stdout


# --- a cache that is broken or full ------------------------------------------

_libc = ctypes.CDLL(None, use_errno=True)
_SYS_ADD_KEY, _SYS_KEYCTL = 248, 250
_KEYCTL_SEARCH, _KEYCTL_READ, _KEY_SPEC_USER_KEYRING = 10, 11, -4


def _trust_records():
    key = _libc.syscall(_SYS_KEYCTL, _KEYCTL_SEARCH, _KEY_SPEC_USER_KEYRING, b"user",
                        b"vmtest:cache-trust", 0)
    assert key >= 0, "no vmtest:cache-trust key"
    buf = ctypes.create_string_buffer(20000)
    n = _libc.syscall(_SYS_KEYCTL, _KEYCTL_READ, key, buf, len(buf))
    return buf.raw[:n].decode()


def vouch_for(path):
    """Record path as vmtest would after writing it: a snapshot that vmtest
    trusts, yet is broken, as a disk or a bug could leave one."""
    st = os.stat(path)
    line = "%d %d %d %d %d %s\n" % (st.st_dev, st.st_ino, st.st_size, st.st_ctime_ns // 10**9,
                                    st.st_ctime_ns % 10**9, path)
    kept = [l + "\n" for l in _trust_records().splitlines() if not l.endswith(" " + str(path))]
    text = ("".join(kept) + line).encode()
    assert _libc.syscall(_SYS_ADD_KEY, b"user", b"vmtest:cache-trust", text, len(text),
                         _KEY_SPEC_USER_KEYRING) >= 0


def test_a_broken_or_full_snapshot_cache_means_a_cold_boot(vmtest, tmp_path):
    cache = tmp_path / "cache"
    env = {"XDG_CACHE_HOME": str(cache)}

    def boot(*args, size=None):
        e = dict(env, VMTEST_SNAPSHOT_CACHE_SIZE=size) if size else env
        r = vmtest("-v", *args, "-k", small_kernel(), "echo up", cwd=tmp_path, env=e, timeout=200)
        assert r.returncode == 0 and r.stdout == "up\n", r.stderr
        return r.stderr

    assert how_it_booted(boot()) == "saved"
    snap = cache / "vmtest" / "snapshots" / snapshots(cache)[0]
    # Written by someone else (not vouched for): cold, and saved anew.
    with open(snap / "ram", "r+b") as f:
        f.truncate(4096)
    err = boot()
    assert how_it_booted(err) == "saved" and "not one vmtest wrote" in err, err
    assert how_it_booted(boot()) == "restored"
    # Vouched for, but the device state is garbage: QEMU refuses it, the
    # run says so, boots cold, and the next one restores a good snapshot.
    state = (snap / "state").read_bytes()
    (snap / "state").write_bytes(state[:len(state) // 2] + bytes(64) + state[len(state) // 2:])
    vouch_for(snap / "state")
    err = boot()
    assert "could not be restored" in err and how_it_booted(err) == "saved", err
    assert re.search(r"^vmtest: the snapshot \w+ could not be restored \(.*\): booting cold$", err,
                     re.M), err
    assert how_it_booted(boot()) == "restored"
    # Vouched for, but its memory is cut short.
    with open(snap / "ram", "r+b") as f:
        f.truncate(1 << 20)
    vouch_for(snap / "ram")
    err = boot()
    assert "could not be restored" in err and how_it_booted(err) == "saved", err
    # Full: a cache of one snapshot keeps the newest only.
    err = boot("--kargs", "vmtest.other=1", size="1")
    assert how_it_booted(err) == "saved"
    assert len(snapshots(cache)) == 1
    assert how_it_booted(boot("--kargs", "vmtest.other=1", size="1")) == "restored"
    # No temporary directory left from any of it.
    assert not [n for n in os.listdir(cache / "vmtest" / "snapshots") if n.startswith(".")]
    # A disk too small for the snapshot (the initramfs fits): a notice, the
    # run goes on, and nothing half-written stays.
    with tmpfs(tmp_path / "small", size="16m") as small:
        env["XDG_CACHE_HOME"] = str(small)
        err = boot()
        assert re.search(r"^vmtest: could not save a snapshot of the booted guest \(.*No space "
                         r"left on device\): the next run boots cold too$", err, re.M), err
        assert os.listdir(small / "vmtest" / "snapshots") == []


def test_a_guest_qemu_cannot_save_boots_cold_without_trying_again(vmtest_binary, tmp_path):
    """A QEMU that refuses to migrate (a device that blocks it: played by
    fake_qemu.py, whose agent answers the boot's sync and then nothing) is
    asked once; later runs of that guest boot cold without asking."""
    from test_faults import fake_target
    project, runtime = fake_target(tmp_path)
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache"), XDG_RUNTIME_DIR=str(runtime),
               FAKE_AGENT="after-sync-silent")
    errs = []
    for _ in range(2):
        r = subprocess.run([vmtest_binary, "-v", "--boot-timeout", "2"], cwd=project, env=env,
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 69, r.stderr  # the fake agent's silence after the boot
        errs.append(r.stderr)
    assert ("could not save a snapshot of the booted guest (QMP command 'migrate-set-capabilities'"
            ": GenericError: fake_qemu cannot migrate): the next run boots cold too") in errs[0]
    assert re.search(r"booting cold: QEMU could not save a snapshot of this guest before \(QMP "
                     r"command 'migrate-set-capabilities': GenericError: fake_qemu cannot "
                     r"migrate\); remove \S+\.refused to try again", errs[1]), errs[1]
    assert "could not save a snapshot of the booted guest" not in errs[1]


# --- image targets -------------------------------------------------------------

# The image's own shell runs it, in /mnt/vmtest, with the image's
# environment: the run's name is written into the command (@RUN@).
IMAGE_PROBE = r"""
echo "cwd=$(pwd)"
echo "host-file=$(cat from-host.txt)"
echo written-in-guest > out-@RUN@.txt
cat /ro/data.txt
if echo x 2>/dev/null >/ro/new; then echo ro=writable; else echo ro=refused; fi
echo rw > /rw/new-@RUN@ && echo rw=ok
echo "reserved=$(dd if=/dev/vda bs=4096 skip=@BLOCK@ count=16 2>/dev/null | md5sum)"
dd if=/dev/urandom of=/dev/vda bs=4096 seek=@BLOCK@ count=16 conv=fsync 2>/dev/null && echo dd=ok
awk '$2 ~ "^/(mnt/vmtest|ro|rw)$" {print "mount", $2, $3}' /proc/mounts | sort
echo "kernel=$(uname -r)"
date +%s > clock-@RUN@.txt
head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n' > random-@RUN@.txt
exit 3
"""


def test_a_restored_image_behaves_as_a_cold_one(vmtest, tmp_path):
    """An image's boot is a restore too: same output, status, shares and
    disk as a cold boot, the host's clock, fresh random numbers, and the
    image never written."""
    from test_image_targets import reserved_offset, sha256, test_image
    cache = tmp_path / "cache"
    project = tmp_path / "project"
    for d in (project, tmp_path / "ro", tmp_path / "rw"):
        d.mkdir()
    image = tmp_path / "disk.qcow2"
    image.write_bytes(open(test_image("bios"), "rb").read())
    before = sha256(image)
    (project / "from-host.txt").write_text("host data\n")
    (tmp_path / "ro" / "data.txt").write_text("read-only share\n")
    outputs = {}
    for run, args in (("nosnap", ["--no-snapshot"]), ("cold", []), ("warm1", []), ("warm2", [])):
        command = IMAGE_PROBE.replace("@RUN@", run).replace(
            "@BLOCK@", str(reserved_offset() // 4096))
        (project / "vmtest.toml").write_text(
            "[[target]]\nname = \"probe\"\nimage = \"%s\"\ncommand = '''%s'''\n"
            "[target.vm]\nmemory = \"1G\"\n"
            "[target.vm.mounts]\n\"/ro\" = { host_path = \"%s\" }\n"
            "\"/rw\" = { host_path = \"%s\", writable = true }\n"
            % (image, command, tmp_path / "ro", tmp_path / "rw"))
        # A restored guest that kept the snapshot's clock would be seconds late.
        time.sleep(3 if run == "warm1" else 0)
        start = time.time()
        r = vmtest("-v", "--no-ui", *args, cwd=project, timeout=300,
                   env={"XDG_CACHE_HOME": str(cache)})
        end = time.time()
        assert r.returncode == 3, r.stdout + r.stderr
        assert "Command failed with exit code: 3" in r.stdout, r.stdout
        outputs[run] = r.stdout[r.stdout.index("cwd="):r.stdout.index("\n", r.stdout.index("kernel="))]
        expected = {"nosnap": "cold", "cold": "saved", "warm1": "restored", "warm2": "restored"}
        assert how_it_booted(r.stderr) == expected[run], r.stderr
        assert (project / ("out-%s.txt" % run)).read_text() == "written-in-guest\n"
        assert (tmp_path / "rw" / ("new-" + run)).read_text() == "rw\n"
        # busybox's date has whole seconds.
        clock = int((project / ("clock-%s.txt" % run)).read_text())
        assert start - 1.5 <= clock <= end + 1, (run, start, clock, end)
    assert "ro=refused" in outputs["cold"] and "rw=ok" in outputs["cold"]
    assert "dd=ok" in outputs["cold"] and "mount /mnt/vmtest 9p" in outputs["cold"]
    # What one run wrote to its disk, no other run sees: the reserved
    # blocks read as zeros every time, restored or not.
    zeros = subprocess.run("head -c 65536 /dev/zero | md5sum", shell=True, capture_output=True,
                           text=True).stdout.strip()
    assert "reserved=" + zeros in outputs["cold"], outputs["cold"]
    for run in ("cold", "warm1", "warm2"):
        assert outputs[run].replace(run, "RUN") == outputs["nosnap"].replace("nosnap", "RUN"), run
    randoms = {(project / ("random-%s.txt" % run)).read_text() for run in outputs}
    assert len(randoms) == 4
    # The disk layer the boot wrote went with the snapshot; the image is untouched.
    assert len(snapshots(cache)) == 1
    root = cache / "vmtest" / "snapshots" / snapshots(cache)[0]
    assert sorted(os.listdir(root)) == ["console", "disk", "ram", "state"]
    assert sha256(image) == before


def test_image_snapshots_keep_uefi_variables_and_follow_the_image(vmtest, tmp_path):
    """UEFI's variables go with the snapshot; a timeout after a restore is
    a timeout; a broken disk layer in the cache means a cold boot, and a
    changed image another snapshot."""
    from test_image_targets import test_image
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    image = tmp_path / "disk.raw"
    image.write_bytes(open(test_image("uefi", "raw"), "rb").read())

    def boot(*args, command="test -d /sys/firmware/efi && echo efi=yes", status=0):
        r = vmtest("-v", "--no-ui", "--uefi", *args, "-i", str(image), "--", command,
                   cwd=tmp_path, env=env, timeout=300)
        assert r.returncode == status, r.stdout + r.stderr
        if status == 0:
            assert "efi=yes\n" in r.stdout, r.stdout + r.stderr
        return r, how_it_booted(r.stderr)

    assert boot()[1] == "saved"
    assert boot()[1] == "restored"
    snap = tmp_path / "cache" / "vmtest" / "snapshots" / snapshots(tmp_path / "cache")[0]
    assert sorted(os.listdir(snap)) == ["console", "disk", "ram", "state", "vars"]
    r, how = boot("--timeout", "2", command="echo started; sleep 60", status=124)
    assert how == "restored" and "started\n" in r.stdout, r.stderr
    assert "Timed out after 2 s" in r.stdout + r.stderr
    # A disk layer vmtest vouches for, but broken: QEMU cannot open it, the
    # run says so and boots cold on a fresh layer, and saves a good one.
    (snap / "disk").write_bytes(b"QFI\xfb" + bytes(60))
    vouch_for(snap / "disk")
    r, how = boot()
    assert how == "saved" and "could not be restored" in r.stderr, r.stderr
    assert boot()[1] == "restored"
    # The image changed (its time, at least): its old snapshot is not used.
    os.utime(image, (time.time() + 10, time.time() + 10))
    assert boot()[1] == "saved"
    assert len(snapshots(tmp_path / "cache")) == 2
