# SPDX-License-Identifier: MIT
"""Kernel warnings (docs/kernel-warnings.md): a real WARN and a real BUG
from a small test module, built here against Debian's linux-headers, fail
a kernel target whose command passed; what userspace writes to /dev/kmsg
does not; vm.kernel_warnings = "ignore" and vm.allowed_warnings let known
splats through; the splat reaches the terminal, JUnit and JSON."""
import json
import os
import re
import subprocess

import pytest

from conftest import debian_kernel, small_kernel

MODULE_C = r"""
// Warns (or, with bug=1, BUGs) as it loads: real splats for vmtest's tests.
#include <linux/bug.h>
#include <linux/init.h>
#include <linux/module.h>

static bool bug;
module_param(bug, bool, 0);

static int __init vmtest_warn_init(void)
{
	if (bug)
		BUG();
	WARN(1, "vmtest-test-warning\n");
	return 0;
}

static void __exit vmtest_warn_exit(void)
{
}

module_init(vmtest_warn_init);
module_exit(vmtest_warn_exit);
MODULE_LICENSE("GPL");
"""


def kernel_release(kernel):
    return os.path.basename(kernel)[len("vmlinuz-"):]


@pytest.fixture(scope="module")
def warn_module(tmp_path_factory):
    """vmtest_warn.ko for Debian's kernel (make check installs linux-headers-amd64)."""
    build = "/lib/modules/%s/build" % kernel_release(debian_kernel())
    if not os.path.isdir(build):
        raise pytest.UsageError("no %s: make check installs linux-headers-amd64" % build)
    d = tmp_path_factory.mktemp("module")
    (d / "vmtest_warn.c").write_text(MODULE_C)
    (d / "Makefile").write_text("obj-m := vmtest_warn.o\n")
    subprocess.run(["make", "-s", "-C", build, "M=%s" % d, "modules"], check=True,
                   capture_output=True, timeout=300)
    return d / "vmtest_warn.ko"


TARGETS = [
    # name, command, [target.vm] lines
    ("warn", "insmod ./vmtest_warn.ko && echo loaded", ""),
    ("userspace", "echo 'WARNING: CPU: 0 PID: 1 at fake.c:1' > /dev/kmsg && echo said", ""),
    ("ignored", "insmod ./vmtest_warn.ko && echo loaded", 'kernel_warnings = "ignore"\n'),
    ("allowed", "insmod ./vmtest_warn.ko && echo loaded",
     "allowed_warnings = ['^vmtest-test-warning$']\n"),
    ("bug", "insmod ./vmtest_warn.ko bug=1; echo after", ""),
    ("failing", "insmod ./vmtest_warn.ko; exit 3", ""),
]


def test_kernel_warnings_fail_targets(vmtest, tmp_path, warn_module):
    (tmp_path / "vmtest_warn.ko").write_bytes(warn_module.read_bytes())
    toml = ""
    for name, command, vm in TARGETS:
        toml += '[[target]]\nname = "%s"\nkernel = "%s"\ncommand = "%s"\n' % (
            name, debian_kernel(), command.replace('"', '\\"'))
        if vm:
            toml += "[target.vm]\n" + vm
    (tmp_path / "vmtest.toml").write_text(toml)
    r = vmtest("--no-ui", "--json", "out.json", "--junit", "junit.xml", cwd=tmp_path,
               timeout=600)
    assert r.returncode == 1, r.stderr
    cases = {c["name"]: c for c in json.loads((tmp_path / "out.json").read_text())["targets"]}
    title = re.compile(r"WARNING: CPU: \d+ PID: \d+ at \S*vmtest_warn.c:\d+ vmtest_warn_init")

    warn = cases["warn"]
    assert warn["status"] == "failed" and warn["exit_status"] == 71, warn
    assert warn["reason"].startswith("Kernel warning: WARNING: CPU: "), warn
    assert title.search(warn["reason"]), warn
    assert len(warn["kernel_warnings"]) == 1
    splat = warn["kernel_warnings"][0]
    assert splat.startswith("------------[ cut here ]------------\nvmtest-test-warning\n")
    assert "Call Trace:" in splat and "---[ end trace" in splat
    # What userspace writes to /dev/kmsg is not the kernel's.
    assert cases["userspace"]["status"] == "passed", cases["userspace"]
    assert cases["userspace"]["kernel_warnings"] == []
    # Ignored and allowed: passed; the ignored one is still on record.
    assert cases["ignored"]["status"] == "passed", cases["ignored"]
    assert len(cases["ignored"]["kernel_warnings"]) == 1
    assert cases["allowed"]["status"] == "passed", cases["allowed"]
    assert cases["allowed"]["kernel_warnings"] == []
    # A BUG: insmod dies, the script goes on and passes, the target fails.
    bug = cases["bug"]
    assert bug["status"] == "failed" and bug["exit_status"] == 71, bug
    assert re.search(r"Kernel warning: kernel BUG at \S*vmtest_warn.c:\d+!", bug["reason"]), bug
    # A command that fails keeps its status; the warning is in the reason.
    failing = cases["failing"]
    assert failing["exit_status"] == 3, failing
    assert failing["reason"].startswith("Command failed with exit code: 3; the kernel warned: "
                                        "WARNING: CPU: "), failing
    # The splat on the terminal (stderr), and in JUnit's failure.
    assert "vmtest: [warn] the kernel warned:" in r.stderr or \
        "the kernel warned:" in r.stderr, r.stderr
    assert "vmtest-test-warning" in r.stderr
    junit = (tmp_path / "junit.xml").read_text()
    assert "--- kernel warning ---" in junit and "vmtest-test-warning" in junit


def test_a_one_liner_that_warned(vmtest, tmp_path, warn_module):
    """The transparent-wrapper promise bends once: a command that exited 0
    while the kernel warned exits 71; --kernel-warnings ignore gives 0."""
    (tmp_path / "vmtest_warn.ko").write_bytes(warn_module.read_bytes())
    r = vmtest("-k", debian_kernel(), "--", "insmod ./vmtest_warn.ko && echo loaded",
               cwd=tmp_path, timeout=300)
    assert r.returncode == 71, r.stderr
    assert r.stdout == "loaded\n"
    assert "the kernel warned:" in r.stderr and "vmtest-test-warning" in r.stderr
    assert re.search(r"Kernel warning: WARNING: CPU: \d+ PID: \d+ at ", r.stderr), r.stderr
    r = vmtest("--kernel-warnings", "ignore", "-k", debian_kernel(), "--",
               "insmod ./vmtest_warn.ko && echo loaded", cwd=tmp_path, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "the kernel warned" not in r.stderr


def test_kernel_warnings_settings_are_checked(vmtest, tmp_path):
    """Bad settings: one line naming the place, status 2, nothing started."""
    r = vmtest("--kernel-warnings", "warn", "-k", small_kernel(), "true", cwd=tmp_path)
    assert r.returncode == 2
    assert "--kernel-warnings 'warn': expected fail or ignore" in r.stderr, r.stderr
    (tmp_path / "vmtest.toml").write_text(
        '[[target]]\nname = "k"\nkernel = "%s"\ncommand = "true"\n'
        "[target.vm]\nallowed_warnings = ['ok', 'a(b']\n" % small_kernel())
    r = vmtest(cwd=tmp_path)
    assert r.returncode == 2
    assert "vmtest.toml:6:27: target 'k': vm.allowed_warnings: 'a(b' is not a regular " \
        "expression: missing closing parenthesis at offset 3" in r.stderr, r.stderr
    (tmp_path / "vmtest.toml").write_text(
        '[[target]]\nname = "k"\nkernel = "%s"\ncommand = "true"\n'
        '[target.vm]\nkernel_warnings = "warn"\n' % small_kernel())
    r = vmtest(cwd=tmp_path)
    assert r.returncode == 2
    assert "vmtest.toml:6:19: target 'k': vm.kernel_warnings: expected \"fail\" or \"ignore\"" \
        in r.stderr, r.stderr
