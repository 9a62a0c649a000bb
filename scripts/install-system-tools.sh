#!/usr/bin/env bash
# Installs the system programs the service's load benchmark and browser checks use,
# from Debian's own packages: wrk (a compiled HTTP load generator), chromium and
# chromedriver. Python packages come from `make install` (the dev extra); these do not.
# Run as root, or with sudo: sudo bash scripts/install-system-tools.sh
set -euo pipefail

PACKAGES=(wrk chromium chromium-driver)
missing=()
for tool in wrk chromium chromedriver; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ "${#missing[@]}" -eq 0 ]; then
    echo "wrk, chromium and chromedriver are installed"
    exit 0
fi
echo "installing ${PACKAGES[*]} (missing: ${missing[*]})"
apt-get update
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${PACKAGES[@]}"
