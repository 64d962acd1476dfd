# SPDX-License-Identifier: MIT
"""Shared fixtures: the vmtest binary under test, run as a user would."""
import hashlib
import os
import subprocess
import threading

import pytest


ASAN_SUBSET = os.path.join(os.path.dirname(os.path.abspath(__file__)), "asan_subset.txt")


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "asan_subset: one of the tests that together run every line of vmtest's host code "
        "that the whole suite runs (asan_subset.txt, made by scripts/asan-subset.py); make "
        "check runs them again under ASan")


def _asan_subset():
    with open(ASAN_SUBSET) as f:
        return [l.strip() for l in f if l.strip() and not l.startswith("#")]


def pytest_collection_modifyitems(config, items):
    """The ASan pass's tests, by their ids in asan_subset.txt.  A listed test
    that no longer exists fails that pass: a stale list must not shrink it
    without a word."""
    subset = set(_asan_subset())
    ids = {item.nodeid for item in items}
    for item in items:
        if item.nodeid in subset:
            item.add_marker(pytest.mark.asan_subset)
    if "asan_subset" in (config.option.markexpr or "") and subset - ids:
        raise pytest.UsageError("asan_subset.txt names tests that do not exist (run "
                                "scripts/asan-subset.py again): %s" % sorted(subset - ids))


def default_signals():
    """For Popen's preexec_fn, in tests that signal vmtest: the signals a
    user sends get their default action back.  vmtest keeps ignoring what
    was ignored when it started, as well-behaved programs do, and a suite
    started under nohup, or as a background job of a script (which ignores
    SIGINT and SIGQUIT), would hand that on to it."""
    import signal
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGALRM,
                signal.SIGXCPU, signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(sig, signal.SIG_DFL)


def _binary():
    path = os.environ.get("VMTEST_BINARY")
    if not path:
        here = os.path.dirname(os.path.abspath(__file__))
        path = os.path.join(here, "..", "..", "build", "vmtest")
    path = os.path.abspath(path)
    if not os.access(path, os.X_OK):
        # Fail, never skip: a suite that cannot find its binary tests nothing.
        raise pytest.UsageError("vmtest binary not found at %s (set VMTEST_BINARY)" % path)
    return path


class Vmtest:
    def __init__(self, binary):
        self.binary = binary

    def __call__(self, *args, cwd=None, env=None, timeout=60):
        full_env = dict(os.environ)
        full_env.pop("VMTEST_NO_UI", None)
        if env:
            full_env.update(env)
        return subprocess.run([self.binary, *args], cwd=cwd, env=full_env,
                              stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, errors="surrogateescape", timeout=timeout)


@pytest.fixture(scope="session")
def vmtest():
    return Vmtest(_binary())


@pytest.fixture(scope="session")
def vmtest_binary():
    return _binary()


_TEST_KERNEL = []


def small_kernel():
    """The small kernel with 9p built in: the shared prebuilt copy, or the
    project's own build of it (scripts/test-kernel.sh, cached)."""
    if not _TEST_KERNEL:
        script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                              "scripts", "test-kernel.sh")
        path = subprocess.run([script], check=True, capture_output=True,
                              text=True).stdout.strip()
        if not os.path.isfile(path):
            raise pytest.UsageError("scripts/test-kernel.sh gave no kernel: %r" % path)
        _TEST_KERNEL.append(path)
    return _TEST_KERNEL[0]


def debian_kernel():
    """Debian's kernel, which make check installs (linux-image-amd64)."""
    kernels = sorted((k for k in os.listdir("/boot") if k.startswith("vmlinuz-")),
                     key=lambda k: [int(p) if p.isdigit() else p
                                    for p in k.replace("-", ".").split(".")])
    if not kernels:
        raise pytest.UsageError("no /boot/vmlinuz-*: make check installs linux-image-amd64")
    return "/boot/" + kernels[-1]


@pytest.fixture
def project(tmp_path):
    """A directory with a kernel and a (fake) image, where a vmtest.toml goes."""
    (tmp_path / "bzImage").symlink_to(debian_kernel())
    (tmp_path / "disk.qcow2").write_bytes(b"QFI\xfb")
    (tmp_path / "shared").mkdir()
    return tmp_path


def run_live(argv, cwd, ready, go_file, timeout=240, before_go=None, env=None):
    """Start vmtest, read its stdout until the line `ready` (the guest then
    waits for go_file), check the command is still running, call before_go
    (what the host changes while the guest waits), create go_file, and
    return (everything read from stdout, stderr, exit status).  Never hangs
    the suite: vmtest is killed after `timeout` seconds."""
    p = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         env=dict(os.environ, **env) if env else None)
    timer = threading.Timer(timeout, p.kill)
    timer.start()
    try:
        seen = b""
        while True:
            line = p.stdout.readline()
            assert line, "vmtest ended (or was stopped) before the command printed"
            seen += line
            if line == ready:
                break
        # The command is still waiting for us: the line came live.
        assert p.poll() is None
        if before_go:
            before_go()
        open(go_file, "w").close()
        # Not communicate(): it reads the raw pipe and would skip what
        # readline() has already buffered.
        seen += p.stdout.read()
        err = p.stderr.read()
        p.wait()
    finally:
        timer.cancel()
        if p.poll() is None:
            p.kill()
            p.wait()
    return seen, err, p.returncode


@pytest.fixture(autouse=True)
def _coverage_per_test(request, monkeypatch):
    """With VMTEST_COVERAGE_DIR set (scripts/asan-subset.py), each test's
    vmtest processes, built with coverage, write their counts under a
    directory of the test's own, so that what each test covers is known."""
    base = os.environ.get("VMTEST_COVERAGE_DIR")
    if base:
        monkeypatch.setenv("GCOV_PREFIX", os.path.join(base, coverage_dir_name(request.node.nodeid)))


def coverage_dir_name(nodeid):
    """A test's id as a file name: a long parametrized id is cut, with a
    hash of the whole so that it stays its own."""
    name = "".join(c if c.isalnum() or c in "._-" else "_" for c in nodeid)
    if len(name) > 120:
        name = name[:100] + "-" + hashlib.sha1(nodeid.encode()).hexdigest()[:12]
    return name
