# Sourced by build-gitea.sh and build-coder.sh: the parts of building a
# server from its published Go module that both share. The caller sets
# $module and $version.
#
# A dependency's replace directives do not apply to the module that
# requires it, so the builds generate a small module that requires the
# server and repeats the go directive and every replace directive of the
# server's own go.mod.

# module_dir prints the module's folder in the module cache, downloading
# it when needed; $1 is the folder of a module to run go from.
module_dir() {
	(cd "$1" && GOFLAGS=-mod=mod go mod download -json "$module@$version") |
		sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p'
}

# wrap_module makes the go.mod in the current folder require the module
# with the go directive and every replace directive of $1 (the server's
# go.mod), and prints how many replace directives it copied.
wrap_module() {
	local src_mod="$1" go_version rep n=0
	go_version="$(go mod edit -json "$src_mod" | sed -n 's/^[[:space:]]*"Go": "\(.*\)",\{0,1\}$/\1/p')"
	go mod edit -go="$go_version" -require="$module@$version"
	while IFS= read -r rep; do
		[ -n "$rep" ] || continue
		go mod edit -replace="$rep"
		n=$((n + 1))
	done < <(go mod edit -json "$src_mod" | awk '
		# Prints "old[@v]=new[@v]" for each replace.
		/"Replace": \[/ { inrep = 1; next }
		inrep && /^\t\]/ { inrep = 0 }
		!inrep { next }
		/"Old": \{/ { side = "old"; p = ""; v = ""; next }
		/"New": \{/ { side = "new"; p = ""; v = ""; next }
		/"Path":/ { gsub(/.*"Path": "|",?$/, ""); p = $0; next }
		/"Version":/ { gsub(/.*"Version": "|",?$/, ""); v = $0; next }
		/^\t\t\t\}/ {
			s = p; if (v != "") s = s "@" v
			if (side == "old") old = s
			else print old "=" s
		}
	')
	echo "$n"
}
