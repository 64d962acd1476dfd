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
