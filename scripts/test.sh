#!/usr/bin/env bash
# The whole test suite: every crate's tests, the AArch64 backend's under the Unicorn
# emulator included, in one `cargo test` over one build (scripts/test-scope.sh). Installs
# the emulator's build dependencies (cmake, libclang) first if they are missing. This is
# the README's test command and what .ci/run runs after the formatting and lint checks.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/test-scope.sh

scripts/install-aarch64-test-deps.sh
cargo test "${TEST_SCOPE[@]}"
