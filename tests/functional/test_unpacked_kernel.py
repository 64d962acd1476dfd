# SPDX-License-Identifier: MIT
"""A root filesystem made by unpacking a distribution's kernel package with
dpkg-deb -x has no modules.dep: depmod runs in the package's postinst.
vmtest finds the modules a kernel target needs from the package's
modules.order and the modules' own .modinfo instead, for Debian's amd64 and
arm64 kernels, each unpacked with a static busybox beside it
(scripts/test-rootfs.sh --no-depmod)."""
import os
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "..", "..", "scripts", "test-rootfs.sh")

CONFIG = """\
[[target]]
name = "{name}"
kernel = "{kernel}"
rootfs = "{rootfs}"
arch = "{arch}"
command = '''
echo "machine=$(uname -m) release=$(uname -r)"
cut -d' ' -f1 /proc/modules | sort | tr '\\n' ' '; echo
cat /mnt/vmtest/in
echo "{name}" > /mnt/vmtest/out-{name}
'''
[target.vm]
memory = "1G"
"""


def unpacked(debarch):
    out = subprocess.run([SCRIPT, "--no-depmod", debarch], check=True, capture_output=True,
                         text=True).stdout.split("\n")
    return out[0], out[1]


def test_kernel_packages_unpacked_without_depmod(vmtest, tmp_path):
    targets = []
    for name, debarch, arch in (("amd64", "amd64", "x86_64"), ("arm64", "arm64", "aarch64")):
        kernel, rootfs = unpacked(debarch)
        release = os.path.basename(kernel)[len("vmlinuz-"):]
        moddir = os.path.join(rootfs, "lib", "modules", release)
        # What dpkg-deb -x leaves: the package's lists, no depmod output.
        assert os.path.isfile(os.path.join(moddir, "modules.order"))
        assert not os.path.exists(os.path.join(moddir, "modules.dep"))
        targets.append((name, arch, release, moddir))
        with open(tmp_path / "vmtest.toml", "a") as f:
            f.write(CONFIG.format(name=name, kernel=kernel, rootfs=rootfs, arch=arch))
    (tmp_path / "in").write_text("from the host\n")

    r = vmtest("--no-ui", cwd=tmp_path, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    for name, arch, release, moddir in targets:
        assert "machine=%s release=%s\n" % (arch, release) in r.stdout
        assert (tmp_path / ("out-" + name)).read_text() == name + "\n"
        # vmtest read the package's files and wrote nothing into the rootfs.
        assert not os.path.exists(os.path.join(moddir, "modules.dep"))
    # 9p and what it needs came from modules.order and .modinfo, in an
    # order the kernel accepted (else nothing would have been mounted).
    loaded = [line for line in r.stdout.splitlines() if " 9pnet_virtio " in line]
    assert len(loaded) == 2, r.stdout
    for line in loaded:
        assert {"9p", "9pnet", "netfs", "fscache", "overlay", "virtio_console"} <= set(line.split())
    assert r.stdout.count("from the host\n") == 2
