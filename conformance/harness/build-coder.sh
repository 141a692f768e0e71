#!/usr/bin/env bash
# Builds the Coder server the end-to-end tests run, once, into a cache
# folder that git ignores:
#
#   .cache/coder/<version>/coder        the binary (enterprise build, which
#                                       includes the server command)
#
# Coder is built from its published Go module, from a small generated module
# that requires it. A dependency's replace directives do not apply to the
# module that requires it, so the generated module repeats the ones of
# Coder's own go.mod, read from the module cache. Several of those replace
# targets are forks the public checksum database does not know, so the
# generated module's go.sum starts as the go.sum Coder publishes in its own
# module (whose hash the checksum database does vouch for), plus the two
# hash lines of Coder itself.
#
# The build follows Coder's scripts/build_go.sh for a "non-slim" binary
# without the embedded web frontend: no "embed" tag (the tests talk to the
# API only), no cgo, the same ts_omit_* tags, -s -w, and the release tag set
# in buildinfo (without its "v", which buildinfo adds) so --version and
# /api/v2/buildinfo report it. The "slim" tag is NOT used: it
# replaces the server command with a stub (cli/server_slim.go).
#
# Running it again when the binary is there and answers --version does
# nothing. The binary is built under a temporary name and renamed at the
# end, so an interrupted build never leaves a broken one behind.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/wrapper-module.sh"

version="v2.36.1" # keep in step with CoderVersion in coder.go
module="github.com/coder/coder/v2"
cmd_pkg="$module/enterprise/cmd/coder"
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
out_dir="$repo/.cache/coder/$version"
bin="$out_dir/coder"

# True when the binary runs, is this version, and has the server command.
answers() {
	local out
	# Coder ends its lines with \r\n.
	out="$("$1" --version 2>/dev/null | tr -d '\r')" &&
		grep -qx "Coder $version" <<<"$out" &&
		grep -q "supports the server subcommand" <<<"$out"
}
ready() {
	[ -x "$bin" ] && answers "$bin"
}

if ready; then
	echo "coder $version: $bin"
	exit 0
fi

# One build at a time: test binaries of several packages may ask at once.
mkdir -p "$out_dir"
if command -v flock >/dev/null; then
	exec 9>"$out_dir.lock"
	flock 9
	if ready; then
		echo "coder $version: $bin"
		exit 0
	fi
fi

work="$(mktemp -d)"
tmp_bin="$out_dir/coder.tmp.$$"
trap 'rm -rf "$work" "$tmp_bin"' EXIT

cd "$work"
cat >go.mod <<EOF
module coder-build

go 1.26
EOF

# Coder's own hashes: from the project's go.sum (which requires the same
# version), else from the checksum database through go mod download.
own_sums() {
	local sums="$repo/go.sum"
	if [ -f "$sums" ] && grep -q "^$module $version h1:" "$sums" &&
		grep -q "^$module $version/go.mod h1:" "$sums"; then
		grep -E "^$module $version(/go.mod)? h1:" "$sums"
		return
	fi
	local json
	json="$(GOFLAGS=-mod=mod go mod download -json "$module@$version")"
	printf '%s %s %s\n' "$module" "$version" \
		"$(printf '%s\n' "$json" | sed -n 's/^[[:space:]]*"Sum": "\(.*\)",\{0,1\}$/\1/p')"
	printf '%s %s/go.mod %s\n' "$module" "$version" \
		"$(printf '%s\n' "$json" | sed -n 's/^[[:space:]]*"GoModSum": "\(.*\)",\{0,1\}$/\1/p')"
}

src="$(module_dir "$work")"
if [ -z "$src" ] || [ ! -f "$src/go.mod" ] || [ ! -f "$src/go.sum" ]; then
	echo "build-coder: could not download $module@$version" >&2
	exit 1
fi

# Repeat the go directive and every replace directive of Coder's go.mod.
n="$(wrap_module "$src/go.mod")"
if [ "$n" -eq 0 ]; then
	echo "build-coder: found no replace directives in $src/go.mod" >&2
	exit 1
fi

{
	cat "$src/go.sum"
	own_sums
} | sort -u >go.sum

echo "building coder $version (10-20 minutes on 2 cores the first time; cached afterwards)"
start=$SECONDS
# Every hash the build needs is in go.sum already, so the checksum database
# is never asked (it does not know Coder's forks).
export GOFLAGS=-mod=mod
go get "$cmd_pkg@$version"
tags="ts_omit_aws,ts_omit_bird,ts_omit_tap,ts_omit_kube"
CGO_ENABLED=0 go build -trimpath -tags "$tags" \
	-ldflags "-s -w -X 'github.com/coder/coder/v2/buildinfo.tag=${version#v}'" \
	-o "$tmp_bin" "$cmd_pkg"
if ! answers "$tmp_bin"; then
	echo "build-coder: the new binary does not report Coder $version with the server command:" >&2
	"$tmp_bin" --version >&2 || true
	exit 1
fi
mv -f "$tmp_bin" "$bin"
echo "coder $version built in $((SECONDS - start))s: $bin"
