# SPDX-License-Identifier: MIT
"""Hostile and broken input through the real binary: every invalid TOML
document of the toml-test suite, and paths that try to inject QEMU options."""
import os
import re
import subprocess

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.environ.get("VMTEST_SHARED_DIR", os.path.join(HERE, "..", "..", "..", "shared"))
INVALID = os.path.join(SHARED, "toml-test", "invalid")


def invalid_documents():
    if not os.path.isdir(INVALID):
        # Fail, never skip: make check provides the suite.
        raise pytest.UsageError("no toml-test suite at %s (set VMTEST_SHARED_DIR)" % INVALID)
    for root, _, files in os.walk(INVALID):
        for f in sorted(files):
            if f.endswith(".toml"):
                yield os.path.join(root, f)


def test_every_invalid_toml_document_is_one_clear_line(vmtest_binary, tmp_path):
    docs = sorted(invalid_documents())
    assert len(docs) >= 400
    line = re.compile(r"^vmtest: vmtest\.toml:(\d+):(\d+): [^\n]+\n\Z")
    bad = []
    for doc in docs:
        with open(doc, "rb") as f:
            (tmp_path / "vmtest.toml").write_bytes(f.read())
        r = subprocess.run([vmtest_binary], cwd=tmp_path, capture_output=True, timeout=30,
                           stdin=subprocess.DEVNULL)
        err = r.stderr.decode("utf-8", "replace")
        if r.returncode != 2 or r.stdout or not line.match(err):
            bad.append("%s: status %d, stdout %r, stderr %r"
                       % (os.path.relpath(doc, INVALID), r.returncode, r.stdout[:80], err[:200]))
    assert not bad, "\n".join(bad[:20]) + "\n(%d of %d)" % (len(bad), len(docs))


def test_paths_cannot_inject_qemu_options(vmtest, tmp_path):
    """Commas, '=', spaces, quotes, a newline and a leading dash in the
    kernel's, the project's and the mounts' paths: they work as paths, and
    none becomes a QEMU option (",readonly=off" would make a read-only
    mount writable)."""
    from conftest import small_kernel
    weird = "-x,readonly=off, sp ace 'q\" =\nnl"
    project = tmp_path / ("proj" + weird)
    project.mkdir()
    kernel = project / ("k" + weird)
    os.symlink(small_kernel(), kernel)
    ro = tmp_path / ("ro" + weird)
    ro.mkdir()
    (ro / "data").write_text("ro-data\n")
    rw = tmp_path / ("rw" + weird)
    rw.mkdir()

    def toml_str(s):
        return '"%s"' % s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")

    (project / "vmtest.toml").write_text(
        "[[target]]\nname = \"weird\"\nkernel = %s\n"
        "command = 'cat /ro/data; echo x > /ro/new || echo ro=refused; echo rw > /rw/new; "
        "echo shared > /mnt/vmtest/out; pwd'\n"
        "[target.vm]\nmemory = \"1G\"\n[target.vm.mounts]\n"
        "\"/ro\" = { host_path = %s }\n\"/rw\" = { host_path = %s, writable = true }\n"
        % (toml_str(str(kernel)), toml_str(str(ro)), toml_str(str(rw))))
    r = vmtest(cwd=project, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "ro-data\n" in r.stdout
    assert "ro=refused\n" in r.stdout
    assert not (ro / "new").exists()
    assert (rw / "new").read_text() == "rw\n"
    assert (project / "out").read_text() == "shared\n"
    assert r.stdout.endswith("%s\nPASS\n" % project)
