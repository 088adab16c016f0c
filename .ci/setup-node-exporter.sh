#!/usr/bin/env bash
# Installs Debian's prometheus-node-exporter for the `tollgate check` tests, which scrape a real
# exporter. Idempotent; runs as root without stdin. The package's service is never started here:
# the tests start the binary themselves on a loopback port.
set -euo pipefail
if command -v prometheus-node-exporter >/dev/null 2>&1; then
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends prometheus-node-exporter
