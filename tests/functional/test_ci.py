# SPDX-License-Identifier: MIT
"""Built for CI: parallel targets, JUnit and JSON reports, shards, artifacts,
and the GitHub Action's definition."""
import json
import os
import re
import time
import xml.etree.ElementTree as ET

import yaml

from conftest import debian_kernel, small_kernel

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")

FOUR_TARGETS = """\
[[target]]
name = "passes"
kernel = "{small}"
command = "echo passes-1; sleep 1; echo passes-2"

[[target]]
name = "fails"
kernel = "{small}"
command = '''
echo fails-1
printf 'hostile ]]> <tag> &amp; \\001\\033[31m \\377 end\\n'
echo fails-2 >&2
exit 3
'''

[[target]]
name = "times out"
kernel = "{small}"
command = "echo times-out-1; sleep 600"
timeout = 3

[[target]]
name = "cannot boot"
kernel = "{debian}"
rootfs = "{empty}"
command = "echo never"
"""


def test_parallel_targets_and_reports(vmtest, tmp_path):
    empty = tmp_path / "emptyroot"
    empty.mkdir()
    project = tmp_path / "project"
    project.mkdir()
    (project / "vmtest.toml").write_text(FOUR_TARGETS.format(
        small=small_kernel(), debian=debian_kernel(), empty=empty))
    (project / "out").mkdir()
    # An earlier run's vmcore: this run has none, and must not seem to.
    (project / "artifacts" / "passes").mkdir(parents=True)
    (project / "artifacts" / "passes" / "vmcore").write_text("an earlier run's\n")
    start = time.monotonic()
    r = vmtest("-j", "2", "--junit", "out/junit.xml", "--json", "out/results.json",
               "--output-dir", "artifacts", cwd=project, timeout=600)
    wall = time.monotonic() - start
    assert r.returncode == 1, r.stdout + r.stderr

    # Not a terminal, several at once: each block printed whole as its
    # target ends, never interleaved with another's.
    blocks = re.split(r"^=> ", r.stdout, flags=re.M)[1:]
    assert sorted(b.splitlines()[0] for b in blocks) == sorted(
        ["passes", "fails", "times out", "cannot boot"])
    by_name = {b.splitlines()[0]: b for b in blocks}
    own = {"passes": "passes-", "fails": "fails-", "times out": "times-out-"}
    for name, block in by_name.items():
        for other, marker in own.items():
            if other != name:
                assert marker not in block, (name, block)
    assert by_name["passes"].endswith("passes-1\npasses-2\nPASS\n")
    assert "fails-1\n" in by_name["fails"] and "fails-2\n" in by_name["fails"]
    assert by_name["fails"].endswith("Command failed with exit code: 3\nFAILED\n")
    assert by_name["times out"].endswith("times-out-1\nTimed out after 3 s\nFAILED\n")
    assert "vmtest: the guest could not start: " in by_name["cannot boot"]
    assert by_name["cannot boot"].endswith("FAILED\n")

    # JSON: the facts, in the config's order.
    doc = json.loads((project / "out" / "results.json").read_text())
    assert (doc["passed"], doc["failed"]) == (1, 3)
    results = doc["targets"]
    assert [t["name"] for t in results] == ["passes", "fails", "times out", "cannot boot"]
    assert [t["status"] for t in results] == ["passed", "failed", "timed out", "error"]
    assert [t["exit_status"] for t in results] == [0, 3, 124, 69]
    assert results[0]["reason"] is None
    assert results[1]["reason"] == "Command failed with exit code: 3"
    assert results[2]["reason"] == "Timed out after 3 s"
    assert results[3]["reason"].startswith("vmtest: the guest could not start: ")
    assert results[0]["kernel"] == small_kernel() and results[3]["kernel"] == debian_kernel()
    for t in results:
        assert t["time"] > 0
        assert set(t["stages"]) == {"preparing", "booting", "setting_up", "running"}
        assert abs(sum(t["stages"].values()) - t["time"]) < 0.05
    assert results[0]["stages"]["running"] >= 1.0  # its sleep
    assert results[3]["stages"]["running"] == 0

    # Parallel beats one by one: measured and printed, compared with the
    # sum of the targets' own times (what -j 1 would take, about).
    one_by_one = sum(t["time"] for t in results)
    print("\n# -j 2: %.1f s for 4 targets taking %.1f s one by one (%.2fx)"
          % (wall, one_by_one, one_by_one / wall))
    assert wall < one_by_one

    # JUnit: one testsuite, a testcase per target, failures with their
    # reasons and output; XML that parses despite the hostile output.
    root = ET.parse(project / "out" / "junit.xml").getroot()
    assert root.tag == "testsuites"
    (suite,) = root.findall("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("4", "3", "0")
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert list(cases) == ["passes", "fails", "times out", "cannot boot"]
    for name, case in cases.items():
        assert float(case.get("time")) > 0
        assert case.get("classname") == "vmtest.toml"
    assert cases["passes"].find("failure") is None
    assert cases["passes"].find("system-out").text == "passes-1\npasses-2\n"
    failure = cases["fails"].find("failure")
    assert failure.get("message") == "Command failed with exit code: 3"
    assert failure.get("type") == "failed"
    out = cases["fails"].find("system-out").text
    # "]]>" survives the CDATA split; what XML 1.0 forbids is dropped.
    assert "hostile ]]> <tag> &amp; " in out
    assert "\x01" not in out and "\x1b" not in out and "\ufffd" not in out
    assert "fails-2" in out and "fails-2" in failure.text
    assert cases["times out"].find("failure").get("type") == "timed out"
    assert cases["times out"].find("failure").get("message") == "Timed out after 3 s"
    boot = cases["cannot boot"].find("failure")
    assert boot.get("type") == "error"
    assert "vmtest-init: no virtio-serial port" in boot.text  # the console's tail
    assert "vmtest-init: no virtio-serial port" in cases["cannot boot"].find("system-err").text

    # --output-dir: per target, its console, output, QEMU command line, result.
    art = project / "artifacts"
    assert sorted(os.listdir(art)) == ["cannot_boot", "fails", "passes", "times_out"]
    for d in os.listdir(art):
        assert sorted(os.listdir(art / d)) == ["console.log", "output.log",
                                               "qemu-command-line", "result.json"]
        assert (art / d / "qemu-command-line").read_text().startswith("qemu-system-x86_64 ")
    assert (art / "passes" / "output.log").read_text() == "passes-1\npasses-2\n"
    assert "vmtest-init: no virtio-serial port" in (art / "cannot_boot" / "console.log").read_text()
    assert (art / "cannot_boot" / "output.log").read_text() == ""
    result = json.loads((art / "times_out" / "result.json").read_text())
    assert result["status"] == "timed out" and result == results[2]


def _list(vmtest, cwd, *args):
    r = vmtest("--list", *args, cwd=cwd)
    assert r.returncode == 0, r.stderr
    return r.stdout.splitlines()


def test_shards_are_disjoint_balanced_and_cover(vmtest, tmp_path):
    names = ["t%d" % i for i in range(7)]
    (tmp_path / "vmtest.toml").write_text("".join(
        '[[target]]\nname = "%s"\nkernel = "k"\ncommand = "true"\n' % n for n in names))
    for n in range(1, 6):
        slices = [_list(vmtest, tmp_path, "--shard", "%d/%d" % (k, n)) for k in range(1, n + 1)]
        seen = [name for s in slices for name in s]
        assert sorted(seen) == sorted(names)          # covering
        assert len(seen) == len(set(seen))            # disjoint
        sizes = [len(s) for s in slices]
        assert max(sizes) - min(sizes) <= 1           # balanced
        # Deterministic: the same slice every time.
        assert _list(vmtest, tmp_path, "--shard", "1/%d" % n) == slices[0]
    # After --filter, slices of what it kept.
    assert _list(vmtest, tmp_path, "-f", "t[0-3]", "--shard", "2/2") == ["t1", "t3"]
    for bad, message in [("0/2", "K must be between 1 and N (2)"), ("3/2", "K must be between 1 and N (2)"),
                         ("1/0", "expected K/N"), ("x", "expected K/N"), ("1/2/3", "expected K/N")]:
        r = vmtest("--list", "--shard", bad, cwd=tmp_path)
        assert r.returncode == 2
        assert r.stderr.startswith("vmtest: --shard '%s': " % bad) and message in r.stderr
    # A shard with nothing in it (more shards than targets) passes, and
    # still writes its (empty) report for the CI to merge.
    r = vmtest("--shard", "9/9", "--junit", "j.xml", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "shard 9/9 of vmtest.toml has no targets" in r.stderr
    suite = ET.parse(tmp_path / "j.xml").getroot().find("testsuite")
    assert suite.get("tests") == "0"


def test_report_usage_errors(vmtest, tmp_path):
    (tmp_path / "vmtest.toml").write_text('[[target]]\nname = "a"\nkernel = "%s"\ncommand = "true"\n'
                                          % small_kernel())
    r = vmtest("--junit", "/nonexistent/dir/j.xml", cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr.startswith("vmtest: --junit /nonexistent/dir/j.xml: cannot write in /nonexistent/dir")
    r = vmtest("-j", "0", cwd=tmp_path)
    assert r.returncode == 2
    assert "-j/--jobs '0': expected a number of targets from 1 to 1024" in r.stderr
    r = vmtest("-j", "2", "--tty", cwd=tmp_path)
    assert r.returncode == 2


def test_github_action_definition():
    with open(os.path.join(ROOT, "action.yml")) as f:
        action = yaml.safe_load(f)
    assert action["name"] and action["description"]
    inputs = action["inputs"]
    for name in ["config", "kernel", "image", "command", "filter", "shard", "jobs", "junit",
                 "args"]:
        assert name in inputs, name
        assert inputs[name]["description"]
        assert inputs[name].get("required", False) is False
    assert action["runs"]["using"] == "composite"
    steps = action["runs"]["steps"]
    script = "\n".join(s.get("run", "") for s in steps)
    # KVM where the runner has it, behind a udev rule opening /dev/kvm.
    assert "/dev/kvm" in script and "udevadm" in script
    # Dependencies from the distribution's archive, as make demo does.
    assert "scripts/install-deps.sh" in script
    with open(os.path.join(ROOT, "scripts", "install-deps.sh")) as f:
        assert "apt-get install" in f.read()
    for s in steps:
        if "run" in s:
            assert s["shell"] == "bash"
    # The docs show a complete set-up using it.
    with open(os.path.join(ROOT, "docs", "ci.md")) as f:
        doc = f.read()
    for block in re.findall(r"```yaml\n(.*?)```", doc, re.S):
        yaml.safe_load(block)
    assert "strategy:" in doc and "matrix:" in doc and "--shard" in doc and "parallel:" in doc
