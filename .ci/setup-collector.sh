#!/usr/bin/env bash
# Builds the OpenTelemetry Collector the interop tests (test/interop/) and the vs-collector bench
# run, with ocb from the Go module proxy, into ~/.cache/tollgate/otelcol/<version>/ — here, before
# the tests, because a cold build takes minutes. Idempotent: a binary built from the same
# manifest is reused. Needs Go 1.25+ (Debian's golang-go is too old, so it is not apt-installed):
# a missing Go fails CI here, clearly.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v go >/dev/null 2>&1 && [[ -x /usr/local/go/bin/go ]]; then
  export PATH="/usr/local/go/bin:$PATH"
fi
if ! command -v go >/dev/null 2>&1; then
  echo "setup-collector: Go 1.25+ is required to build the OpenTelemetry Collector for the interop tests (go not found)" >&2
  exit 1
fi
go version
started=$(date +%s)
binary=$(bash test/interop/build-collector.sh)
"$binary" --version
echo "setup-collector: $binary ready in $(( $(date +%s) - started ))s"
