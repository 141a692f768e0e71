#!/usr/bin/env bash
# The project's test command (README.md; .ci/run runs exactly this).
# It prepares, once, what the end-to-end tests need (git, a C compiler,
# PostgreSQL's server programs, and real Gitea and Coder servers built
# into .cache/), then runs go vet and every test. The tests start and
# stop the servers themselves.
set -euo pipefail
cd "$(dirname "$0")"
bash conformance/harness/prepare.sh
go vet ./...
go test -count=1 -timeout 60m ./...
