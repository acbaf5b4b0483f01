#!/usr/bin/env bash
# The whole test suite: every crate's tests (`cargo test --workspace`), then the AArch64
# backend under emulation (scripts/aarch64-tests.sh installs its build dependencies,
# cmake and libclang, if they are missing). This is the README's test command and what
# .ci/run runs after the formatting and lint checks.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

cargo test --workspace
scripts/aarch64-tests.sh
