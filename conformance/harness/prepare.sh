#!/usr/bin/env bash
# Prepares everything the end-to-end tests of this package need, once:
# git (Gitea runs it for every repository operation), a C compiler (Gitea's
# SQLite driver uses cgo) and the Gitea binary itself (build-gitea.sh).
# Safe to run again: each step does nothing when its result is there.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

missing=()
command -v git >/dev/null || missing+=(git)
command -v gcc >/dev/null || missing+=(gcc libc6-dev)
if [ "${#missing[@]}" -gt 0 ]; then
	if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
		echo "installing ${missing[*]}"
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
	else
		echo "prepare: please install ${missing[*]}" >&2
		exit 1
	fi
fi

bash "$here/build-gitea.sh"
