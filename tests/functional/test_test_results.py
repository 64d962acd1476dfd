# SPDX-License-Identifier: MIT
"""Test suites, not just commands: the tests a command reports inside the
guest (TAP, KTAP, go test -json, KUnit) as JUnit test cases, JSON entries
and the view's count; expected failures; flaky tests found by a retry;
and a CI matrix planned (--list=json), sharded by time and merged."""
import hashlib
import json
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET

import pytest

from conftest import small_kernel
from test_image_targets import test_image

HERE = os.path.dirname(os.path.abspath(__file__))

# Nested TAP as kselftest's runner and TAP 14 print it: ok, not ok, a
# skip, a todo, a subtest indented and one behind "# ", and a plan of 6
# whose last test never comes.
NESTED_TAP = r"""#!/bin/sh
echo "TAP version 13"
echo "1..6"
echo "ok 1 - boots"
echo "# about to fail"
echo "not ok 2 - parses # exit=3"
echo "ok 3 - network # SKIP no NIC in this guest"
echo "not ok 4 - later # TODO not written yet"
echo "# Subtest: group"
echo "    1..2"
echo "    ok 1 - inner one"
echo "    not ok 2 - inner two"
echo "not ok 5 - group"
echo "# selftests: net: reuseport.sh"
exit 0
"""

CONFIG = """\
[[target]]
name = "nested tap"
kernel = "{kernel}"
command = "./nested.sh"
[target.vm]
results = "tap"

[[target]]
name = "expected"
kernel = "{kernel}"
command = "printf '1..3\\nok 1 - fine\\nnot ok 2 - known_bug\\nok 3 - was_broken\\n'"
[target.vm]
results = "tap"
expected_failures = ["^known_bug$", "^was_broken$"]

[[target]]
name = "from a file"
kernel = "{kernel}"
command = "mkdir -p out && printf '1..2\\nok 1 - a\\nok 2 - b\\n' > out/results.tap && echo not tap"
[target.vm]
results = "tap"
results_file = "out/results.tap"

[[target]]
name = "hangs"
kernel = "{kernel}"
command = "printf '1..3\\nok 1 - first\\n'; sleep 600"
timeout = 3
[target.vm]
results = "tap"

[[target]]
name = "garbage"
kernel = "{kernel}"
command = "./garbage.sh"
[target.vm]
results = "gotest-json"

[[target]]
name = "flaky"
kernel = "{kernel}"
command = "./flaky.sh"
[target.vm]
results = "tap"

[[target]]
name = "image flaky"
image = "{image}"
command = "COUNTER=counter-image ./flaky.sh"
[target.vm]
results = "tap"
"""

# Fails its test "sometimes" on its first run only: a counter in the
# shared directory.  It says which tests it was asked to run again.
FLAKY = r"""#!/bin/sh
n=$(cat ${COUNTER:-counter} 2>/dev/null || echo 0)
echo $((n + 1)) > ${COUNTER:-counter}
echo "attempt=${VMTEST_ATTEMPT:-1} failed=[${VMTEST_FAILED_TESTS:-}]"
echo "1..2"
echo "ok 1 - steady"
if [ "$n" = 0 ]; then echo "not ok 2 - sometimes"; else echo "ok 2 - sometimes"; fi
"""

# What a broken test binary might print: truncated JSON, a line of 1 MB,
# bytes that are not UTF-8, NULs, interleaved with real events.
GARBAGE = r"""#!/bin/sh
printf '{"Action":"run","Package":"p","Test":"TestA"}\n'
printf '{"Action":"output","Package":"p","Test":"TestA","Output":"half\n'
head -c 1048576 /dev/zero | tr '\0' 'x'; echo
printf '\377\376 not utf-8 \000 nul\n'
printf '{"Action":"pass","Package":"p","Test":"TestA","Elapsed":0.5}\n'
printf '{"Action":"run","Package":"p","Test":"TestB"}\n'
printf '{"Action":"fail","Package":"p","Test":"TestB","Elapsed":0.25}\n'
printf '{"Action":"run","Package":"p","Test":"TestCut"}\n'
printf '{"Action":"outp'
"""


def _write_script(path, text):
    path.write_text(text)
    path.chmod(0o755)


def _junit_cases(path):
    root = ET.parse(path).getroot()
    cases = {}
    for case in root.iter("testcase"):
        kind = "passed"
        for child in case:
            if child.tag in ("failure", "skipped", "flakyFailure"):
                kind = child.tag + ":" + child.get("type", "")
        cases[(case.get("classname"), case.get("name"))] = kind
    return root, cases


def _json_tests(doc, target):
    entry = next(t for t in doc["targets"] if t["name"] == target)
    return entry, {t["name"]: t for t in entry.get("tests", [])}


def test_tap_file_expected_garbage_and_flaky(vmtest, tmp_path):
    """One run of seven targets (a warm start each after the first) and one
    retry: what each format and option gives the user, kernels and an image."""
    (tmp_path / "vmtest.toml").write_text(CONFIG.format(kernel=small_kernel(),
                                                        image=test_image("bios")))
    _write_script(tmp_path / "nested.sh", NESTED_TAP)
    _write_script(tmp_path / "flaky.sh", FLAKY)
    _write_script(tmp_path / "garbage.sh", GARBAGE)
    r = vmtest("--junit", "junit.xml", "--json", "results.json", "--output-dir", "art",
               cwd=tmp_path, timeout=600)
    assert r.returncode == 1, r.stdout + r.stderr
    blocks = {b.splitlines()[0]: b for b in re.split(r"^=> ", r.stdout, flags=re.M)[1:]}

    # The plain format: the count and the failed tests, then the verdict.
    nested = blocks["nested tap"]
    assert ("Tests: 2/7 ok, 2 failed, 1 not run, 1 skipped, 1 todo\n"
            "  failed: parses\n  failed: group/inner two\n  not run: #6\n") in nested, nested
    assert nested.endswith("3 tests failed (1 never ran): parses, group/inner two, #6\nFAILED\n")
    assert blocks["expected"].endswith(
        "Tests: 2/3 ok, 1 expected failure, 1 fixed\nPASS\n"), blocks["expected"]
    assert blocks["from a file"].endswith("Tests: 2/2 ok\nPASS\n"), blocks["from a file"]
    # A command stopped in the middle: the tests that ran, the rest of the
    # plan not run, and the target failed for its own reason first.
    assert blocks["hangs"].endswith(
        "Tests: 1/3 ok, 2 not run\n  not run: #2\n  not run: #3\n"
        "Timed out after 3 s; 2 tests failed (2 never ran): #2, #3\nFAILED\n"), blocks["hangs"]
    assert "not tap\n" in blocks["from a file"]
    for name in ("flaky", "image flaky"):
        assert blocks[name].endswith("1 test failed: sometimes\nFAILED\n"), blocks[name]
        assert "attempt=1 failed=[]" in blocks[name]

    # JUnit: the target's own case, then one per test, classname = target.
    root, cases = _junit_cases(tmp_path / "junit.xml")
    assert cases[("vmtest.toml", "nested tap")] == "failure:failed"
    assert cases[("nested tap", "boots")] == "passed"
    assert cases[("nested tap", "parses")] == "failure:failed"
    assert cases[("nested tap", "network")] == "skipped:skipped"
    assert cases[("nested tap", "later")] == "skipped:todo"
    assert cases[("nested tap", "group/inner one")] == "passed"
    assert cases[("nested tap", "group/inner two")] == "failure:failed"
    assert cases[("nested tap", "#6")] == "failure:not run"
    # The group failed because its subtest did: not a case of its own.
    assert ("nested tap", "group") not in cases
    assert cases[("expected", "known_bug")] == "skipped:expected failure"
    assert cases[("expected", "was_broken")] == "passed"
    assert cases[("from a file", "a")] == "passed"
    assert cases[("garbage", "p/TestA")] == "passed"
    assert cases[("garbage", "p/TestB")] == "failure:failed"
    assert cases[("garbage", "p/TestCut")] == "failure:failed"
    suite = root.find("testsuite")
    assert int(suite.get("tests")) == len(cases)
    assert int(suite.get("failures")) == sum(1 for k in cases.values()
                                             if k.startswith("failure"))

    # JSON: status, time and each test's own output.
    doc = json.loads((tmp_path / "results.json").read_text())
    entry, tests = _json_tests(doc, "nested tap")
    assert entry["status"] == "failed" and entry["exit_status"] == 1
    assert entry["tests_summary"]["not_run"] == 1
    assert tests["parses"]["status"] == "failed"
    assert tests["parses"]["output"] == "# about to fail\n"
    assert tests["network"]["detail"] == "no NIC in this guest"
    assert tests["#6"]["status"] == "not run"
    entry, tests = _json_tests(doc, "expected")
    assert entry["status"] == "passed"
    assert tests["known_bug"]["status"] == "expected failure"
    assert tests["was_broken"]["status"] == "fixed"
    entry, tests = _json_tests(doc, "garbage")
    assert tests["p/TestA"]["time"] == 0.5
    assert "started but never ended" in tests["p/TestCut"]["detail"]

    # Garbage lost nothing of the output: the 1 MB line and the bytes
    # that are not UTF-8 are in the target's output, byte for byte.
    out = (tmp_path / "art" / "garbage" / "output.log").read_bytes()
    assert b"x" * 1048576 + b"\n" in out
    assert b"\xff\xfe not utf-8 \x00 nul\n" in out
    assert out.endswith(b'{"Action":"outp')

    # A retry: the test that failed passes on its second run, which was
    # told which test to run again; reported flaky, and the run passes.
    (tmp_path / "counter").unlink()
    (tmp_path / "counter-image").unlink()
    r = vmtest("-f", "flaky", "--retry-failed", "1", "--junit", "junit2.xml",
               "--json", "results2.json", "--no-ui", cwd=tmp_path, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "attempt 1 of 2 failed (1 test failed: sometimes): trying again" in r.stderr
    blocks = {b.splitlines()[0]: b for b in re.split(r"^=> ", r.stdout, flags=re.M)[1:]}
    doc = json.loads((tmp_path / "results2.json").read_text())
    _, cases = _junit_cases(tmp_path / "junit2.xml")
    assert (doc["passed"], doc["failed"], doc["flaky"]) == (0, 0, 2)
    for name in ("flaky", "image flaky"):
        assert "attempt=2 failed=[sometimes]" in blocks[name], blocks[name]
        assert blocks[name].endswith("Tests: 2/2 ok, 1 flaky\n"
                                     "Flaky: it failed, then passed on attempt 2\nPASS\n")
        entry, tests = _json_tests(doc, name)
        assert entry["status"] == "flaky" and entry["attempts"] == 2
        assert tests["sometimes"]["status"] == "flaky"
        assert tests["sometimes"]["attempts"] == 2
        assert cases[(name, "sometimes")] == "flakyFailure:failed"
        assert cases[(name, "steady")] == "passed"
        assert cases[("vmtest.toml", name)] == "flakyFailure:failed"


GO_TEST = """\
package vmtestgo

import "testing"

func TestAdd(t *testing.T) {
	if 1+1 != 2 {
		t.Fatal("arithmetic")
	}
}

func TestTable(t *testing.T) {
	for _, name := range []string{"one", "two"} {
		t.Run(name, func(t *testing.T) {
			if name == "two" {
				t.Errorf("table case %s is wrong", name)
			}
		})
	}
}

func TestSkipped(t *testing.T) {
	t.Skip("not on this kernel")
}
"""


def test_go_test_json_in_the_guest(vmtest, tmp_path):
    """The events of `go test -json` of a small package, made in the guest:
    the test binary built on the host (`go test -c`), run in the guest under
    `go tool test2json`, which is what `go test -json` does.  (The whole of
    `go test -json` in the guest takes 75-105 s under TCG here, nearly all
    of it the go command's checks of the standard library's files; under
    KVM it is the same as on the host.)"""
    go = shutil.which("go") or "/usr/lib/go/bin/go"
    if not os.path.exists(go):
        pytest.fail("go is missing: make check installs Debian's golang-go")
    (tmp_path / "go.mod").write_text("module example.com/vmtestgo\n\ngo 1.19\n")
    (tmp_path / "add_test.go").write_text(GO_TEST)
    env = {"GOFLAGS": "-mod=mod", "GOCACHE": str(tmp_path / "gocache"),
           "GOPATH": str(tmp_path / "gopath"), "PATH": os.path.dirname(go) + ":" +
           os.environ["PATH"]}
    subprocess.run([go, "test", "-c", "-o", "vmtestgo.test", "."], cwd=tmp_path,
                   env=dict(os.environ, **env), check=True)
    r = vmtest("--results", "gotest-json", "--junit", "junit.xml", "--json", "results.json",
               "-k", small_kernel(), "--", go, "tool", "test2json", "-p", "example.com/vmtestgo",
               "./vmtestgo.test", "-test.v", cwd=tmp_path, env=env, timeout=600)
    # A one-liner: go's own exit status, its JSON on stdout untouched.
    assert r.returncode == 1, r.stdout + r.stderr
    assert '"Action":"fail","Package":"example.com/vmtestgo","Test":"TestTable/two"' in r.stdout
    # TestTable and the package failed through TestTable/two: not counted again.
    assert "Tests: 2/4 ok, 1 failed, 1 skipped\n" in r.stderr, r.stderr
    assert "  failed: example.com/vmtestgo/TestTable/two\n" in r.stderr
    _, cases = _junit_cases(tmp_path / "junit.xml")
    target = os.path.basename(small_kernel())
    assert cases[(target, "example.com/vmtestgo/TestAdd")] == "passed"
    assert cases[(target, "example.com/vmtestgo/TestTable/one")] == "passed"
    assert cases[(target, "example.com/vmtestgo/TestTable/two")] == "failure:failed"
    assert cases[(target, "example.com/vmtestgo/TestSkipped")] == "skipped:skipped"
    doc = json.loads((tmp_path / "results.json").read_text())
    entry, tests = _json_tests(doc, target)
    assert "table case two is wrong" in tests["example.com/vmtestgo/TestTable/two"]["output"]
    assert entry["tests_summary"] == {"total": 4, "passed": 2, "failed": 1, "skipped": 1,
                                      "todo": 0, "not_run": 0, "expected_failures": 0,
                                      "fixed": 0, "flaky": 0}


def _kunit_kernel():
    path = os.environ.get("VMTEST_KUNIT_KERNEL")
    if not path:
        script = os.path.join(HERE, "..", "..", "scripts", "test-kernel.sh")
        path = subprocess.run([script, "--kunit"], check=True, capture_output=True,
                              text=True).stdout.strip()
    if not os.path.isfile(path):
        pytest.fail("no KUnit test kernel: scripts/test-kernel.sh --kunit gave %r" % path)
    return path


def test_kunit_kernel(vmtest, tmp_path):
    """A kernel's own KUnit suites, run as it boots, read from its log:
    no command, no warm start, kunit.filter_glob through --kargs."""
    kernel = _kunit_kernel()
    (tmp_path / "vmtest.toml").write_text(
        '[[target]]\nname = "kunit"\nkernel = "%s"\n[target.vm]\nresults = "kunit"\n' % kernel)
    r = vmtest("--junit", "junit.xml", "--json", "results.json", "-v", cwd=tmp_path, timeout=600)
    # The example suite skips two tests on purpose; everything else passes.
    assert r.returncode == 0, r.stdout + r.stderr
    counted = re.search(r"^Tests: (\d+)/(\d+) ok, 2 skipped\nPASS\n\Z", r.stdout, re.M)
    assert counted and int(counted.group(2)) - int(counted.group(1)) == 2, r.stdout
    assert "booting cold: its tests are KUnit's" in r.stderr, r.stderr
    _, cases = _junit_cases(tmp_path / "junit.xml")
    assert cases[("kunit", "example/example_simple_test")] == "passed"
    assert cases[("kunit", "example/example_skip_test")] == "skipped:skipped"
    assert cases[("kunit", "list-kunit-test/list_test_list_init")] == "passed"
    assert any(name.startswith("bitfields/") for _, name in cases)
    doc = json.loads((tmp_path / "results.json").read_text())
    entry, tests = _json_tests(doc, "kunit")
    assert entry["tests_summary"]["total"] > 40
    assert tests["example/example_simple_test"]["time"] is not None

    # --kargs passes kunit.filter_glob to the kernel: only that suite runs.
    r = vmtest("--json", "one.json", "--results", "kunit", "--kargs",
               "kunit.filter_glob=list-kunit-test", "-k", kernel, cwd=tmp_path, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    doc = json.loads((tmp_path / "one.json").read_text())
    names = [t["name"] for t in doc["targets"][0]["tests"]]
    assert names and all(n.startswith("list-kunit-test/") for n in names), names


MATRIX = """\
[[target]]
name = "{name}"
kernel = "{kernel}"
command = "printf '1..2\\nok 1 - {name}-a\\n{verdict} 2 - {name}-b\\n'"
[target.vm]
results = "tap"
"""


def _cases_without_times(path):
    root = ET.parse(path).getroot()
    out = []
    for case in root.iter("testcase"):
        kinds = sorted(c.tag for c in case if c.tag in ("failure", "skipped"))
        out.append((case.get("classname"), case.get("name"), tuple(kinds)))
    return out


def test_shards_matrix_and_merge(vmtest, tmp_path):
    """Four shards' reports merge into the same test cases as one run of
    every target; --list=json plans the matrix, by time when asked."""
    names = ["alpha", "beta", "gamma", "delta", "epsilon"]
    (tmp_path / "vmtest.toml").write_text("\n".join(
        MATRIX.format(name=n, kernel=small_kernel(), verdict="not ok" if n == "gamma" else "ok")
        for n in names))
    whole = vmtest("--junit", "whole.xml", "--json", "whole.json", cwd=tmp_path, timeout=600)
    assert whole.returncode == 1, whole.stdout + whole.stderr

    # An earlier run's times, made up so that the plan is known: epsilon
    # 40 s, alpha 30, beta 20, gamma 10 and delta unknown (the median, 25).
    times = {"alpha": 30, "beta": 20, "gamma": 10, "epsilon": 40}
    (tmp_path / "last.json").write_text(json.dumps(
        {"targets": [{"name": n, "time": t, "status": "passed"} for n, t in times.items()]}))
    plan = vmtest("--list=json", "--shards", "4", "--timings", "last.json", cwd=tmp_path)
    assert plan.returncode == 0, plan.stderr
    # Longest first, each to the least loaded: epsilon, alpha, delta, beta;
    # gamma joins beta's shard (20 s, the least).
    assert json.loads(plan.stdout) == {"include": [
        {"shard": "1/4", "targets": ["epsilon"], "time": 40.0},
        {"shard": "2/4", "targets": ["alpha"], "time": 30.0},
        {"shard": "3/4", "targets": ["delta"], "time": 25.0},
        {"shard": "4/4", "targets": ["beta", "gamma"], "time": 30.0}]}
    gitlab = vmtest("--list=gitlab", "--shards", "4", cwd=tmp_path)
    assert json.loads(gitlab.stdout) == [{"VMTEST_SHARD": ["1/4", "2/4", "3/4", "4/4"]}]
    listed = vmtest("--list", "--shard", "4/4", "--timings", "last.json", cwd=tmp_path)
    assert listed.stdout == "beta\ngamma\n", listed.stdout + listed.stderr
    by_position = vmtest("--list=json", "--shards", "2", cwd=tmp_path)
    assert [e["targets"] for e in json.loads(by_position.stdout)["include"]] == [
        ["alpha", "gamma", "epsilon"], ["beta", "delta"]]

    # The matrix: each machine runs its shard, by the same times.
    reports = []
    for k in range(1, 5):
        r = vmtest("--shard", "%d/4" % k, "--timings", "last.json", "--junit", "j%d.xml" % k,
                   "--json", "r%d.json" % k, cwd=tmp_path, timeout=600)
        assert r.returncode == (1 if k == 4 else 0), r.stdout + r.stderr
        reports += ["j%d.xml" % k, "r%d.json" % k]
    merged = vmtest("--merge", "--junit", "merged.xml", "--json", "merged.json",
                    *reversed(reports), cwd=tmp_path)
    assert merged.returncode == 1, merged.stderr
    assert _cases_without_times(tmp_path / "merged.xml") == \
        _cases_without_times(tmp_path / "whole.xml")
    m, w = (json.loads((tmp_path / f).read_text()) for f in ("merged.json", "whole.json"))
    assert [(t["name"], t["status"], [x["name"] for x in t["tests"]]) for t in m["targets"]] == \
        [(t["name"], t["status"], [x["name"] for x in t["tests"]]) for t in w["targets"]]
    assert (m["passed"], m["failed"]) == (4, 1)
    root = ET.parse(tmp_path / "merged.xml").getroot()
    assert root.get("tests") == str(5 + 10) and root.get("failures") == "2"

    # A shard's report missing: said, and the merge fails.
    partial = vmtest("--merge", "--json", "partial.json", "r1.json", "r2.json", "r4.json",
                     cwd=tmp_path)
    assert partial.returncode == 1
    assert "vmtest: --merge: no JSON report of shard 3/4\n" in partial.stderr
    # Not a report: one line naming it, status 2, nothing written.
    bad = vmtest("--merge", "--json", "bad.json", "vmtest.toml", cwd=tmp_path)
    assert bad.returncode == 2
    assert bad.stderr == "vmtest: --merge vmtest.toml: not a vmtest JSON or JUnit report\n"
    assert not (tmp_path / "bad.json").exists()


def test_results_options_refused(vmtest, tmp_path):
    """Mistakes are one line, status 2, before anything starts."""
    (tmp_path / "vmtest.toml").write_text(
        '[[target]]\nname = "t"\nkernel = "%s"\ncommand = "true"\n[target.vm]\n'
        'results = "junit"\n' % small_kernel())
    r = vmtest(cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr == ('vmtest: vmtest.toml:6:11: target \'t\': vm.results: expected "none", '
                        '"tap", "ktap", "gotest-json" or "kunit"\n'), r.stderr
    r = vmtest("--results", "xml", "-k", small_kernel(), "--", "true", cwd=tmp_path)
    assert r.returncode == 2 and "--results 'xml'" in r.stderr
    r = vmtest("--results", "tap", "--results-file", "/etc/passwd", "-k", small_kernel(),
               "--", "true", cwd=tmp_path)
    assert r.returncode == 2 and "is not in a directory the guest can write" in r.stderr
    # The same refusal in a dry run: one line, the target named once.
    r = vmtest("--dry-run", "--results", "tap", "--results-file", "/etc/passwd", "-k",
               small_kernel(), "--", "true", cwd=tmp_path)
    assert r.returncode == 2 and r.stderr.count("target '") == 1, r.stderr
    # An absolute path straight in the project, and one in a directory the
    # command will make there, are where the guest writes.
    for path in (tmp_path / "results.tap", tmp_path / "not-yet" / "results.tap"):
        r = vmtest("--dry-run", "--results", "tap", "--results-file", str(path), "-k",
                   small_kernel(), "--", "true", cwd=tmp_path)
        assert r.returncode == 0, r.stderr
    r = vmtest("--retry-failed", "x", "-k", small_kernel(), "--", "true", cwd=tmp_path)
    assert r.returncode == 2 and "--retry-failed 'x'" in r.stderr
    (tmp_path / "vmtest.toml").write_text(
        '[[target]]\nname = "t"\nkernel = "%s"\ncommand = "true"\n' % small_kernel())
    r = vmtest("--timings", "none.json", cwd=tmp_path)
    assert r.returncode == 2 and "--timings makes --shard's slices" in r.stderr
    r = vmtest("--shard", "1/2", "--timings", "none.json", cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr == "vmtest: --timings none.json: No such file or directory\n", r.stderr
