# SPDX-License-Identifier: MIT
"""What a guest controls on the host is what the user shares read-write:
its files, their names and its links.  None of that may steer what vmtest
writes (--output-dir, --junit, --json, --log), feed vmtest's cache to a
later run, or keep vmtest running once nobody reads its output.

A root guest plants links, FIFOs and directories before a run (a previous
run's guest), during it (the command), and after its command ended but
before the reports are written (a daemon of another target, watching for
vmtest's first file to appear)."""
import hashlib
import json
import os
import shutil
import signal
import stat
import subprocess
import time

from conftest import small_kernel
from test_faults import qemus_sharing, tmpfs

SECRET = b"the host's own file\n"


def sentinel(tmp_path):
    """A host file outside every share, which no write may reach."""
    path = tmp_path / "sentinel"
    path.write_bytes(SECRET)
    return path


def elsewhere(tmp_path):
    """A host directory outside every share, which must stay empty."""
    path = tmp_path / "elsewhere"
    path.mkdir()
    return path


def run(vmtest_binary, args, cwd, timeout=300, **kw):
    return subprocess.run([vmtest_binary, "--no-ui", *args], cwd=cwd, capture_output=True,
                          stdin=subprocess.DEVNULL, timeout=timeout, **kw)


def is_regular_file(path):
    return stat.S_ISREG(os.lstat(path).st_mode)


def test_output_dir_and_log_planted_before_the_run(vmtest_binary, tmp_path):
    """A previous run's guest left links to a host file, a FIFO and a link
    to a host directory where this run writes: the links are replaced, not
    followed; the FIFO does not hang vmtest; the directory link is refused
    with a message naming it; the host file and directory stay untouched."""
    kernel = small_kernel()
    project = tmp_path / "project"
    project.mkdir()
    secret, outside = sentinel(tmp_path), elsewhere(tmp_path)
    (project / "vmtest.toml").write_text(
        '[[target]]\nname = "one"\nkernel = "%s"\ncommand = "echo one-output"\n'
        '[[target]]\nname = "two"\nkernel = "%s"\ncommand = "echo two-output"\n'
        % (kernel, kernel))
    od = project / "od"
    (od / "one").mkdir(parents=True)
    for name in ("console.log", "output.log", "qemu-command-line"):
        (od / "one" / name).symlink_to(secret)
    os.mkfifo(od / "one" / "result.json")
    (od / "two").symlink_to(outside)
    (project / "run.log").symlink_to(secret)
    os.mkfifo(project / "junit.xml")

    r = run(vmtest_binary, ["--output-dir", "od", "--log", "run.log", "--junit", "junit.xml"],
            project)
    err = r.stderr.decode()
    # Both targets ran and said so; the refused directory ends the run with 69.
    assert b"=> one\n" in r.stdout and b"one-output\n" in r.stdout
    assert r.returncode == 69, err
    assert "--output-dir: od/two has been replaced by a symbolic link; not written" in err
    assert secret.read_bytes() == SECRET
    assert os.listdir(outside) == []
    assert is_regular_file(project / "junit.xml")
    for name in ("console.log", "output.log", "qemu-command-line", "result.json"):
        assert is_regular_file(od / "one" / name), name
    assert (od / "one" / "output.log").read_text() == "one-output\n"
    assert json.loads((od / "one" / "result.json").read_text())["status"] == "passed"
    assert is_regular_file(project / "run.log")
    assert "] one output: one-output\n" in (project / "run.log").read_text()


def test_links_made_while_the_command_runs(vmtest_binary, tmp_path):
    """The command replaces output.log with a link to a host file, the
    target's directory with a link to a host directory, and the reports'
    directory with a link too.  Nothing is written through them; each
    refused write names its path and says it changed; the target's result
    still reaches the terminal."""
    kernel = small_kernel()
    project = tmp_path / "project"
    project.mkdir()
    secret, outside = sentinel(tmp_path), elsewhere(tmp_path)
    name = os.path.basename(kernel)

    # Once, so the target's directory exists; then its output.log becomes a link.
    r = run(vmtest_binary, ["--output-dir", "od", "-k", kernel, "--", "true"], project)
    assert r.returncode == 0, r.stderr
    r = run(vmtest_binary, ["--output-dir", "od", "-k", kernel, "--", "sh", "-c",
                            "cd /mnt/vmtest; rm -f od/%s/output.log; ln -s %s od/%s/output.log;"
                            " echo hello" % (name, secret, name)], project)
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"hello\n"
    assert secret.read_bytes() == SECRET
    assert (project / "od" / name / "output.log").read_text() == "hello\n"

    # The target's directory becomes a link to a host directory.
    r = run(vmtest_binary, ["--output-dir", "od", "-k", kernel, "--", "sh", "-c",
                            "cd /mnt/vmtest; rm -rf od/%s; ln -s %s od/%s; echo hello"
                            % (name, outside, name)], project)
    assert r.stdout == b"hello\n"
    assert r.returncode == 69
    assert r.stderr.decode().endswith(
        "vmtest: --output-dir: od/%s has been replaced by a symbolic link; not written; "
        "the run was stopped\n" % name)
    assert b"PASS\n" in r.stderr
    assert os.listdir(outside) == []

    # The reports' directory is removed and becomes a link (the issue's case).
    (project / "reports").mkdir()
    r = run(vmtest_binary, ["--junit", "reports/j.xml", "--json", "reports/r.json", "-k", kernel,
                            "--", "sh", "-c", "cd /mnt/vmtest && rm -rf reports && ln -s %s reports"
                            % outside], project)
    assert r.returncode == 69
    assert "vmtest: --junit reports/j.xml: reports changed during the run (it was removed); " \
           "j.xml was not written\n" in r.stderr.decode()
    assert os.listdir(outside) == []


RACE_CONFIG = """\
[[target]]
name = "writer"
kernel = "{kernel}"
# 300 MB of output: copying it into output.log takes the host a while.
command = "head -c 300000000 /dev/zero"

[[target]]
name = "attacker"
kernel = "{kernel}"
# A daemon (a small static program: no shell or exec between the file
# appearing and the swap): the moment vmtest makes "writer"'s directory,
# after that target's command ended, it is moved away and a link to a
# host directory put in its place, while vmtest writes the files there.
command = "cd /mnt/vmtest && ./swap od/writer od/moved {outside}"
timeout = 300
"""

SWAP_C = r"""
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
int main(int argc, char **argv)
{
	struct stat st;

	while (stat(argv[1], &st) != 0 || !S_ISDIR(st.st_mode))
		;
	if (rename(argv[1], argv[2]) != 0 || symlink(argv[3], argv[1]) != 0)
		return 1;
	puts("swapped");
	return 0;
}
"""


def test_links_made_while_the_reports_are_written(vmtest_binary, tmp_path):
    """With -j 2, one target's guest swaps another target's directory for a
    link the moment vmtest makes it, after that target's command ended and
    while vmtest writes its files there: nothing is written through the
    link, and the change is said."""
    kernel = small_kernel()
    project = tmp_path / "project"
    project.mkdir()
    outside = elsewhere(tmp_path)
    (tmp_path / "swap.c").write_text(SWAP_C)
    subprocess.run(["gcc", "-static", "-O2", "-o", str(project / "swap"), str(tmp_path / "swap.c")],
                   check=True)
    (project / "vmtest.toml").write_text(RACE_CONFIG.format(kernel=kernel, outside=outside))
    # The guest's polling is slow under load: when its swap comes only after
    # vmtest has written every file, there was nothing to refuse (all four
    # files are in "moved"), and the race is run again.
    for attempt in range(4):
        shutil.rmtree(project / "od", ignore_errors=True)
        r = run(vmtest_binary, ["-j", "2", "--output-dir", "od", "--json", "r.json"], project,
                timeout=600)
        out, err = r.stdout.decode(errors="replace"), r.stderr.decode()
        # The attacker moved the directory vmtest made, and nothing went
        # through the link it puts in its place.  vmtest may see the move
        # before the link is made: its refusal stops the attacker's VM
        # too, so the link (and "swapped") may never come.
        assert (project / "od" / "moved").is_dir(), out[-2000:] + err
        assert os.listdir(outside) == []
        if r.returncode == 0:
            assert (project / "od" / "writer").is_symlink(), out[-2000:] + err
            assert sorted(os.listdir(project / "od" / "moved")) == [
                "console.log", "output.log", "qemu-command-line", "result.json"], err
            continue
        assert r.returncode == 69, err
        if (project / "od" / "writer").is_symlink():
            assert "od/writer changed during the run (its path now leads elsewhere" in err, err
        else:
            assert not (project / "od" / "writer").exists()
            assert "od/writer changed during the run (it was removed or moved)" in err, err
        break
    else:
        raise AssertionError("in 4 attempts the guest never swapped the directory while "
                             "vmtest wrote in it")


def test_a_closed_pipe_ends_the_run(vmtest_binary, tmp_path):
    """`vmtest ... | head -1`: as for a host command, the run ends once
    nobody reads (the shell sees 141), the VM is stopped, nothing is left,
    and the spool stops growing."""
    project = tmp_path / "project"
    project.mkdir()
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    start = time.monotonic()
    r = subprocess.run(["bash", "-c", '"$0" -k "$1" -- yes | head -n 1; '
                        'echo "status=${PIPESTATUS[0]}"', vmtest_binary, small_kernel()],
                       cwd=project, capture_output=True, timeout=300,
                       env=dict(os.environ, XDG_RUNTIME_DIR=str(runtime)))
    assert r.stdout == b"y\nstatus=141\n", r
    assert b"interrupted" not in r.stderr
    assert time.monotonic() - start < 120
    assert qemus_sharing(project) == []
    assert os.listdir(runtime) == []


def test_a_failing_log_ends_the_run(vmtest_binary, tmp_path):
    """--log on a file system that fills up: the run stops at once, with
    the reason, 69, and no QEMU left (the command would run for 600 s)."""
    project = tmp_path / "project"
    project.mkdir()
    with tmpfs(tmp_path / "small", size="64k") as small:
        start = time.monotonic()
        r = run(vmtest_binary, ["--log", str(small / "run.log"), "-k", small_kernel(), "--",
                                "sh", "-c", "yes log-line | head -n 100000; sleep 600"], project)
        took = time.monotonic() - start
    assert r.returncode == 69, r.stderr
    assert r.stderr.decode().endswith(
        "vmtest: cannot write --log %s: No space left on device; the run was stopped\n"
        % (small / "run.log"))
    assert took < 120
    assert qemus_sharing(project) == []


def test_standard_fds_closed_at_start(vmtest_binary, tmp_path):
    """Started with stdout closed, vmtest's first file would become fd 1 and
    the command's output would land in it: here, the console's spool."""
    project = tmp_path / "project"
    project.mkdir()
    r = subprocess.run(["sh", "-c", '"$0" -k "$1" --output-dir od -- echo to-closed-stdout >&-',
                        vmtest_binary, small_kernel()], cwd=project, capture_output=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    target = os.listdir(project / "od")[0]
    assert "to-closed-stdout" not in (project / "od" / target / "console.log").read_text()
    assert (project / "od" / target / "output.log").read_text() == "to-closed-stdout\n"


def test_names_in_plain_mode_and_a_writable_root(vmtest_binary, tmp_path):
    """A target's name with escape sequences and a newline prints sanitized
    in plain mode and in --list (CI logs render ANSI); a writable mount of
    the host's / (through a link) runs, with one warning."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "root-link").symlink_to("/")
    (project / "vmtest.toml").write_text(
        '[[target]]\nname = "evil\\u001b]0;title\\u0007\\u001b[2J\\nforged line"\n'
        'kernel = "%s"\ncommand = "test -w /host/tmp && echo writable"\n'
        '[target.vm.mounts]\n"/host" = { host_path = "root-link", writable = true }\n'
        % small_kernel())
    r = run(vmtest_binary, ["--list"], project)
    assert r.returncode == 0
    assert b"\x1b" not in r.stdout and r.stdout.count(b"\n") == 1, r.stdout
    r = run(vmtest_binary, [], project)
    assert r.returncode == 0, r.stderr
    assert b"\x1b" not in r.stdout and b"\x07" not in r.stdout
    # The newline is gone: the name cannot start a line of its own.
    assert r.stdout.startswith(b"=> evilforged line\n"), r.stdout[:200]
    assert b"writable\n" in r.stdout
    assert r.stderr.count(b"shares the host's / read-write") == 1, r.stderr
    assert b"vmtest: warning: target 'evil" in r.stderr


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def test_a_guest_cannot_poison_the_cache(vmtest_binary, tmp_path):
    """A one-liner run from a directory that holds vmtest's cache (here
    XDG_CACHE_HOME inside the project, as ~/.cache is inside $HOME): its
    guest overwrites every cache file, then swaps the cache directory for
    one of its own.  The next run, from elsewhere, uses none of it: it
    makes its files again and boots as before."""
    project = tmp_path / "home"
    project.mkdir()
    other = tmp_path / "other"
    other.mkdir()
    env = dict(os.environ, XDG_CACHE_HOME=str(project / ".cache"))
    kernel = small_kernel()
    r = run(vmtest_binary, ["-k", kernel, "--", "true"], project, env=env)
    assert r.returncode == 0, r.stderr
    cache = project / ".cache" / "vmtest"

    def files():
        return sorted(os.path.relpath(os.path.join(d, f), cache)
                      for d, _, fs in os.walk(cache) for f in fs)

    made = {f: sha256(cache / f) for f in files()}
    assert any(f.startswith("initramfs-") for f in made), made
    # The snapshot of the booted guest (warm starts) is a cache file too.
    assert any(f.startswith("snapshots/") and f.endswith("/ram") for f in made), made
    poison = ("cd /mnt/vmtest/.cache; find vmtest -type f | while read f; do echo poison > $f; "
              "done; cp -r vmtest planted; find planted -type f | while read f; do "
              "echo planted > $f; done; mv vmtest old; mv planted vmtest; echo done")
    r = run(vmtest_binary, ["-k", kernel, "--", "sh", "-c", poison], project, env=env)
    assert r.stdout == b"done\n", r.stderr
    assert all((cache / f).read_bytes() == b"planted\n" for f in made)
    # From elsewhere: the planted files are not used (the guest boots cold
    # rather than restore a planted snapshot); vmtest's own come back.
    r = run(vmtest_binary, ["-v", "-k", kernel, "--", "echo", "booted"], other, env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"booted\n"
    assert b"booting cold, to save a snapshot" in r.stderr and b"saved the snapshot" in r.stderr
    for f in made:
        if not f.startswith("snapshots/"):
            assert sha256(cache / f) == made[f], f
    # The snapshot is saved anew (under a new key: the initramfs it boots
    # was made anew); the planted one stays unused.
    new = [f for f in files() if f.startswith("snapshots/") and f not in made]
    assert sorted(os.path.basename(f) for f in new) == ["console", "ram", "state"], files()
    assert all((cache / f).read_bytes() != b"planted\n" for f in new if not f.endswith("console"))


def test_the_cache_without_a_keyring(vmtest_binary, tmp_path):
    """Where the kernel keyring is out of reach (a container's seccomp
    profile answers ENOSYS; strace plays it here), vmtest cannot tell its
    cache files from planted ones: each run makes its own, in its private
    directory, and the cache is neither read nor written."""
    project = tmp_path / "project"
    project.mkdir()
    cache_home = tmp_path / "cache"
    # LeakSanitizer cannot run under ptrace: the ASan build's leak check is off here.
    env = dict(os.environ, XDG_CACHE_HOME=str(cache_home), ASAN_OPTIONS="detect_leaks=0")
    r = subprocess.run(["strace", "-f", "-qq", "-o", "/dev/null", "-e", "trace=keyctl,add_key",
                        "-e", "inject=keyctl,add_key:error=ENOSYS",
                        vmtest_binary, "-v", "-k", small_kernel(), "--", "echo", "booted"],
                       cwd=project, env=env, capture_output=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"booted\n"
    assert b"the kernel keyring is out of reach" in r.stderr
    assert not (cache_home / "vmtest").exists() or os.listdir(cache_home / "vmtest") == []
