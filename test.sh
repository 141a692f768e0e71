#!/usr/bin/env bash
# The project's test command (README.md; .ci/run runs exactly this).
# It builds what the end-to-end tests need once (a real Gitea, cached in
# .cache/), then runs every test.
set -euo pipefail
cd "$(dirname "$0")"
if [ -x conformance/harness/prepare.sh ] || [ -f conformance/harness/prepare.sh ]; then
	bash conformance/harness/prepare.sh
fi
go vet ./...
go test -count=1 -timeout 60m ./...
