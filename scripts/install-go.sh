#!/usr/bin/env bash
# Installs Debian's Go toolchain (golang-go) for the cgo client of the C API
# (capi/clients/go, run by scripts/capi-clients.sh). Idempotent: does nothing when `go` is
# present.
set -euo pipefail

if command -v go >/dev/null 2>&1; then
    echo "go: already installed ($(go version))"
    exit 0
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends golang-go
echo "go: installed ($(go version))"
