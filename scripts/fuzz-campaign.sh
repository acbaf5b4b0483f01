#!/usr/bin/env bash
# A longer fuzz campaign than CI's, from a fresh seed, for a time budget:
#   scripts/fuzz-campaign.sh [SECONDS_PER_TARGET] [SEED]
# Runs every stable-driver target (two at a time) for SECONDS_PER_TARGET (default 300),
# then the three-way differential (x86-64, AArch64 emulated, wasmi) for twice that, in
# release builds (GASKET_FUZZ_DEBUG=1: the debug build the test suite made, no new build). The seed defaults to the clock and is printed, with per-target iteration
# counts, so any finding can be replayed with GASKET_FUZZ_SEED and GASKET_FUZZ_ITERATIONS
# (the commands are printed too). Failing inputs land in fuzz/artifacts/<target>/; once
# fixed, copy them to fuzz/corpus/regressions/<target>/.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/test-scope.sh

seconds=${1:-300}
seed=${2:-$(date +%s)}
export GASKET_FUZZ_SEED=$seed
unset GASKET_FUZZ_ITERATIONS GASKET_FUZZ_SCALE
echo "fuzz-campaign: GASKET_FUZZ_SEED=$seed, $seconds s per target"
scripts/install-aarch64-test-deps.sh
build=(--release)
[ "${GASKET_FUZZ_DEBUG:-0}" = 1 ] && build=()
GASKET_FUZZ_SECONDS=$seconds cargo test "${build[@]}" "${TEST_SCOPE[@]}" --test bounded \
  -- --nocapture --test-threads 2
GASKET_FUZZ_SECONDS=$((seconds * 2)) cargo test "${build[@]}" "${TEST_SCOPE[@]}" \
  --test fuzz_three_way differential_three_way_over_seeded_inputs -- --nocapture
