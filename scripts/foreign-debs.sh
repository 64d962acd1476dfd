#!/bin/bash
# Download Debian packages of another architecture and print their paths,
# one a line, without changing the host's apt set-up: a private apt state
# (sources, lists, cache) under ${XDG_CACHE_HOME:-~/.cache}/vmtest-foreign/.
#
#   scripts/foreign-debs.sh ARCH PACKAGE...     e.g. arm64 linux-image-arm64
#   scripts/foreign-debs.sh --source PACKAGE     Debian's source, unpacked
#
# A virtual or meta package (linux-image-arm64) is followed to the package
# it depends on first (linux-image-6.1.0-NN-arm64), which is what holds the
# files; that one is downloaded too.  Nothing is installed.
set -euo pipefail

[ $# -ge 2 ] || {
	echo "usage: $0 ARCH PACKAGE... | --source PACKAGE" >&2
	exit 2
}
arch=$1
shift
[ "$arch" != --source ] || arch=src
base=${XDG_CACHE_HOME:-$HOME/.cache}/vmtest-foreign/apt-$arch
mkdir -p "$base/lists/partial" "$base/archives/partial" "$base/debs"
# The host's own mirror and suite, for the other architecture.
uri=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n 1)
uri=${uri:-http://deb.debian.org/debian}
if [ "$arch" = src ]; then
	echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $uri bookworm main"
else
	echo "deb [arch=$arch signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $uri bookworm main"
fi >"$base/sources.list"
touch "$base/status"
opts=(-o "Dir::Etc::SourceList=$base/sources.list" -o "Dir::Etc::SourceParts=/nonexistent"
	-o "Dir::State::Lists=$base/lists" -o "Dir::Cache=$base" -o "Dir::State::status=$base/status"
	-o "APT::Architecture=$arch" -o "APT::Architectures::=$arch" -o "Debug::NoLocking=1"
	-o "APT::Sandbox::User=root" -q)

# Lists at most a day old.
if [ -z "$(find "$base/lists" -maxdepth 1 -name '*Packages*' -mtime -1 2>/dev/null)" ]; then
	apt-get "${opts[@]}" update >&2
fi

if [ "$arch" = src ]; then
	# The unpacked source tree of each, with Debian's patches applied.
	mkdir -p "$base/src"
	for p in "$@"; do
		dir=$(find "$base/src" -mindepth 1 -maxdepth 1 -type d -name "$p-*" | head -n 1)
		if [ -z "$dir" ]; then
			(cd "$base/src" && apt-get "${opts[@]}" source "$p" >&2)
			dir=$(find "$base/src" -mindepth 1 -maxdepth 1 -type d -name "$p-*" | head -n 1)
		fi
		[ -n "$dir" ] || {
			echo "foreign-debs.sh: no source for $p" >&2
			exit 1
		}
		echo "$dir"
	done
	exit 0
fi

for p in "$@"; do
	# A meta package: its first dependency of the same family holds the files.
	dep=$(apt-cache "${opts[@]}" depends "$p" 2>/dev/null |
		sed -n "s/^ *Depends: \(${p%-*}-[0-9][^ ]*\)$/\1/p" | head -n 1)
	for q in $p $dep; do
		ver=$(apt-cache "${opts[@]}" policy "$q" | sed -n 's/^ *Candidate: //p')
		[ -n "$ver" ] && [ "$ver" != "(none)" ] || {
			echo "foreign-debs.sh: no package $q for $arch" >&2
			exit 1
		}
		file=$(ls "$base/debs/${q}_"*"_$arch.deb" 2>/dev/null | head -n 1 || true)
		if [ -z "$file" ]; then
			(cd "$base/debs" && apt-get "${opts[@]}" download "$q:$arch" >&2)
			file=$(ls "$base/debs/${q}_"*"_$arch.deb" | head -n 1)
		fi
		echo "$file"
	done
done
