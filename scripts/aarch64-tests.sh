#!/usr/bin/env bash
# The AArch64 backend's tests under emulation (crate `aarch64-tests/`, Unicorn, feature
# `emu`): installs the build dependencies if missing (idempotent), then runs every test of
# the crate: the MacroAssembler and whole-module tests, the spec suite on AArch64
# (CONFORMANCE.md section `execution-aarch64`) and the cross-target determinism runs
# against x86-64. Extra arguments go to `cargo test` (e.g. `-- --nocapture`).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/install-aarch64-test-deps.sh
cargo test -p gasket-aarch64-tests --features emu "$@"
