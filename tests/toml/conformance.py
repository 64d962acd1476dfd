#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Run a toml-test suite (github.com/toml-lang/toml-test) against a decoder.

    conformance.py --suite DIR --decoder build/toml-decode [--files LIST]

The decoder reads TOML on stdin.  For a valid document it exits 0 and
prints the document as toml-test's tagged JSON (every value an object
{"type": ..., "value": "..."}); for an invalid one it exits non-zero.

A case under valid/ passes when the decoder exits 0 and its JSON equals
the case's .json; values are compared by meaning, not spelling (1e2 is
100.0, "Z" is "+00:00", a date-time with a space is one with a "T").  A
case under invalid/ passes when the decoder rejects it with an ordinary
exit status.  Always failures: death by a signal, a timeout, and a
sanitizer's report on stderr (a sanitizer exits 1, which would otherwise
pass for a rejection).

--files names the suite's list of cases for one TOML version
(files-toml-1.0.0); without it every case under the suite is run, minus
--exclude patterns.  The last line is "N passed, M failed"; the exit
status is 0 when M is 0.
"""
import argparse
import concurrent.futures
import datetime
import fnmatch
import json
import math
import os
import re
import subprocess
import sys

SANITIZER_REPORT = re.compile(rb"(ERROR: (Address|Leak|Memory|Thread)Sanitizer|runtime error:)")
DATETIME = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?"
                      r"(?:([Zz])|([+-])(\d{2}):(\d{2}))?)?$")
LOCAL_TIME = re.compile(r"^(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?$")


class Differ(Exception):
    """Where and how the decoder's answer differs from the expected one."""


def parse_datetime(text):
    """A tuple that is equal for two spellings of the same moment: the
    fraction is kept as digits (nanoseconds and beyond), an offset turns
    the value into UTC."""
    m = DATETIME.match(text)
    if m:
        y, mo, d, h, mi, s, frac, z, sign, oh, om = m.groups()
        frac = (frac or "").rstrip("0")
        if h is None:
            return ("date", int(y), int(mo), int(d))
        if z is None and sign is None:
            return ("local", int(y), int(mo), int(d), int(h), int(mi), int(s), frac)
        offset = 0 if z else (1 if sign == "+" else -1) * (int(oh) * 60 + int(om))
        # Seconds may be 60 (a leap second) in TOML; keep them out of datetime.
        base = datetime.datetime(int(y), int(mo), int(d), int(h), int(mi))
        utc = base - datetime.timedelta(minutes=offset)
        return ("offset", utc.timetuple()[:5], int(s), frac)
    m = LOCAL_TIME.match(text)
    if m:
        h, mi, s, frac = m.groups()
        return ("time", int(h), int(mi), int(s), (frac or "").rstrip("0"))
    raise Differ("not a date or time: %r" % text)


def parse_float(text):
    lowered = text.lower()
    if lowered in ("nan", "+nan", "-nan"):
        return "nan"
    if lowered in ("inf", "+inf"):
        return math.inf
    if lowered == "-inf":
        return -math.inf
    return float(text.replace("_", ""))


def same_scalar(kind, want, have):
    if kind == "integer":
        return int(want.replace("_", "")) == int(have.replace("_", ""))
    if kind == "float":
        return parse_float(want) == parse_float(have)
    if kind in ("datetime", "datetime-local", "date-local", "time-local"):
        return parse_datetime(want) == parse_datetime(have)
    return want == have


def is_tagged(value):
    return (isinstance(value, dict) and set(value) == {"type", "value"}
            and isinstance(value["type"], str))


def compare(want, have, where="(document)"):
    if is_tagged(want):
        if not is_tagged(have):
            raise Differ("%s: want a %s value, have %s" % (where, want["type"], json.dumps(have)[:80]))
        if want["type"] != have["type"]:
            raise Differ("%s: want type %s, have %s" % (where, want["type"], have["type"]))
        if not isinstance(have["value"], str):
            raise Differ("%s: the value is not a string: %r" % (where, have["value"]))
        try:
            same = same_scalar(want["type"], want["value"], have["value"])
        except ValueError as e:
            raise Differ("%s: %s" % (where, e)) from None
        if not same:
            raise Differ("%s: want %r, have %r" % (where, want["value"], have["value"]))
    elif isinstance(want, dict):
        if not isinstance(have, dict) or is_tagged(have):
            raise Differ("%s: want a table, have %s" % (where, json.dumps(have)[:80]))
        if set(want) != set(have):
            raise Differ("%s: keys differ: missing %s, extra %s" % (
                where, sorted(set(want) - set(have)), sorted(set(have) - set(want))))
        for key in want:
            compare(want[key], have[key], "%s.%s" % (where, key) if where != "(document)" else key)
    elif isinstance(want, list):
        if not isinstance(have, list):
            raise Differ("%s: want an array, have %s" % (where, json.dumps(have)[:80]))
        if len(want) != len(have):
            raise Differ("%s: want %d elements, have %d" % (where, len(want), len(have)))
        for i, (w, h) in enumerate(zip(want, have)):
            compare(w, h, "%s[%d]" % (where, i))
    else:
        raise Differ("%s: the expected JSON holds a bare %r" % (where, want))


def run_decoder(decoder, document):
    try:
        r = subprocess.run([decoder], input=document, capture_output=True, timeout=10)
    except subprocess.TimeoutExpired:
        return None, b"", b"timed out after 10 s"
    return r.returncode, r.stdout, r.stderr


def check_case(suite, decoder, case):
    """None when the case passes, else why it fails."""
    with open(os.path.join(suite, case + ".toml"), "rb") as f:
        document = f.read()
    status, out, err = run_decoder(decoder, document)
    if status is None:
        return err.decode()
    if status < 0:
        return "killed by signal %d" % -status
    if SANITIZER_REPORT.search(err):
        return "sanitizer report: " + err.decode(errors="replace")[:400]
    if case.startswith("invalid/"):
        return "accepted an invalid document" if status == 0 else None
    if status != 0:
        return "rejected (status %d): %s" % (status, err.decode(errors="replace").strip()[:200])
    with open(os.path.join(suite, case + ".json"), "rb") as f:
        want = json.load(f)
    try:
        compare(want, json.loads(out))
    except ValueError as e:
        return "output is not JSON: %s" % e
    except Differ as e:
        return str(e)
    return None


def list_cases(suite, files, exclude):
    if files:
        with open(files) as f:
            names = [line.strip() for line in f if line.strip().endswith(".toml")]
    else:
        names = []
        for kind in ("valid", "invalid"):
            for root, _, entries in os.walk(os.path.join(suite, kind)):
                names += [os.path.relpath(os.path.join(root, e), suite)
                          for e in entries if e.endswith(".toml")]
    cases = sorted(n[:-len(".toml")] for n in names)
    return [c for c in cases if not any(fnmatch.fnmatch(c, p) for p in exclude)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suite", required=True, help="the directory holding valid/ and invalid/")
    ap.add_argument("--decoder", required=True)
    ap.add_argument("--files", help="the suite's list of cases for one TOML version")
    ap.add_argument("--exclude", action="append", default=[],
                    help="a case to leave out (fnmatch pattern, e.g. valid/string/escape-esc)")
    args = ap.parse_args()
    cases = list_cases(args.suite, args.files, args.exclude)
    if not cases:
        sys.exit("conformance.py: no cases in %s" % args.suite)
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        results = list(pool.map(lambda c: check_case(args.suite, args.decoder, c), cases))
    failed = [(c, why) for c, why in zip(cases, results) if why]
    for case, why in failed:
        print("FAIL %s: %s" % (case, why))
    print("%d passed, %d failed" % (len(cases) - len(failed), len(failed)))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
