# SPDX-License-Identifier: MIT
"""/usr from vmtest's image of it (targets/usr_image.h): a kernel target's
/usr is an EROFS image that vmtest lays out from a stat walk of the host's
each run and serves over NBD, over the 9p view of /usr.  What a user must
see: the host's files as they are when the run starts (contents, times,
modes), /usr/local and the shared directory live, writes that stay in the
guest, a file changed during the run never served as the walk saw it, and
a file replaced between runs seen by the next run, warm start included.
Each test has its own cache (XDG_CACHE_HOME)."""
import os
import shutil
import stat
import uuid

import pytest

from conftest import debian_kernel, run_live, small_kernel
from test_warm_start import how_it_booted


def first_setuid_program():
    for name in sorted(os.listdir("/usr/bin")):
        st = os.lstat("/usr/bin/" + name)
        if stat.S_ISREG(st.st_mode) and st.st_mode & stat.S_ISUID:
            return "/usr/bin/" + name
    raise pytest.UsageError("no set-user-ID program in /usr/bin to compare")


@pytest.fixture
def host_usr():
    """Test files in the host's /usr/share and /usr/local/share, removed after."""
    name = "vmtest-test-" + uuid.uuid4().hex[:12]
    dirs = ["/usr/share/" + name, "/usr/local/share/" + name]
    for d in dirs:
        os.makedirs(d)
    try:
        yield dirs
    finally:
        for d in dirs:
            shutil.rmtree(d, ignore_errors=True)


GUEST_RUN1 = r"""
D={d}; L={l}
echo "same=$(cat $D/same.txt)"
echo "mtime=$(stat -c %.9Y $D/same.txt)"
echo "mode=$(stat -c %a {suid})"
echo "local=$(cat $L/local.txt)"
echo "usr=$(awk '$2 == "/usr" {{print $3}}' /proc/mounts)"
echo guest > $D/new.txt && echo "usr writable in the guest"
echo x | dd of=/dev/vda 2>/dev/null && echo "disk writable" || echo "disk read-only"
echo ready
while [ ! -e go ]; do sleep 0.05; done
cat $D/changed.txt >/dev/null 2>err.txt; echo "changed-rc=$?"; cat err.txt
echo "shared=$(cat during.txt)"
"""

GUEST_RUN2 = r"""
D={d}
echo "same=$(cat $D/same.txt)"
echo "replaced=$(cat $D/replaced.txt)"
echo "new=$(cat $D/new.txt 2>&1)"
"""


def test_usr_is_the_hosts_as_the_run_starts(vmtest_binary, vmtest, tmp_path, host_usr):
    d, l = host_usr
    cache = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    with open(d + "/same.txt", "w") as f:
        f.write("host content\n")
    os.utime(d + "/same.txt", ns=(1234567890123456789, 1234567890123456789))
    with open(d + "/replaced.txt", "w") as f:
        f.write("before\n")
    with open(d + "/changed.txt", "w") as f:
        f.write("AAAA\n")
    with open(l + "/local.txt", "w") as f:
        f.write("local\n")
    suid = first_setuid_program()

    def change_during_the_run():
        # In place: the same inode, another size and time.
        with open(d + "/changed.txt", "w") as f:
            f.write("BBBBBBBB\n")
        with open(tmp_path / "during.txt", "w") as f:
            f.write("written during the run\n")

    script = GUEST_RUN1.format(d=d, l=l, suid=suid)
    out, err, rc = run_live([vmtest_binary, "-v", "-k", debian_kernel(), script],
                            cwd=tmp_path, ready=b"ready\n", go_file=tmp_path / "go",
                            before_go=change_during_the_run, env=cache)
    out, err = out.decode(), err.decode()
    assert rc == 0, err
    assert "/usr from vmtest's image" in err
    assert "same=host content\n" in out
    assert "mtime=1234567890.123456789\n" in out
    assert "mode=%o\n" % (os.stat(suid).st_mode & 0o7777) in out
    assert "local=local\n" in out
    assert "usr=overlay\n" in out
    assert "usr writable in the guest\n" in out
    assert "disk read-only\n" in out
    # Never the walk's file: an I/O error, and vmtest says which file.
    assert "changed-rc=1\n" in out and "Input/output error" in out, out
    assert "%s/changed.txt changed on the host while the guest ran" % d in err
    assert "shared=written during the run\n" in out
    # The guest's writes stayed in the guest.
    assert not os.path.exists(d + "/new.txt")
    assert how_it_booted(err) == "saved", err

    # Between runs: one file rewritten, one replaced by a rename.
    with open(d + "/same.txt", "w") as f:
        f.write("rewritten between runs\n")
    with open(d + "/replaced.new", "w") as f:
        f.write("after\n")
    os.rename(d + "/replaced.new", d + "/replaced.txt")
    r = vmtest("-v", "-k", debian_kernel(), GUEST_RUN2.format(d=d), cwd=tmp_path, env=cache,
               timeout=120)
    assert r.returncode == 0, r.stderr
    assert how_it_booted(r.stderr) == "restored", r.stderr
    assert "same=rewritten between runs\n" in r.stdout
    assert "replaced=after\n" in r.stdout
    assert "No such file" in r.stdout  # new.txt: the first run's write is gone
    assert "/usr from vmtest's image" in r.stderr


def test_without_the_image_usr_is_9ps(vmtest, tmp_path, host_usr):
    """A kernel without EROFS (the small one), --filesystem 9p and
    vm.usr_image = false: /usr over 9p, the same files."""
    d = host_usr[0]
    with open(d + "/file.txt", "w") as f:
        f.write("over 9p\n")
    r = vmtest("-v", "-k", small_kernel(), "cat %s/file.txt" % d, cwd=tmp_path, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "over 9p\n"
    assert "/usr over 9p like the rest of the root" in r.stderr
    assert "no built-in EROFS" in r.stderr
    # No disk on QEMU's command line when it is not wanted.
    assert "driver=nbd" in vmtest("--dry-run", "-k", debian_kernel(), "true", cwd=tmp_path).stdout
    assert "driver=nbd" not in vmtest("--dry-run", "--filesystem", "9p", "-k", debian_kernel(),
                                      "true", cwd=tmp_path).stdout
    (tmp_path / "vmtest.toml").write_text(
        '[[target]]\nname = "t"\nkernel = "%s"\ncommand = "true"\n[target.vm]\n'
        'usr_image = false\n' % debian_kernel())
    r = vmtest("--dry-run", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "driver=nbd" not in r.stdout + r.stderr
