# SPDX-License-Identifier: MIT
"""The vmtest binary before any VM starts: command line, vmtest.toml,
--list, --dry-run, and the exit statuses and messages a user sees."""
import os
import re
import tomllib

import pytest

SEED_CONFIG = """\
[[target]]
name = "AWS kernel"
kernel = "./bzImage-5.15.0-1022-aws
command = "/bin/bash -c 'uname -r | grep -e aws$'"

[[target]]
name = "OCI image"
image = "./oci-stage-6/oci-stage-6-disk001.qcow2"
command = "/bin/bash -c 'ls -l /mnt/vmtest && cat /proc/thiswillfail'"
"""

THREE_TARGETS = """\
[[target]]
name = "kernel 6.1"
kernel = "./bzImage"
kernel_args = "quiet"
command = "uname -r"

[[target]]
name = "image"
image = "disk.qcow2"
uefi = true
command = "ls /mnt/vmtest"
[target.vm]
num_cpus = 4
memory = "512M"
extra_args = ["-device", "virtio-rng-pci"]
[target.vm.mounts]
"/data" = { host_path = "shared", writable = true }
"/cfg" = { host_path = "/etc" }

[[target]]
name = "kernel 5.15"
kernel = "bzImage"
command = "true"
"""


def test_help_names_every_option(vmtest):
    r = vmtest("--help")
    assert r.returncode == 0, r.stderr
    for flag in ["-c, --config", "-f, --filter", "-k, --kernel", "--kargs",
                 "--kvm-cpu-args", "-r, --rootfs", "-a, --arch",
                 "-q, --qemu-command", "-h, --help", "-V, --version",
                 "--dry-run", "--list", "-v, --verbose"]:
        assert flag in r.stdout
    assert r.stderr == ""
    assert vmtest("-h").stdout == r.stdout


def test_version(vmtest):
    r = vmtest("--version")
    assert r.returncode == 0
    # make check installs every cross compiler: every init is built in.
    assert re.fullmatch(r"vmtest \d+\.\d+\.\d+\nguest inits: x86_64 aarch64 s390x riscv64\n",
                        r.stdout), r.stdout


def test_seed_readme_typo_is_one_clear_line(vmtest, tmp_path):
    (tmp_path / "vmtest.toml").write_text(SEED_CONFIG)
    r = vmtest(cwd=tmp_path)
    assert r.returncode == 2
    assert r.stdout == ""
    assert r.stderr == "vmtest: vmtest.toml:3:10: unterminated string\n"


def test_list_keeps_file_order_and_filters(vmtest, project):
    (project / "vmtest.toml").write_text(THREE_TARGETS)
    r = vmtest("--list", cwd=project)
    assert (r.returncode, r.stdout) == (0, "kernel 6.1\nimage\nkernel 5.15\n")
    # Perl-style classes, as vmtest's filter takes.
    r = vmtest("--list", "-f", r"\d\.\d+$", cwd=project)
    assert (r.returncode, r.stdout) == (0, "kernel 6.1\nkernel 5.15\n")
    r = vmtest("--list", "--filter=^image$", cwd=project)
    assert (r.returncode, r.stdout) == (0, "image\n")


def test_list_does_not_need_the_files(vmtest, tmp_path):
    # CI lists targets to build a matrix before the kernels exist.
    (tmp_path / "vmtest.toml").write_text(THREE_TARGETS)
    r = vmtest("--list", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("\n") == 3


def test_filter_errors(vmtest, project):
    (project / "vmtest.toml").write_text(THREE_TARGETS)
    r = vmtest("--list", "-f", "nomatch", cwd=project)
    assert r.returncode == 2
    assert r.stderr == "vmtest: no target of vmtest.toml matches --filter 'nomatch'\n"
    r = vmtest("--list", "-f", "(", cwd=project)
    assert r.returncode == 2
    assert r.stderr == "vmtest: --filter '(': missing closing parenthesis at offset 1\n"


def test_dry_run_is_resolved_toml_that_reads_back(vmtest, project, tmp_path_factory):
    (project / "vmtest.toml").write_text(THREE_TARGETS)
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    r = vmtest("--dry-run", "-c", str(project / "vmtest.toml"), cwd=elsewhere)
    assert r.returncode == 0, r.stderr
    doc = tomllib.loads(r.stdout)
    kernel, image, other = doc["target"]
    # Relative paths resolve against the config's directory, not the cwd.
    assert kernel["kernel"] == str(project / "bzImage")
    assert other["kernel"] == str(project / "bzImage")
    assert kernel["rootfs"] == "/"
    assert kernel["kernel_args"] == "quiet"
    assert kernel["arch"] == os.uname().machine
    assert kernel["qemu_command"] == "qemu-system-" + os.uname().machine
    assert kernel["vm"] == {"num_cpus": 2, "memory": "4G", "extra_args": []}
    assert image["image"] == str(project / "disk.qcow2")
    assert image["uefi"] is True
    assert "rootfs" not in image
    assert image["vm"]["num_cpus"] == 4
    assert image["vm"]["extra_args"] == ["-device", "virtio-rng-pci"]
    # Mounts keep file order.
    assert list(image["vm"]["mounts"].items()) == [
        ("/data", {"host_path": str(project / "shared"), "writable": True}),
        ("/cfg", {"host_path": "/etc", "writable": False}),
    ]
    # What --dry-run prints is itself a config vmtest reads, unchanged.
    (elsewhere / "resolved.toml").write_text(r.stdout)
    again = vmtest("--dry-run", "-c", "resolved.toml", cwd=elsewhere)
    assert again.returncode == 0, again.stderr
    strip = lambda s: [l for l in s.splitlines() if not l.startswith("#")]
    assert strip(again.stdout) == strip(r.stdout)


def test_dry_run_checks_the_files(vmtest, project):
    (project / "vmtest.toml").write_text(THREE_TARGETS.replace('"./bzImage"', '"./missing"'))
    r = vmtest("--dry-run", cwd=project)
    assert r.returncode == 2
    assert r.stderr == ("vmtest: vmtest.toml:3:10: target 'kernel 6.1': kernel: %s: "
                        "No such file or directory\n" % (project / "missing"))
    # The filter leaves it out, so nothing is wrong with what runs.
    r = vmtest("--dry-run", "-f", "image", cwd=project)
    assert r.returncode == 0, r.stderr


def test_oneliner_argv_arrives_exactly(vmtest, project):
    r = vmtest("--dry-run", "-k", "./bzImage", "--", "printf", "%s\\n", "a b", "it's", "$HOME",
               cwd=project)
    assert r.returncode == 0, r.stderr
    t = tomllib.loads(r.stdout)["target"][0]
    assert t["name"] == "bzImage"
    assert t["kernel"] == str(project / "bzImage")
    assert t["command"] == "printf '%s\\n' 'a b' 'it'\\''s' '$HOME'"
    # Feed it to a real shell: the same argv comes out.
    out = os.popen(t["command"]).read()
    assert out == "a b\nit's\n$HOME\n"


def test_oneliner_single_word_is_a_shell_line(vmtest, project, tmp_path_factory):
    rootfs = tmp_path_factory.mktemp("rootfs")
    r = vmtest("--dry-run", "-k", "bzImage", "--kargs", "quiet", "-r", str(rootfs),
               "uname -r | grep 6", cwd=project)
    assert r.returncode == 0, r.stderr
    t = tomllib.loads(r.stdout)["target"][0]
    assert t["command"] == "uname -r | grep 6"
    assert t["kernel_args"] == "quiet"
    assert t["rootfs"] == str(rootfs)


def test_rootfs_inside_the_shared_directory_is_refused(vmtest, project):
    # The shared directory is writable; the root filesystem must not be.
    r = vmtest("--dry-run", "-k", "bzImage", "-r", "shared", "true", cwd=project)
    assert r.returncode == 2
    assert r.stderr == ("vmtest: target 'bzImage': %s cannot be shared read-write at "
                        "/mnt/vmtest: it holds the root filesystem %s; run vmtest from a "
                        "project directory\n" % (project, project / "shared"))
    r = vmtest("--dry-run", "true", cwd="/")
    assert r.returncode == 2
    assert "/ cannot be shared read-write at /mnt/vmtest" in r.stderr


def test_oneliner_interactive_shell(vmtest, project):
    r = vmtest("--dry-run", "-k", "bzImage", "-", cwd=project)
    assert r.returncode == 0, r.stderr
    assert "# command: an interactive shell" in r.stdout
    assert not re.search(r"^command =", r.stdout, re.M)


def test_oneliner_on_the_hosts_kernel(vmtest, tmp_path):
    r = vmtest("--dry-run", "--", "uname", "-r", cwd=tmp_path)
    kernels = sorted(k for k in os.listdir("/boot") if k.startswith("vmlinuz-"))
    assert kernels, "make check installs linux-image-amd64, so /boot has a kernel"
    assert r.returncode == 0, r.stderr
    t = tomllib.loads(r.stdout)["target"][0]
    running = "/boot/vmlinuz-" + os.uname().release
    if os.path.exists(running):
        assert t["kernel"] == running
    else:
        assert t["kernel"].startswith("/boot/vmlinuz-")
        assert os.path.basename(t["kernel"]) in kernels
    assert t["name"] == os.path.basename(t["kernel"])
    assert t["command"] == "uname -r"


@pytest.mark.parametrize("args, message", [
    (["-c", "x.toml", "-k", "bz"],
     "-k/--kernel cannot be used with -c: it describes a one-liner's target; set it in x.toml instead"),
    (["-c", "x.toml", "ls"],
     "a command cannot be given with -c: each target of x.toml has its own command"),
    (["-k", "bz"], "-k/--kernel needs a command to run (or - for an interactive shell)"),
    (["--kargs", "quiet"], "--kargs needs a command to run (or - for an interactive shell)"),
    (["-f", "x", "--", "ls"], "-f/--filter selects targets of a config file; a one-liner has just one"),
    (["--filer", "x"], "unknown option '--filer'; did you mean '--filter'?"),
    (["-a", "arm", "-k", "bzImage", "ls"],
     "-a: unknown architecture 'arm' (vmtest supports x86_64, aarch64, s390x, riscv64)"),
    (["-k", "missing", "ls"], None),
    (["-k", "bzImage", ""], "the command is empty"),
])
def test_usage_errors_exit_2(vmtest, project, args, message):
    r = vmtest("--dry-run", *args, cwd=project)
    assert r.returncode == 2, r
    assert r.stdout == ""
    lines = r.stderr.splitlines()
    if message is None:
        message = "-k: %s: No such file or directory" % (project / "missing")
    assert lines[0] == "vmtest: " + message


def test_missing_option_value_points_to_help(vmtest):
    r = vmtest("-k")
    assert r.returncode == 2
    assert r.stderr == "vmtest: option '-k' needs a value\nTry 'vmtest --help' for more information.\n"


def test_missing_config(vmtest, tmp_path):
    r = vmtest(cwd=tmp_path)
    assert (r.returncode, r.stderr) == (2, "vmtest: vmtest.toml: No such file or directory\n")
    r = vmtest("-c", str(tmp_path), cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr == "vmtest: %s: is a directory, not a config file\n" % tmp_path


BAD_CONFIGS = [
    ('[[target]]\nname = "a"\nkernal = "k"\ncommand = "c"\n',
     "vmtest.toml:3:1: target 'a': unknown key 'kernal' in [[target]]; did you mean 'kernel'?"),
    ('[[target]]\nname = "a"\nkernel = "k"\ncommand = "c"\n[target.vm]\nmemroy = "1G"\n',
     "vmtest.toml:6:1: target 'a': unknown key 'memroy' in [target.vm]; did you mean 'memory'?"),
    ('[[target]]\nname = "a"\nkernel = "k"\nimage = "i"\ncommand = "c"\n',
     "vmtest.toml:4:1: target 'a': kernel and image cannot both be set: a target boots either a kernel or an image"),
    ('[[target]]\nname = "a"\nkernel = "k"\n',
     "vmtest.toml:1:1: target 'a': command is required"),
    ('[[target]]\nname = "a"\nkernel = "k"\ncommand = "c"\n[[target]]\nname = "a"\nkernel = "k"\ncommand = "c"\n',
     "vmtest.toml:6:8: target 'a': name is already used by the target at line 1"),
    ('[[target]]\nname = "a"\nkernel = "k"\ncommand = "c"\nvm.num_cpus = 0\n',
     "vmtest.toml:5:15: target 'a': vm.num_cpus: 0 is out of range (1 to 255)"),
    ('[[target]]\nname = "a"\nkernel = "k"\ncommand = "c"\nvm.memory = "lots"\n',
     "vmtest.toml:5:13: target 'a': vm.memory: 'lots' is not a size QEMU understands (such as \"512M\" or \"4G\")"),
    ('[[target]]\nname = "a"\nimage = "i"\ncommand = "c"\nvm.bios = "b"\n',
     "vmtest.toml:5:11: target 'a': vm.bios applies only with uefi = true"),
    ('[[target]]\nname = "a"\nkernel = "k"\ncommand = "c"\nname = "b"\n',
     "vmtest.toml:5:1: duplicate key 'name'"),
]


@pytest.mark.parametrize("text, message", BAD_CONFIGS)
def test_bad_configs_exit_2_with_position(vmtest, tmp_path, text, message):
    (tmp_path / "vmtest.toml").write_text(text)
    for args in [(), ("--list",), ("--dry-run",)]:
        r = vmtest(*args, cwd=tmp_path)
        assert r.returncode == 2
        assert r.stdout == ""
        assert r.stderr == "vmtest: " + message + "\n"


def test_example_config_is_valid(vmtest):
    here = os.path.dirname(os.path.abspath(__file__))
    example = os.path.join(here, "..", "..", "examples", "vmtest.toml")
    r = vmtest("--list", "-c", example)
    assert r.returncode == 0, r.stderr
    assert len(r.stdout.splitlines()) >= 2
