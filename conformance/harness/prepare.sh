#!/usr/bin/env bash
# Prepares everything the end-to-end tests of this package need, once:
# git (Gitea runs it for every repository operation), a C compiler (Gitea's
# SQLite driver uses cgo), PostgreSQL's server programs (Coder's database;
# the tests run their own throwaway cluster, the packaged one is not used),
# and the Gitea and Coder binaries themselves (build-gitea.sh,
# build-coder.sh).
# Safe to run again: each step does nothing when its result is there.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

have_initdb() {
	compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || command -v initdb >/dev/null
}

missing=()
command -v git >/dev/null || missing+=(git)
command -v gcc >/dev/null || missing+=(gcc libc6-dev)
have_initdb || missing+=(postgresql)
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
bash "$here/build-coder.sh"
