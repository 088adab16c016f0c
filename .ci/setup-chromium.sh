#!/usr/bin/env bash
# Installs Debian's chromium for the dashboard's browser test (test/api/dashboard.test.ts),
# which drives it with playwright-core; playwright never downloads a browser of its own.
# Idempotent: does nothing when /usr/bin/chromium is already there. Runs as root, no stdin.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
  /usr/bin/chromium --version || true
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends chromium fonts-dejavu-core
/usr/bin/chromium --version
