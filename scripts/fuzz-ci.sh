#!/usr/bin/env bash
# CI's bounded fuzz campaign on stable Rust (no nightly, no libFuzzer): every target body
# of gasket-fuzz for a time budget each (GASKET_FUZZ_SECONDS, default 40 s per target; the
# tests run two at a time, so about 2 minutes), then the three-way differential
# (x86-64 native, AArch64 emulated, wasmi) for GASKET_FUZZ_A64_SECONDS (default 60 s).
# Debug builds, the ones `scripts/test.sh` already made, so nothing new is compiled.
# Seeds and iteration counts are printed; replay with the printed command.
# GASKET_FUZZ_SEED=<u64> chooses another campaign; the default is the driver's fixed seed,
# so CI is reproducible (and a red CI is the submission's doing): explore new inputs with
# e.g. GASKET_FUZZ_SEED=$(date +%s) scripts/fuzz-ci.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

export GASKET_FUZZ_SECONDS=${GASKET_FUZZ_SECONDS:-40}
echo "fuzz-ci: GASKET_FUZZ_SEED=${GASKET_FUZZ_SEED:-default} GASKET_FUZZ_SECONDS=$GASKET_FUZZ_SECONDS"
cargo test -p gasket-fuzz --test bounded --test regressions -- --nocapture

scripts/install-aarch64-test-deps.sh
GASKET_FUZZ_SECONDS=${GASKET_FUZZ_A64_SECONDS:-60} \
  cargo test -p gasket-aarch64-tests --features emu --test fuzz_three_way -- --nocapture
