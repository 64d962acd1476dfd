#!/bin/bash
# Run the public toml-test suite against a toml-decode binary, with the
# project's own runner (tests/toml/conformance.py).
#
#   scripts/toml-conformance.sh DECODER [SUITE]
#
# The suite, in order of preference:
#   1. SUITE, a checkout of github.com/toml-lang/toml-test's tests (with its
#      files-toml-1.0.0 list), when the directory exists (make passes
#      ../shared/toml-test);
#   2. the older copy Debian ships inside golang-github-burntsushi-toml-dev
#      (installed by make deps-test), minus the one TOML 1.1 case it holds;
#   3. none: a line says conformance was not run and why, and the status is
#      0, because the project's own TOML tests (tests/unit/test_toml.c, the
#      fuzz corpus) still run; it is not a failure of the parser.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
decoder=$1
suite=${2:-}
debian=/usr/share/gocode/src/github.com/BurntSushi/toml/internal/toml-test/tests
runner=("${PYTHON:-python3}" "$here/../tests/toml/conformance.py" --decoder "$decoder")

if [ -n "$suite" ] && [ -f "$suite/files-toml-1.0.0" ]; then
	echo "toml-conformance: toml-test's TOML 1.0.0 cases in $suite"
	exec "${runner[@]}" --suite "$suite" --files "$suite/files-toml-1.0.0"
elif [ -d "$debian/valid" ]; then
	echo "toml-conformance: toml-test as Debian's golang-github-burntsushi-toml-dev ships it" \
		"($debian)"
	# escape-esc is "\e", which TOML 1.1 adds.
	exec "${runner[@]}" --suite "$debian" --exclude valid/string/escape-esc
else
	echo "toml-conformance: not run: no toml-test suite here (neither ${suite:-a SUITE}" \
		"nor Debian's golang-github-burntsushi-toml-dev); the project's own TOML tests still ran"
fi
