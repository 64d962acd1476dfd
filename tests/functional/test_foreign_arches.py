# SPDX-License-Identifier: MIT
"""Foreign architectures under TCG: Debian's arm64 and s390x kernels and
busybox, as a root filesystem made from their packages
(scripts/test-rootfs.sh), booted with vmtest's cross-built guest init."""
import os
import re
import subprocess


HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "..", "..", "scripts", "test-rootfs.sh")


def test_rootfs(debarch):
    kernel, rootfs = subprocess.run([SCRIPT, debarch], check=True, capture_output=True,
                                    text=True).stdout.split("\n")[:2]
    return kernel, rootfs


test_rootfs.__test__ = False  # a helper, not a test

CONFIG = """\
[[target]]
name = "arm64"
kernel = "{arm64_kernel}"
rootfs = "{arm64_rootfs}"
arch = "aarch64"
command = '''
echo "machine=$(uname -m)"
echo "release=$(uname -r)"
echo "from-host=$(cat /mnt/vmtest/in)"
echo arm64 > /mnt/vmtest/out-arm64
echo "env=$VMTEST_FOREIGN_TEST"
echo "pwd=$(pwd)"
echo "ro=$(cat /ro/data)"
echo to-stderr >&2
exit 3
'''
[target.vm]
memory = "1G"
[target.vm.mounts]
"/ro" = {{ host_path = "ro" }}

[[target]]
name = "s390x"
kernel = "{s390x_kernel}"
rootfs = "{s390x_rootfs}"
arch = "s390x"
command = "uname -m; echo s390x > /mnt/vmtest/out-s390x; echo \\"env=$VMTEST_FOREIGN_TEST\\""
[target.vm]
memory = "1G"

[[target]]
name = "arm64 timeout"
kernel = "{arm64_kernel}"
rootfs = "{arm64_rootfs}"
arch = "aarch64"
command = "echo started; sleep 600"
timeout = 2
[target.vm]
memory = "1G"
"""


def test_arm64_and_s390x(vmtest, tmp_path):
    arm64_kernel, arm64_rootfs = test_rootfs("arm64")
    s390x_kernel, s390x_rootfs = test_rootfs("s390x")
    (tmp_path / "in").write_text("hello\n")
    (tmp_path / "ro").mkdir()
    (tmp_path / "ro" / "data").write_text("read-only\n")
    (tmp_path / "vmtest.toml").write_text(CONFIG.format(
        arm64_kernel=arm64_kernel, arm64_rootfs=arm64_rootfs,
        s390x_kernel=s390x_kernel, s390x_rootfs=s390x_rootfs))

    # --dry-run: each architecture's QEMU, machine and console.
    r = vmtest("--dry-run", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    qemu = re.findall(r"^# qemu: (.*)$", r.stdout, re.M)
    assert qemu[0].startswith("qemu-system-aarch64 ")
    assert "-machine 'virt,gic-version=3'" in qemu[0] and "console=ttyAMA0 " in qemu[0]
    assert "-cpu 'max,pauth-impdef=on'" in qemu[0]
    assert qemu[1].startswith("qemu-system-s390x ")
    assert "-machine s390-ccw-virtio" in qemu[1] and "console=ttysclp0 " in qemu[1]
    assert "virtio-9p-ccw," in qemu[1]

    # --dump: x86_64 kernels only (s390x has no fw_cfg for QEMU's vmcoreinfo
    # device, and would not start with it): the run is as without it.
    r = vmtest("--dump", "dumps", cwd=tmp_path, env={"VMTEST_FOREIGN_TEST": "passed-through"},
               timeout=600)
    assert r.returncode == 1, r.stdout + r.stderr
    assert os.listdir(tmp_path / "dumps") == []
    blocks = {b.splitlines()[0]: b for b in re.split(r"^=> ", r.stdout, flags=re.M)[1:]}
    arm = dict(l.split("=", 1) for l in blocks["arm64"].splitlines() if "=" in l[1:]
               and not l.startswith("="))
    assert arm["machine"] == "aarch64"
    assert arm["release"].endswith("-arm64")
    assert arm["from-host"] == "hello"
    assert arm["env"] == "passed-through"
    assert arm["pwd"] == str(tmp_path)
    assert arm["ro"] == "read-only"
    assert "to-stderr\n" in blocks["arm64"]
    assert blocks["arm64"].endswith("Command failed with exit code: 3\nFAILED\n")
    assert (tmp_path / "out-arm64").read_text() == "arm64\n"

    assert blocks["s390x"].endswith("s390x\nenv=passed-through\nPASS\n")
    assert (tmp_path / "out-s390x").read_text() == "s390x\n"

    assert blocks["arm64 timeout"].endswith("started\nTimed out after 2 s\nFAILED\n")


def test_foreign_one_liner_exit_status(vmtest, tmp_path):
    kernel, rootfs = test_rootfs("arm64")
    r = vmtest("-a", "aarch64", "-k", kernel, "-r", rootfs, "--", "sh", "-c",
               "uname -m; exit 42", cwd=tmp_path, timeout=300)
    assert r.returncode == 42, r.stderr
    assert r.stdout == "aarch64\n"
    # KVM cannot run another architecture: asking for it is refused.
    r = vmtest("--accel", "kvm", "-a", "aarch64", "-k", kernel, "-r", rootfs, "true",
               cwd=tmp_path, env={"VMTEST_ACCEL": ""})
    assert r.returncode == 2
    assert "--accel kvm cannot run aarch64 guests on this x86_64 host" in r.stderr


def test_riscv64(vmtest, tmp_path):
    """Debian 12 has no riscv64 packages: a kernel cross-built from
    linux-source-6.1 and busybox cross-built from Debian's source (both
    cached outside the checkout), and vmtest's init with jansson compiled
    from Debian's source."""
    kernel, rootfs = test_rootfs("riscv64")
    (tmp_path / "in").write_text("hello\n")
    (tmp_path / "vmtest.toml").write_text(
        '[[target]]\nname = "riscv64"\nkernel = "%s"\nrootfs = "%s"\narch = "riscv64"\n'
        'command = \'\'\'\necho "machine=$(uname -m)"\necho "from-host=$(cat /mnt/vmtest/in)"\n'
        'echo riscv > /mnt/vmtest/out\necho "pwd=$(pwd)"\necho "env=$VMTEST_FOREIGN_TEST"\n'
        'exit 6\n\'\'\'\n[target.vm]\nmemory = "1G"\n' % (kernel, rootfs))
    r = vmtest("--dry-run", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert re.search(r"^# qemu: qemu-system-riscv64 .*-machine virt -accel tcg -cpu rv64 ",
                     r.stdout, re.M)
    r = vmtest(cwd=tmp_path, env={"VMTEST_FOREIGN_TEST": "passed-through"}, timeout=600)
    assert r.returncode == 6, r.stdout + r.stderr
    assert ("===> Running command\nmachine=riscv64\nfrom-host=hello\npwd=%s\n"
            "env=passed-through\nCommand failed with exit code: 6\nFAILED\n" % tmp_path) in r.stdout
    assert (tmp_path / "out").read_text() == "riscv\n"
