#!/usr/bin/env bash
# CI's fuzz campaign: a fixed amount of work from fixed seeds, so a commit is green or red
# on every machine whatever its speed. Every target body of gasket-fuzz runs
# GASKET_FUZZ_SCALE times its default iteration count from the driver's default seed, the
# regression corpus is replayed, and the three-way differential (x86-64 native, AArch64
# emulated, wasmi) runs a fixed number of iterations from its default seed. Test-profile
# builds (opt-level 1, debug assertions on), the ones `scripts/test.sh` made (same scope,
# so nothing is recompiled).
# Environment variables that would change the campaign (seed, time budget, iteration
# count) are ignored here; for a longer campaign with a fresh seed and a time budget use
# scripts/fuzz-campaign.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/test-scope.sh
unset GASKET_FUZZ_SEED GASKET_FUZZ_SECONDS GASKET_FUZZ_ITERATIONS

scale=4 three_way=1200
echo "fuzz-ci: default seeds, GASKET_FUZZ_SCALE=$scale, three-way iterations $three_way"
scripts/install-aarch64-test-deps.sh
GASKET_FUZZ_SCALE=$scale cargo test "${TEST_SCOPE[@]}" --test bounded --test regressions \
  -- --nocapture
GASKET_FUZZ_ITERATIONS=$three_way cargo test "${TEST_SCOPE[@]}" --test fuzz_three_way \
  -- --nocapture
