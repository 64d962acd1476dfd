# SPDX-License-Identifier: MIT
"""What a person sees: the real binary in a real terminal (tmux), the screen
read with capture-pane while vmtest runs and after; and the plain format
byte for byte when stdout is not a terminal."""
import os
import re
import shlex
import subprocess
import time

import pytest

from conftest import debian_kernel, small_kernel


class Tmux:
    """One tmux server and session of its own, with vmtest run in a shell."""

    def __init__(self, name, width, height):
        self.socket = "vmtest-test-%d-%s" % (os.getpid(), name)
        self.width, self.height = width, height

    def tmux(self, *args):
        return subprocess.run(["tmux", "-L", self.socket, *args], check=True,
                              capture_output=True, text=True).stdout

    def start(self, command, cwd, env=None):
        # A plain shell, so that its prompt and our markers are all there is.
        environ = {"PS1": "$ ", "TERM": "xterm-256color", "HOME": os.environ.get("HOME", "/root"),
                   "PATH": os.environ["PATH"]}
        # A coverage run's per-test directory (conftest.py) reaches vmtest too.
        if "GCOV_PREFIX" in os.environ:
            environ["GCOV_PREFIX"] = os.environ["GCOV_PREFIX"]
        environ.update(env or {})
        exports = " ".join("%s=%s" % (k, shlex.quote(v)) for k, v in environ.items())
        self.tmux("new-session", "-d", "-s", "main", "-x", str(self.width), "-y",
                  str(self.height), "env -i %s bash --norc --noprofile" % exports)
        self.send("cd %s" % shlex.quote(str(cwd)))
        self.send("clear; " + command + "; echo vmtest-exit=$?")

    def send(self, line):
        self.tmux("send-keys", "-t", "main", "-l", line)
        self.tmux("send-keys", "-t", "main", "Enter")

    def key(self, key):
        self.tmux("send-keys", "-t", "main", key)

    def screen(self, escapes=False):
        args = ["capture-pane", "-p", "-t", "main"] + (["-e"] if escapes else [])
        return self.tmux(*args)

    def display(self, fmt):
        return self.tmux("display-message", "-p", "-t", "main", fmt).strip()

    def wait_for(self, pattern, timeout=240, escapes=False):
        """The screen once it matches pattern (a regex); fails after timeout."""
        end = time.monotonic() + timeout
        while True:
            screen = self.screen(escapes)
            if re.search(pattern, screen, re.M):
                return screen
            if time.monotonic() > end:
                raise AssertionError("waited %d s for %r; the screen:\n%s" % (timeout, pattern, screen))
            time.sleep(0.1)

    def kill(self):
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True)


@pytest.fixture
def terminal(request):
    made = []

    def make(width=80, height=30):
        t = Tmux(request.node.name, width, height)
        made.append(t)
        return t

    yield make
    for t in made:
        t.kill()


def exit_status(screen):
    return int(re.search(r"^vmtest-exit=(\d+)", screen, re.M).group(1))


def lines(screen):
    return [l.rstrip() for l in screen.splitlines()]


WINDOW_CONFIG = """\
[[target]]
name = "slow"
kernel = "{kernel}"
command = '''
for i in $(seq 1 25); do echo "line $i"; done
printf 'colour \\033[31mred\\033[0m end\\n'
while [ ! -e /mnt/vmtest/go ]; do sleep 0.1; done
'''

[[target]]
name = "bad"
kernel = "{kernel}"
command = "for i in $(seq 1 15); do echo out-$i; done; exit 3"
"""


def test_rolling_window_collapse_and_failure(terminal, vmtest_binary, tmp_path):
    (tmp_path / "vmtest.toml").write_text(WINDOW_CONFIG.format(kernel=small_kernel()))
    t = terminal(80, 40)
    t.start(shlex.quote(vmtest_binary), tmp_path)
    # While the command waits: the stage with its time, and the last 10
    # lines of output (the colour line is the 26th), dimmed.
    screen = t.wait_for(r"colour red end")
    rows = lines(screen)
    top = rows.index("=> slow")
    assert re.fullmatch(r"===> Running command [|/\\-] \d+\.\ds", rows[top + 1])
    assert rows[top + 2:top + 12] == ["line %d" % i for i in range(17, 26)] + ["colour red end"]
    assert "line 16" not in rows
    coloured = t.screen(escapes=True)
    assert re.search(r"\x1b\[2mline 17\n(line \d+\n)*line 25\n", coloured)  # dimmed
    assert "\x1b[31mred" in coloured             # the output's own colour survives
    (tmp_path / "go").touch()
    screen = t.wait_for(r"^vmtest-exit=")
    rows = lines(screen)
    assert exit_status(screen) == 1
    # The passing target collapsed to its name and PASS.
    top = rows.index("=> slow")
    assert re.fullmatch(r"PASS \(\d+\.\ds\)", rows[top + 1])
    assert not any(r.startswith("line ") for r in rows)
    # The failing one keeps its whole output (more than the window), the
    # reason and FAILED; then the summary.
    top = rows.index("=> bad")
    assert rows[top + 1] == "===> Running command"
    assert rows[top + 2:top + 17] == ["out-%d" % i for i in range(1, 16)]
    assert rows[top + 17] == "Command failed with exit code: 3"
    assert re.fullmatch(r"FAILED \(\d+\.\ds\)", rows[top + 18])
    assert re.fullmatch(r"1 passed, 1 failed in \d+\.\ds", rows[top + 19])
    assert t.display("#{cursor_flag}") == "1"


NARROW_CONFIG = """\
[[target]]
name = "a target whose name is much longer than forty columns"
kernel = "{kernel}"
command = '''
printf '%0100d\\n' 0
printf 'a\\tb\\tc\\n'
printf 'x\\033[2J\\033[H\\033]0;pwned\\007\\033[?25l\\033[1;1Hy\\n'
printf 'tab\\t'
while [ ! -e /mnt/vmtest/go ]; do sleep 0.1; done
exit 4
'''
"""


def test_narrow_terminal_and_hostile_output(terminal, vmtest_binary, tmp_path):
    (tmp_path / "vmtest.toml").write_text(NARROW_CONFIG.format(kernel=small_kernel()))
    t = terminal(40, 20)
    t.start(shlex.quote(vmtest_binary), tmp_path, env={"NO_COLOR": "1"})
    screen = t.wait_for(r"^tab\s*$")
    rows = lines(screen)
    # Every line fits: nothing wrapped onto a second row.
    assert all(len(r) <= 40 for r in screen.splitlines())
    assert "=> a target whose name is much longer t" in rows
    assert "0" * 39 in rows
    assert "a       b       c" in rows
    # Cursor movement and clears were removed, not obeyed: the block is intact.
    assert "xy" in rows
    assert t.display("#{pane_title}") != "pwned"
    # NO_COLOR: no colour, no dimming.
    assert "\x1b[" not in t.screen(escapes=True)
    # The window follows a resize: redrawn to the new width.
    t.tmux("resize-window", "-t", "main", "-x", "30", "-y", "20")
    screen = t.wait_for(r"^0{29}$")
    assert all(len(r) <= 30 for r in screen.splitlines())
    assert "=> a target whose name is muc" in lines(screen)
    (tmp_path / "go").touch()
    screen = t.wait_for(r"^vmtest-exit=")
    assert exit_status(screen) == 4
    # The kept output is whole (the terminal wraps it: -J joins it back),
    # still sanitized.
    rows = lines(t.tmux("capture-pane", "-p", "-J", "-t", "main"))
    assert "0" * 100 in rows
    assert "Command failed with exit code: 4" in rows
    assert "xy" in rows
    assert t.display("#{cursor_flag}") == "1"


def test_one_liner_output_stays_and_ctrl_c_restores(terminal, vmtest_binary, tmp_path):
    kernel = small_kernel()
    t = terminal(80, 50)
    t.start("%s -k %s -- 'seq 1 30; printf prompt-; sleep 2; echo answer; exit 2'"
            % (shlex.quote(vmtest_binary), kernel), tmp_path)
    screen = t.wait_for(r"^vmtest-exit=")
    rows = lines(screen)
    assert exit_status(screen) == 2
    # The command's whole output, then the verdict; a line the command had
    # not ended (a prompt) stays while vmtest's view ticks.
    first = rows.index("1")
    assert rows[first:first + 30] == [str(i) for i in range(1, 31)]
    assert rows[first + 30] == "prompt-answer"
    assert rows[first + 31] == "Command failed with exit code: 2"
    assert re.fullmatch(r"FAILED \(\d+\.\ds\)", rows[first + 32])

    # Ctrl-C while the live block is drawn: vmtest stops, QEMU with it, and
    # the terminal has its cursor and plain attributes back.  vmtest dies of
    # SIGINT, as a host command would, so bash drops the rest of the line
    # (a `while vmtest ...; do` loop stops on Ctrl-C) and $? is 130.
    t.send("clear; %s -k %s -- 'echo started; sleep 600'; echo the-list-went-on"
           % (shlex.quote(vmtest_binary), kernel))
    t.wait_for(r"^started$")
    t.key("C-c")
    # On a line of its own, whether or not the terminal echoed ^C.
    t.wait_for(r"^vmtest: interrupted by SIGINT; the VM was stopped$", timeout=30)
    t.send("echo vmtest-exit=$?")
    screen = t.wait_for(r"^vmtest-exit=", timeout=30)
    assert exit_status(screen) == 130
    assert not re.search(r"^the-list-went-on$", screen, re.M)
    assert t.display("#{cursor_flag}") == "1"
    t.send("echo after-the-run")
    t.wait_for(r"^after-the-run$")
    coloured = t.screen(escapes=True)
    assert re.search(r"^after-the-run$", coloured, re.M)  # no attribute left on
    # No QEMU sharing this directory is left (other tests' QEMUs may run).
    assert subprocess.run(["pgrep", "-f", "qemu-system.*path=" + re.escape(str(tmp_path))],
                          capture_output=True).returncode == 1


PLAIN_CONFIG = """\
[[target]]
name = "good"
kernel = "{kernel}"
command = "echo hello; echo to-stderr >&2"

[[target]]
name = "bad"
kernel = "{kernel}"
command = "echo partial; exit 3"
"""


def test_plain_format_and_log(vmtest, tmp_path):
    (tmp_path / "vmtest.toml").write_text(PLAIN_CONFIG.format(kernel=small_kernel()))
    r = vmtest("-v", "--log", "run.log", cwd=tmp_path, timeout=300)
    assert r.returncode == 1
    # Not a terminal: the seed's format, byte for byte.
    assert r.stdout == ("=> good\n===> Booting\n===> Setting up VM\n===> Running command\n"
                        "hello\nto-stderr\nPASS\n"
                        "=> bad\n===> Booting\n===> Setting up VM\n===> Running command\n"
                        "partial\nCommand failed with exit code: 3\nFAILED\n")
    # -v: vmtest's steps on stderr, with each stage's time.
    assert re.search(r"^vmtest: qemu-system-x86_64 .*-kernel ", r.stderr, re.M)
    assert re.search(r"^vmtest: Booting took \d+\.\d\d s$", r.stderr, re.M)
    assert re.search(r"^vmtest: guest agent answered after \d+\.\d\d s$", r.stderr, re.M)
    # The log: everything, with timestamps.
    log = (tmp_path / "run.log").read_text()
    assert log.startswith("# vmtest log, started ")
    stamp = r"^\[ *\d+\.\d{3}\] "
    assert re.search(stamp + r"good: qemu-system-x86_64 ", log, re.M)
    assert re.search(stamp + r"good console: ", log, re.M)
    assert re.search(stamp + r"good output: hello$", log, re.M)
    assert re.search(stamp + r"good output: to-stderr$", log, re.M)
    assert re.search(stamp + r"good: PASS$", log, re.M)
    assert re.search(stamp + r"bad: Command failed with exit code: 3$", log, re.M)
    assert re.search(stamp + r"vmtest: 1 passed, 1 failed$", log, re.M)
    # --no-ui and VMTEST_NO_UI are accepted (the output is not a terminal anyway).
    r = vmtest("--no-ui", "--list", cwd=tmp_path)
    assert r.returncode == 0 and r.stdout == "good\nbad\n"


def test_boot_failure_keeps_the_console(terminal, vmtest_binary, tmp_path):
    # Debian's kernel with a root filesystem that lacks its modules: the
    # guest init explains on the console, then powers off.
    empty = tmp_path / "emptyroot"
    empty.mkdir()
    project = tmp_path / "project"
    project.mkdir()
    (project / "vmtest.toml").write_text(
        '[[target]]\nname = "no modules"\nkernel = "%s"\nrootfs = "%s"\ncommand = "true"\n'
        % (debian_kernel(), empty))
    t = terminal(100, 40)
    t.start(shlex.quote(vmtest_binary), project)
    screen = t.wait_for(r"^vmtest-exit=")
    assert exit_status(screen) == 69
    rows = lines(t.tmux("capture-pane", "-p", "-J", "-t", "main"))
    top = rows.index("=> no modules")
    assert rows[top + 1] == "===> Booting"
    # The whole console of the failed boot, then the reason and FAILED.
    console = rows[top + 2:]
    assert any(r.startswith("vmtest-init: no virtio-serial port org.qemu.guest_agent.0")
               for r in console)
    assert any("reboot: Power down" in r for r in console)
    reason = [r for r in console if r.startswith("vmtest: the guest could not start: ")]
    assert len(reason) == 1
    assert re.fullmatch(r"FAILED \(\d+\.\ds\)", console[console.index(reason[0]) + 1])


TESTS_CONFIG = """\
[[target]]
name = "suite"
kernel = "{kernel}"
command = '''
echo 1..4
echo "ok 1 - first"
printf 'not ok 2 - bad\\033[2J\\033]0;pwned\\007name\\n'
while [ ! -e /mnt/vmtest/go ]; do sleep 0.1; done
echo "ok 3 - third"
echo "ok 4 - fourth"
'''
[target.vm]
results = "tap"

[[target]]
name = "passes"
kernel = "{kernel}"
command = "printf '1..2\\\\nok 1 - a\\\\nok 2 - b # SKIP none\\\\n'"
[target.vm]
results = "tap"
"""


def test_the_count_of_tests_live_and_at_the_end(terminal, vmtest_binary, tmp_path):
    """A suite's count on its stage line while it runs; at the end the
    count and the failed test, its name sanitized; a passing one collapses
    with its count."""
    (tmp_path / "vmtest.toml").write_text(TESTS_CONFIG.format(kernel=small_kernel()))
    t = terminal(80, 30)
    t.start(shlex.quote(vmtest_binary), tmp_path)
    screen = t.wait_for(r"^===> Running command [|/\\-] \d+\.\ds \| 1 ok, 1 failed$")
    assert t.display("#{pane_title}") != "pwned"
    (tmp_path / "go").touch()
    screen = t.wait_for(r"^vmtest-exit=")
    rows = lines(screen)
    assert exit_status(screen) == 1, screen
    top = rows.index("=> suite")
    # The output kept on screen is sanitized as ever; the test's name, among
    # vmtest's own words, has its control characters shown as '?'.
    assert rows[top + 4] == "not ok 2 - badname"
    assert rows[top + 7:top + 10] == [
        "Tests: 3/4 ok, 1 failed", "  failed: bad?[2J?]0;pwned?name",
        "1 test failed: bad?[2J?]0;pwned?name"], rows
    assert re.fullmatch(r"FAILED \(\d+\.\ds\)", rows[top + 10])
    top = rows.index("=> passes")
    assert re.fullmatch(r"PASS \(\d+\.\ds, 1/2 ok, 1 skipped\)", rows[top + 1]), rows
    assert t.display("#{pane_title}") != "pwned"
