# SPDX-License-Identifier: MIT
"""vmtest as a transparent wrapper that never loses output: a stdout or
stderr that refuses the command's output ends the run with one line and
status 69, as a host command's write error ends it, for kernel and image
targets, one-liners and configs; what vmtest prints itself (--list,
--help) is checked too; the spool and the reports stay whole."""
import json
import os
import subprocess
import time
import xml.etree.ElementTree as ET

from conftest import debian_kernel, small_kernel
from test_image_targets import test_image

SAID = "vmtest: cannot write the command's output to %s: No space left on device\n"


def run_to(vmtest_binary, argv, cwd, stdout=None, stderr=None, timeout=180):
    """vmtest with its stdout or stderr on a file of ours (/dev/full, say);
    what it wrote to the other one, and its status."""
    out = open(stdout or os.devnull, "wb")
    err = open(stderr or os.devnull, "wb")
    try:
        p = subprocess.run([vmtest_binary, *argv], cwd=cwd, stdin=subprocess.DEVNULL,
                           stdout=out if stdout else subprocess.PIPE,
                           stderr=err if stderr else subprocess.PIPE, timeout=timeout)
    finally:
        out.close()
        err.close()
    said = (p.stderr if stdout else p.stdout).decode(errors="replace")
    # Where there is no KVM, the notice that says so is not what is tested.
    said = "".join(l for l in said.splitlines(True) if not l.startswith("vmtest: using TCG"))
    return said, p.returncode


def test_full_stdout_and_stderr(vmtest_binary, tmp_path):
    """seq 1 100000 > /dev/full exits 1 on the host with "write error": in a
    guest, vmtest exits 69 with one line naming the stream, for a kernel
    target and an image target, stdout or stderr."""
    kernel = small_kernel()
    image = test_image("bios")
    for target in (["-k", kernel], ["-i", image]):
        err, status = run_to(vmtest_binary, [*target, "--", "seq", "1", "100000"], tmp_path,
                             stdout="/dev/full")
        assert status == 69, err
        assert err.count("vmtest: cannot write") == 1, err
        assert SAID % "stdout" in err, err
        assert "PASS" not in err
        # The same for stderr: vmtest's own lines go there too, so nothing
        # can be said; the status says it.
        out, status = run_to(vmtest_binary, [*target, "--", "sh", "-c", "seq 1 100000 >&2"],
                             tmp_path, stderr="/dev/full")
        assert (status, out) == (69, ""), out
    # A command that writes nothing to a full stream passes, as on the host.
    err, status = run_to(vmtest_binary, ["-k", kernel, "--", "true"], tmp_path,
                         stdout="/dev/full")
    assert status == 0, err


def test_full_stdout_keeps_the_reports(vmtest_binary, tmp_path):
    """The command's output up to the failed write is in its spool, so in
    the JUnit report and --output-dir, which stay whole; a config's run
    stops with one line, its running target reported as stopped."""
    kernel = small_kernel()
    err, status = run_to(vmtest_binary, ["--junit", "j.xml", "--output-dir", "out", "-k", kernel,
                                         "--", "seq", "1", "100000"], tmp_path,
                         stdout="/dev/full")
    assert status == 69, err
    expected = "".join("%d\n" % i for i in range(1, 100001))
    name = os.path.basename(kernel)
    kept = (tmp_path / "out" / name / "output.log").read_text()
    assert kept and expected.startswith(kept), kept[-100:]
    case = ET.parse(tmp_path / "j.xml").getroot().find("testsuite/testcase")
    assert case.find("failure").get("message") == SAID.rstrip("\n") % "stdout"
    assert case.find("system-out").text == kept

    (tmp_path / "vmtest.toml").write_text(
        '[[target]]\nname = "first"\nkernel = "%s"\ncommand = "seq 1 20000"\n'
        '[[target]]\nname = "second"\nkernel = "%s"\ncommand = "echo second"\n'
        % (kernel, kernel))
    err, status = run_to(vmtest_binary, ["--junit", "c.xml"], tmp_path, stdout="/dev/full")
    assert (status, err) == (69, "vmtest: cannot write stdout: No space left on device; the run "
                                 "was stopped\n")
    cases = list(ET.parse(tmp_path / "c.xml").getroot().iter("testcase"))
    assert [c.get("name") for c in cases] == ["first"]
    assert cases[0].find("failure").get("message") == \
        "vmtest: the run was stopped: cannot write stdout: No space left on device"
    # What vmtest prints itself is checked as well.
    err, status = run_to(vmtest_binary, ["--list"], tmp_path, stdout="/dev/full")
    assert (status, err) == (69, "vmtest: cannot write stdout: No space left on device\n")
    err, status = run_to(vmtest_binary, ["--help"], tmp_path, stdout="/dev/full")
    assert (status, err) == (69, "vmtest: cannot write stdout: No space left on device\n")


HELD_CONFIG = """\
[[target]]
name = "one"
kernel = "{kernel}"
command = "sleep 2; echo done-one"
timeout = {timeout}

[[target]]
name = "two"
kernel = "{kernel}"
command = "sleep 2; echo done-two"
timeout = {timeout}
"""


def test_a_held_terminal_holds_no_target(vmtest_binary, tmp_path):
    """The terminal held (Ctrl-S in a tmux pane: the pty stops taking
    output) for longer than the targets' timeout while two -j targets run:
    they run on, end, and are reported in time with their right status,
    while the view waits for the terminal; released, it shows them whole."""
    from test_terminal_view import Tmux
    timeout = 15
    (tmp_path / "vmtest.toml").write_text(HELD_CONFIG.format(kernel=small_kernel(),
                                                             timeout=timeout))
    t = Tmux("held", 80, 30)
    try:
        t.start("%s -j 2 --json r.json" % vmtest_binary, tmp_path)
        t.wait_for(r"^=> (one|two)")
        t.key("C-s")
        held = time.monotonic()
        # The report is written when both targets have ended, before the
        # view has drawn their ends: with the terminal held, it comes all
        # the same, in about the targets' own time.
        report = tmp_path / "r.json"
        deadline = held + 60
        while not report.exists():
            assert time.monotonic() < deadline, "the targets did not end while the terminal " \
                                                "was held:\n" + t.screen()
            time.sleep(0.1)
        # Held past the timeout, to be sure nothing was counted against it.
        while time.monotonic() - held < timeout + 3:
            time.sleep(0.2)
        assert "vmtest-exit=" not in t.screen()
        t.key("C-q")
        screen = t.wait_for(r"^vmtest-exit=\d+", timeout=60)
    finally:
        t.kill()
    assert "vmtest-exit=0" in screen, screen
    doc = json.loads(report.read_text())
    assert [x["status"] for x in doc["targets"]] == ["passed", "passed"], doc
    for x in doc["targets"]:
        assert x["time"] < timeout, doc
    assert screen.count("PASS") == 2, screen


FAKE_PANIC = """\
echo 'Kernel panic - not syncing: printed by a test' > /dev/console
{long}echo '---[ end Kernel panic - not syncing: printed by a test ]---' > /dev/console
echo '<0>Kernel panic - not syncing: written to kmsg' > /dev/kmsg
echo still here
exit 5
"""


def test_panic_text_from_the_guest_is_not_a_panic(vmtest_binary, tmp_path):
    """Text a guest process writes to its console or to /dev/kmsg, the
    kernel's panic words included, after a 10 kB line or not, decides
    nothing: the command runs on, nothing is dumped, the status is the
    command's.  On a kernel with pvpanic (Debian's) and one without (the
    small kernel)."""
    long_line = "head -c 10240 /dev/zero | tr '\\\\0' x > /dev/console\n"
    for kernel in (debian_kernel(), small_kernel()):
        for long in ("", long_line, long_line.replace("/dev/console", "/dev/console; "
                                                      "printf x > /dev/console")):
            dumps = tmp_path / ("dumps-%d" % len(long))
            (tmp_path / "fake.sh").write_text(FAKE_PANIC.format(long=long))
            p = subprocess.run([vmtest_binary, "--dump", str(dumps), "-k", kernel, "--",
                                "sh", "fake.sh"], cwd=tmp_path, capture_output=True, text=True,
                               timeout=180)
            assert p.returncode == 5, p.stderr
            assert p.stdout == "still here\n", p.stderr
            assert "panicked" not in p.stderr
            assert not dumps.exists() or not any(dumps.rglob("vmcore")), p.stderr


def test_a_reset_is_said_as_one(vmtest, tmp_path):
    """A guest that resets itself mid-command, with no panic on its console,
    is said to have reset, not to have panicked or powered off."""
    r = vmtest("-k", debian_kernel(), "echo b > /proc/sysrq-trigger; echo after", cwd=tmp_path,
               timeout=180)
    assert r.returncode == 69, r.stderr
    assert r.stdout == ""
    assert ("vmtest: the guest reset itself before the command ended (a reboot, or a fault the "
            "kernel could not recover from)\n") in r.stderr, r.stderr
