# Sourced by the scripts that build test assets (test-kernel.sh,
# test-image.sh, test-rootfs.sh): their messages, Debian packages installed
# when missing, and one builder at a time per cache entry.
# shellcheck shell=bash

lib_prog=${0##*/}

# Progress and errors go to stderr, named after the script: stdout is for
# the path the script prints.
msg() { echo "$lib_prog: $*" >&2; }
die() {
	msg "error: $*"
	exit 1
}

is_installed() {
	[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" = installed ]
}

# apt-get for the packages named that are missing, through sudo when not root.
install_missing() {
	local p missing=() sudo=
	for p in "$@"; do
		is_installed "$p" || missing+=("$p")
	done
	[ ${#missing[@]} -gt 0 ] || return 0
	if [ "$(id -u)" != 0 ]; then
		command -v sudo >/dev/null || die "not root and no sudo to install: ${missing[*]}"
		sudo=sudo
	fi
	msg "installing with apt-get: ${missing[*]}"
	$sudo apt-get update -q >&2
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q \
		--no-install-recommends "${missing[@]}" >&2
}

# Hold LOCKFILE (fd 9) for the rest of the script; WHAT says who is waited for.
lock_or_wait() {
	command -v flock >/dev/null || die "flock (util-linux) is missing"
	exec 9>"$1"
	if ! flock -n 9; then
		msg "waiting for $2 (lock $1)"
		flock 9
	fi
}
