# SPDX-License-Identifier: MIT
"""Image targets end to end: the real vmtest binary boots small disk images
the project builds itself (scripts/test-image.sh: busybox, Debian's kernel,
qemu-ga; GRUB for BIOS, BOOTX64.EFI for UEFI) and runs commands through
the image's own qemu-ga."""
import hashlib
import os
import re
import shutil
import subprocess


from conftest import run_live, small_kernel

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "..", "..", "scripts", "test-image.sh")


def test_image(variant, fmt="qcow2"):
    return subprocess.run([SCRIPT, variant, "--format", fmt], check=True, capture_output=True,
                          text=True).stdout.strip()


test_image.__test__ = False  # a helper, not a test


def reserved_offset():
    return int(subprocess.run([SCRIPT, "--reserved-offset"], check=True, capture_output=True,
                              text=True).stdout.strip())


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


CONFIG = """\
[[target]]
name = "bios qcow2"
image = "{bios}"
command = '''
echo "release=$(uname -r)"
echo "from-host=$(cat /mnt/vmtest/from-host)"
echo guest-wrote > /mnt/vmtest/from-guest
echo "pwd=$(pwd)"
cat /ro/data
if echo x > /ro/new 2>/dev/null; then echo ro=writable; else echo ro=refused; fi
echo rw > /rw/new && echo rw=ok
dd if=/dev/urandom of=/dev/vda bs=4096 seek={block} count=16 conv=fsync 2>/dev/null && echo dd=ok
'''
[target.vm]
memory = "1G"
[target.vm.mounts]
"/ro" = {{ host_path = "ro" }}
"/rw" = {{ host_path = "rw", writable = true }}

[[target]]
name = "uefi raw"
image = "{uefi}"
uefi = true
command = "test -d /sys/firmware/efi && echo efi=yes; exit 4"
[target.vm]
memory = "1G"

[[target]]
name = "kernel"
kernel = "{kernel}"
command = "echo kernel=ok"
"""


def test_images_and_a_kernel_in_one_config(vmtest, tmp_path):
    bios, uefi = test_image("bios"), test_image("uefi", "raw")
    before = {bios: sha256(bios), uefi: sha256(uefi)}
    (tmp_path / "from-host").write_text("hello\n")
    (tmp_path / "ro").mkdir()
    (tmp_path / "ro" / "data").write_text("data=from-ro\n")
    (tmp_path / "rw").mkdir()
    (tmp_path / "vmtest.toml").write_text(CONFIG.format(
        bios=bios, uefi=uefi, kernel=small_kernel(), block=reserved_offset() // 4096))
    r = vmtest(cwd=tmp_path, timeout=600)
    # Several targets, one failed: 1.
    assert r.returncode == 1, r.stdout + r.stderr
    blocks = re.split(r"^=> ", r.stdout, flags=re.M)[1:]
    assert [b.splitlines()[0] for b in blocks] == ["bios qcow2", "uefi raw", "kernel"]
    bios_out, uefi_out, kernel_out = blocks
    assert bios_out.splitlines()[1:4] == ["===> Booting", "===> Setting up VM",
                                          "===> Running command"]
    out = dict(l.split("=", 1) for l in bios_out.splitlines() if "=" in l[1:] and l[0] != "=")
    assert out["release"].endswith("-amd64")
    assert out["from-host"] == "hello"
    assert out["pwd"] == "/mnt/vmtest"
    assert out["data"] == "from-ro"
    assert out["ro"] == "refused"
    assert out["rw"] == "ok"
    assert out["dd"] == "ok"
    assert bios_out.rstrip().endswith("PASS")
    assert (tmp_path / "from-guest").read_text() == "guest-wrote\n"
    assert (tmp_path / "rw" / "new").read_text() == "rw\n"
    assert "efi=yes" in uefi_out
    assert uefi_out.rstrip().endswith("Command failed with exit code: 4\nFAILED")
    assert "kernel=ok" in kernel_out and kernel_out.rstrip().endswith("PASS")
    # The guest wrote its disk; the image is byte for byte what it was.
    assert {bios: sha256(bios), uefi: sha256(uefi)} == before


def test_persist_writes_through(vmtest, tmp_path):
    # The bare image has no /sbin/shutdown: guest-shutdown fails there, and
    # vmtest falls back to ACPI, which busybox ignores, then stops QEMU.
    image = tmp_path / "disk.raw"
    shutil.copyfile(test_image("bare", "raw"), image)
    offset = reserved_offset()
    write = ("printf vmtest-marker | dd of=/dev/vda bs=1 seek=%d conv=notrunc 2>/dev/null"
             % offset)
    read = "dd if=/dev/vda bs=1 skip=%d count=13 2>/dev/null" % offset
    toml = ('[[target]]\nname = "p"\nimage = "disk.raw"\ncommand = "%s"\n'
            '[target.vm]\nmemory = "1G"\n%s')
    (tmp_path / "vmtest.toml").write_text(toml % (write, "persist = true\n"))
    r = vmtest("-v", cwd=tmp_path, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    # The guest writes the image: no boot of it is like another, none is kept.
    assert "vmtest: booting cold: vm.persist = true" in r.stderr, r.stderr
    assert "vmtest: guest-shutdown: GenericError: " in r.stderr
    assert "vmtest: powering off through ACPI (QMP system_powerdown)\n" in r.stderr
    with open(image, "rb") as f:
        f.seek(offset)
        assert f.read(13) == b"vmtest-marker"
    # A second boot, on a throw-away overlay again, reads the marker back.
    (tmp_path / "vmtest.toml").write_text(toml % (read, ""))
    r = vmtest(cwd=tmp_path, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "vmtest-marker" in r.stdout


def test_image_one_liner_uefi_qcow2(vmtest, tmp_path):
    image = test_image("uefi")
    (tmp_path / "here").write_text("shared\n")
    r = vmtest("-i", image, "--uefi", "--",
               "test -d /sys/firmware/efi && echo efi=yes; cat here; pwd; exit 3",
               cwd=tmp_path, timeout=300)
    assert r.returncode == 3, r.stdout + r.stderr
    assert r.stdout == "efi=yes\nshared\n/mnt/vmtest\n"
    assert "Command failed with exit code: 3\nFAILED\n" in r.stderr


def test_image_errors(vmtest, tmp_path):
    # Three images that cannot run a command, each with the reason: a
    # UEFI-only image booted with BIOS and one without qemu-ga never answer;
    # one whose qemu-ga forbids guest-exec (as RHEL's) says so.
    def config(*images):
        return "".join('[[target]]\nname = "%s"\nimage = "%s"\ncommand = "echo ran"\n'
                       '[target.vm]\nmemory = "512M"\n' % (name, test_image(variant))
                       for name, variant in images)
    # The two silent ones at once, each waiting out a short boot deadline.
    (tmp_path / "vmtest.toml").write_text(config(("u", "uefi"), ("n", "noagent")))
    r = vmtest("-j", "2", "--boot-timeout", "20", cwd=tmp_path, timeout=300)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "ran" not in r.stdout
    # With several targets, every message is in the run's report, on stdout,
    # each target's block whole, as it ends.
    blocks = {b.splitlines()[0]: b for b in re.split(r"^=> ", r.stdout, flags=re.M)[1:]}
    assert sorted(blocks) == ["n", "u"]
    for name in ["u", "n"]:
        assert ("vmtest: the guest did not answer within 20 s of booting (is qemu-ga "
                "installed and enabled in the image?)\nFAILED\n") in blocks[name]
    # The one that answers, with the usual deadline: a loaded host may be slow.
    (tmp_path / "vmtest.toml").write_text(config(("l", "locked")))
    r = vmtest(cwd=tmp_path, timeout=300)
    assert r.returncode == 69, r.stdout + r.stderr
    assert ("vmtest: the image's qemu-ga has guest-exec disabled, and vmtest runs commands "
            "with it; allow it in the image (RHEL, Fedora: remove it from the block list in "
            "/etc/sysconfig/qemu-ga, see docs/image-targets.md)\nFAILED\n") in r.stdout
    # A missing image, a missing firmware file: configuration errors.
    (tmp_path / "vmtest.toml").write_text(
        '[[target]]\nname = "m"\nimage = "nope.qcow2"\ncommand = "true"\n')
    r = vmtest(cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr == ("vmtest: vmtest.toml:3:9: target 'm': image: %s: No such file or "
                        "directory\n" % (tmp_path / "nope.qcow2"))
    (tmp_path / "vmtest.toml").write_text(
        '[[target]]\nname = "f"\nimage = "%s"\nuefi = true\ncommand = "true"\n'
        '[target.vm]\nbios = "OVMF-missing.fd"\n' % test_image("uefi"))
    r = vmtest(cwd=tmp_path)
    assert r.returncode == 2
    assert "vm.bios: %s: No such file or directory" % (tmp_path / "OVMF-missing.fd") in r.stderr
    r = vmtest("-i", "nope.raw", "--", "true", cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr == "vmtest: -i: %s: No such file or directory\n" % (tmp_path / "nope.raw")


def test_image_output_is_live(vmtest_binary, tmp_path):
    """A one-liner can't name an image, so a config: its output is streamed,
    stdout and stderr apart, before the command ends."""
    (tmp_path / "vmtest.toml").write_text(
        '[[target]]\nname = "live"\nimage = "%s"\n'
        'command = "echo ready; echo to-stderr >&2; while [ ! -e /mnt/vmtest/go ]; do sleep 0.1; done; '
        'head -c 3000000 /dev/urandom | tee /mnt/vmtest/blob; exit 7"\n'
        '[target.vm]\nmemory = "1G"\n' % test_image("bios"))
    rest, err, status = run_live([vmtest_binary], tmp_path, b"ready\n", tmp_path / "go")
    assert status == 7, err
    blob = (tmp_path / "blob").read_bytes()
    assert len(blob) == 3000000
    # Config mode prints both streams on stdout, each in order.
    assert blob in rest
    assert b"to-stderr\n" in rest
    assert rest.endswith(b"Command failed with exit code: 7\nFAILED\n")
