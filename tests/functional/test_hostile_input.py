# SPDX-License-Identifier: MIT
"""Hostile and broken input through the real binary: every invalid TOML
document of the toml-test suite and of the project's fuzz corpus, files given as kernels that are not
kernels, and paths that try to inject QEMU options (kernel, project,
config, mounts, rootfs, image, firmware)."""
import os
import re
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.environ.get("VMTEST_SHARED_DIR", os.path.join(HERE, "..", "..", "..", "shared"))
# The public toml-test suite's invalid documents: this team's copy where it
# exists, else the older one in Debian's golang-github-burntsushi-toml-dev,
# which make check installs.
TOML_TEST_INVALID = [os.path.join(SHARED, "toml-test", "invalid"),
                     "/usr/share/gocode/src/github.com/BurntSushi/toml/internal/toml-test/tests/invalid"]
# The project's own: every input of the TOML fuzz corpus that the parser rejects.
FUZZ_CORPUS = os.path.join(HERE, "..", "fuzz", "corpus", "toml")


def toml_test_invalid():
    suite = next((d for d in TOML_TEST_INVALID if os.path.isdir(d)), None)
    if not suite:
        # Fail, never skip: make check installs Debian's copy.
        raise pytest.UsageError("no toml-test suite at any of %s" % TOML_TEST_INVALID)
    docs = []
    for root, _, files in os.walk(suite):
        docs += [os.path.join(root, f) for f in files if f.endswith(".toml")]
    return suite, sorted(docs)


# Hundreds of short processes: a few at a time (each mostly waits for its
# start-up), which halves these tests' time on two cores.
PARALLEL = 4


def corpus_invalid(decoder):
    """The fuzz corpus's documents that toml-decode (the same parser) rejects."""
    paths = [os.path.join(FUZZ_CORPUS, f) for f in sorted(os.listdir(FUZZ_CORPUS))]
    r = subprocess.run([decoder, "--rejected"] + paths, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout.splitlines()


def each_is_one_clear_line(vmtest_binary, tmp_path, docs, base):
    line = re.compile(r"^vmtest: vmtest\.toml:(\d+):(\d+): [^\n]+\n\Z")

    # The ASan build's leak check at exit costs about 45 ms a process here:
    # every document runs without it, then the first document of each
    # message (the message names the error path; its quoted words, the
    # document's, do not) runs again with it.
    # Other sanitizer errors are looked for in every run.
    no_leaks = dict(os.environ, ASAN_OPTIONS=os.environ.get("ASAN_OPTIONS", "") + ":detect_leaks=0")

    def check(numbered, env=no_leaks):
        i, doc = numbered
        project = tmp_path / ("%d%s" % (i, "" if env is no_leaks else "-leaks"))
        project.mkdir()
        with open(doc, "rb") as f:
            (project / "vmtest.toml").write_bytes(f.read())
        r = subprocess.run([vmtest_binary], cwd=project, capture_output=True, timeout=30,
                           stdin=subprocess.DEVNULL, env=env)
        err = r.stderr.decode("utf-8", "replace")
        m = line.match(err)
        if r.returncode != 2 or r.stdout or not m:
            return ("%s: status %d, stdout %r, stderr %r"
                    % (os.path.relpath(doc, base), r.returncode, r.stdout[:80], err[:200])), None
        return None, re.sub(r"'.*'", "'?'", err[m.end(2):])

    with ThreadPoolExecutor(PARALLEL) as pool:
        results = list(pool.map(check, enumerate(docs)))
    bad = [b for b, _ in results if b]
    assert not bad, "\n".join(bad[:20]) + "\n(%d of %d)" % (len(bad), len(docs))
    first = {}
    for i, (_, message) in enumerate(results):
        first.setdefault(message, i)
    with ThreadPoolExecutor(PARALLEL) as pool:
        bad = [b for b, _ in pool.map(lambda i: check((i, docs[i]), os.environ), first.values())
               if b]
    assert not bad, "with the leak check:\n" + "\n".join(bad[:20])
    return len(first)


def test_every_invalid_toml_document_is_one_clear_line(vmtest_binary, tmp_path):
    suite, docs = toml_test_invalid()
    assert len(docs) >= 200, suite
    each_is_one_clear_line(vmtest_binary, tmp_path, docs, suite)


def test_every_invalid_document_of_the_fuzz_corpus_is_one_clear_line(vmtest_binary, tmp_path):
    decoder = os.path.join(os.path.dirname(vmtest_binary), "toml-decode")
    docs = corpus_invalid(decoder)
    assert len(docs) >= 500
    each_is_one_clear_line(vmtest_binary, tmp_path, docs, FUZZ_CORPUS)


WEIRD = "-x,readonly=off, sp ace 'q\" =\nnl"


def toml_str(s):
    return '"%s"' % s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def test_paths_cannot_inject_qemu_options(vmtest, tmp_path):
    """Commas, '=', spaces, quotes, a newline and a leading dash in the
    kernel's, the project's (so the config's), the mounts' and the rootfs's
    paths: they work as paths, and none becomes a QEMU option
    (",readonly=off" would make a read-only mount or the root writable)."""
    from conftest import small_kernel
    weird = WEIRD
    project = tmp_path / ("proj" + weird)
    project.mkdir()
    kernel = project / ("k" + weird)
    os.symlink(small_kernel(), kernel)
    ro = tmp_path / ("ro" + weird)
    ro.mkdir()
    (ro / "data").write_text("ro-data\n")
    rw = tmp_path / ("rw" + weird)
    rw.mkdir()
    # The host's root under a hostile name, as a rootfs: still read-only.
    root = tmp_path / ("root" + weird)
    os.symlink("/", root)
    probe = "/vmtest-hostile-probe-%d" % os.getpid()

    (project / "vmtest.toml").write_text(
        "[[target]]\nname = \"weird\"\nkernel = %s\n"
        "command = 'cat /ro/data; echo x > /ro/new || echo ro=refused; echo rw > /rw/new; "
        "echo shared > /mnt/vmtest/out; pwd'\n"
        "[target.vm]\nmemory = \"1G\"\n[target.vm.mounts]\n"
        "\"/ro\" = { host_path = %s }\n\"/rw\" = { host_path = %s, writable = true }\n"
        "[[target]]\nname = \"rootfs\"\nkernel = %s\nrootfs = %s\n"
        "command = 'touch %s && echo overlay-took-it; test -x /bin/sh && echo root=ok'\n"
        % (toml_str(str(kernel)), toml_str(str(ro)), toml_str(str(rw)), toml_str(str(kernel)),
           toml_str(str(root)), probe))
    r = vmtest(cwd=project, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "ro-data\n" in r.stdout
    assert "ro=refused\n" in r.stdout
    assert not (ro / "new").exists()
    assert (rw / "new").read_text() == "rw\n"
    assert (project / "out").read_text() == "shared\n"
    assert "%s\nPASS\n=> rootfs\n" % project in r.stdout
    assert r.stdout.endswith("overlay-took-it\nroot=ok\nPASS\n"), r.stdout
    assert not os.path.exists(probe)


def test_image_and_firmware_paths_cannot_inject_qemu_options(vmtest, tmp_path):
    """An image and a firmware file under hostile names boot (the image
    stays unwritten: ",snapshot=off" must not get through)."""
    from test_image_targets import sha256, test_image
    image = tmp_path / ("disk" + WEIRD + ",snapshot=off.qcow2")
    os.symlink(test_image("uefi"), image)
    firmware = tmp_path / ("ovmf" + WEIRD + ".fd")
    os.symlink("/usr/share/ovmf/OVMF.fd", firmware)
    before = sha256(image)
    (tmp_path / "vmtest.toml").write_text(
        "[[target]]\nname = \"weird image\"\nimage = %s\nuefi = true\n"
        "command = 'test -d /sys/firmware/efi && echo efi=yes; "
        "dd if=/dev/zero of=/dev/vda bs=4096 count=16 conv=fsync 2>/dev/null && echo dd=ok'\n"
        "[target.vm]\nbios = %s\nmemory = \"1G\"\n" % (toml_str(str(image)), toml_str(str(firmware))))
    r = vmtest("-v", cwd=tmp_path, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.endswith("efi=yes\ndd=ok\nPASS\n"), r.stdout
    assert "-bios" in r.stderr and "OVMF.fd" not in r.stderr  # our file, not the default
    assert sha256(image) == before


def test_files_that_are_not_kernels(vmtest, tmp_path):
    """Empty, cut in its header, cut in its payload, text, a directory: bad
    input like a missing file, one line naming where it was given, status
    2, before anything starts (with -k and in a config)."""
    from conftest import small_kernel
    with open(small_kernel(), "rb") as f:
        kernel = f.read()
    cases = {
        "empty": (b"", "empty file, not a kernel"),
        "header-cut": (kernel[:3000], "bzImage header has no kernel version string"),
        "payload-cut": (kernel[:len(kernel) // 2], None),  # matched below
        "text": (b"#!/bin/sh\necho not a kernel\n",
                 "not a kernel image (not a bzImage, a vmlinux ELF or an arm64 or riscv Image)"),
    }
    for name, (data, said) in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        r = vmtest("-k", str(path), "--", "echo never", cwd=tmp_path)
        if name == "payload-cut":
            assert re.fullmatch(r"vmtest: -k: %s: bzImage payload \(\d+ bytes at \d+\) lies beyond "
                                r"the end of the file \(%d bytes\): truncated\?\n"
                                % (re.escape(str(path)), len(data)), r.stderr), r.stderr
        else:
            assert r.stderr == "vmtest: -k: %s: %s\n" % (path, said)
        assert (r.returncode, r.stdout) == (2, "")
    (tmp_path / "dir").mkdir()
    r = vmtest("-k", str(tmp_path / "dir"), "--", "echo never", cwd=tmp_path)
    assert (r.returncode, r.stdout) == (2, "")
    assert r.stderr == "vmtest: -k: %s: is a directory, expected a file\n" % (tmp_path / "dir")
    (tmp_path / "vmtest.toml").write_text(
        '[[target]]\nname = "ok"\nkernel = "%s"\ncommand = "echo never"\n'
        '[[target]]\nname = "cut"\nkernel = "header-cut"\ncommand = "echo never"\n'
        % small_kernel())
    r = vmtest(cwd=tmp_path)
    assert (r.returncode, r.stdout) == (2, "")  # not even the good target ran
    assert r.stderr == ("vmtest: vmtest.toml:7:10: target 'cut': kernel: %s: bzImage header "
                        "has no kernel version string\n" % (tmp_path / "header-cut"))


def test_broken_modules_are_named(vmtest, tmp_path):
    """A rootfs whose modules are missing from modules.dep, not modules, or
    cut short: the module and the file named, 69, before QEMU starts."""
    from conftest import debian_kernel
    kernel = debian_kernel()
    release = os.path.basename(kernel)[len("vmlinuz-"):]
    rootfs = tmp_path / "rootfs"
    moddir = rootfs / "lib" / "modules" / release
    (moddir / "kernel").mkdir(parents=True)
    (moddir / "modules.builtin").write_bytes(
        open("/lib/modules/%s/modules.builtin" % release, "rb").read())
    project = tmp_path / "project"
    project.mkdir()
    (project / "vmtest.toml").write_text(
        '[[target]]\nname = "t"\nkernel = "%s"\nrootfs = "%s"\ncommand = "echo never"\n'
        % (kernel, rootfs))
    xz = subprocess.run(["xz", "-c"], input=b"\x7fELF" + b"\0" * 4096, capture_output=True,
                        check=True).stdout
    cases = [
        ("", None, "kernel module 'virtio_pci' is neither built in nor listed in "
                   "%s/modules.dep" % moddir),
        ("kernel/virtio_pci.ko:\n", b"garbage\n",
         "%s/kernel/virtio_pci.ko: not a kernel module (no ELF header)" % moddir),
        ("kernel/virtio_pci.ko.xz:\n", xz[:len(xz) // 2],
         "%s/kernel/virtio_pci.ko.xz: " % moddir),
        ("kernel/virtio_pci.ko: kernel/virtio.ko\n", b"\x7fELF",
         "%s/kernel/virtio.ko: No such file or directory" % moddir),
    ]
    for dep, module, said in cases:
        (moddir / "modules.dep").write_text(dep)
        for f in (moddir / "kernel").iterdir():
            f.unlink()
        if module is not None:
            (moddir / dep.split(":")[0]).write_bytes(module)
        start_time = time.monotonic()
        r = vmtest(cwd=project)
        assert r.returncode == 69, r.stdout + r.stderr
        assert "\nvmtest: " + said in r.stdout, (said, r.stdout)
        assert r.stdout.endswith("FAILED\n")
        assert time.monotonic() - start_time < 10  # no VM was started


def test_what_a_guest_can_write_as_root(vmtest, tmp_path):
    """docs/security.md says: with vmtest (so QEMU) running as root, the
    guest's setuid-root files land in read-write shares as asked; device
    nodes do not (Debian 12's QEMU 7.2 answers mknod with ENXIO); read-only
    shares and the host's root take nothing.  This checks that statement,
    so that the page stays true when QEMU changes."""
    from conftest import small_kernel
    assert os.geteuid() == 0, "this test checks what a root QEMU does: run it as root"
    ro = tmp_path / "ro"
    ro.mkdir()
    project = tmp_path / "project"
    project.mkdir()
    probe = "/vmtest-root-probe-%d" % os.getpid()
    (project / "vmtest.toml").write_text(
        '[[target]]\nname = "root"\nkernel = "%s"\n'
        "command = '''\n"
        "cp /bin/true /mnt/vmtest/suid && chmod 4755 /mnt/vmtest/suid && echo suid=made\n"
        "mknod /mnt/vmtest/null c 1 3 2>/dev/null && echo node=made || echo node=refused\n"
        "cp /bin/true /ro/suid 2>/dev/null || echo ro=refused\n"
        "mknod /ro/null c 1 3 2>/dev/null || echo ro-node=refused\n"
        "touch %s && chmod 4755 %s && echo root=overlay\n"
        "'''\n"
        '[target.vm.mounts]\n"/ro" = { host_path = "%s" }\n' % (small_kernel(), probe, probe, ro))
    r = vmtest(cwd=project, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "suid=made\nnode=refused\nro=refused\nro-node=refused\nroot=overlay\n" in r.stdout
    st = os.stat(project / "suid")
    assert st.st_mode & 0o7777 == 0o4755 and st.st_uid == 0
    assert not os.path.exists(project / "null")
    assert os.listdir(ro) == []
    assert not os.path.exists(probe)
