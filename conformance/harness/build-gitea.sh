#!/usr/bin/env bash
# Builds the Gitea server the end-to-end tests run, once, into a cache
# folder that git ignores:
#
#   .cache/gitea/<version>/gitea        the binary
#   .cache/gitea/<version>/static_root  the folder Gitea reads its templates,
#                                       locales and public files from
#                                       (STATIC_ROOT_PATH)
#
# Gitea is built from its published Go module, with SQLite, from a small
# generated module that requires it. A dependency's replace directives do
# not apply to the module that requires it, so the generated module repeats
# the ones of Gitea's own go.mod, read from the module cache.
#
# Running it again when the binary is there and answers --version does
# nothing. The binary is built under a temporary name and renamed at the
# end, so an interrupted build never leaves a broken one behind.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/wrapper-module.sh"

version="v1.26.0" # keep in step with GiteaVersion in binary.go
module="code.gitea.io/gitea"
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
out_dir="$repo/.cache/gitea/$version"
bin="$out_dir/gitea"

# True when the binary runs and its static root is there.
ready() {
	[ -x "$bin" ] && "$bin" --version >/dev/null 2>&1 && [ -s "$out_dir/static_root" ] &&
		[ -d "$(cat "$out_dir/static_root")/templates" ]
}

if ready; then
	echo "gitea $version: $bin"
	exit 0
fi

# One build at a time: test binaries of several packages may ask at once.
mkdir -p "$out_dir"
if command -v flock >/dev/null; then
	exec 9>"$out_dir.lock"
	flock 9
	if ready; then
		echo "gitea $version: $bin"
		exit 0
	fi
fi

work="$(mktemp -d)"
tmp_bin="$out_dir/gitea.tmp.$$"
tmp_root="$out_dir/static_root.tmp.$$"
trap 'rm -rf "$work" "$tmp_bin" "$tmp_root"' EXIT

cd "$work"
cat >go.mod <<EOF
module gitea-build

go 1.26
EOF

src="$(module_dir "$work")"
if [ -z "$src" ] || [ ! -f "$src/go.mod" ]; then
	echo "build-gitea: could not download $module@$version" >&2
	exit 1
fi

# Repeat the go directive and every replace directive of Gitea's go.mod.
wrap_module "$src/go.mod" >/dev/null

echo "building gitea $version (several minutes on 2 cores the first time; cached afterwards)"
start=$SECONDS
GOFLAGS=-mod=mod go get "$module@$version"
tags="sqlite sqlite_unlock_notify"
GOFLAGS=-mod=mod CGO_ENABLED="${CGO_ENABLED:-1}" go build -trimpath -tags "$tags" \
	-ldflags "-s -w -X 'main.Version=${version#v}' -X 'main.Tags=$tags'" \
	-o "$tmp_bin" "$module"
"$tmp_bin" --version >/dev/null
printf '%s\n' "$src" >"$tmp_root"
mv -f "$tmp_root" "$out_dir/static_root"
mv -f "$tmp_bin" "$bin"
echo "gitea $version built in $((SECONDS - start))s: $bin"
echo "gitea static root: $src"
