#!/usr/bin/env bash
# Runs Gasket's benchmarks against its peers and regenerates BENCHMARKS.md from
# criterion's JSON estimates (<target>/criterion/**/new/estimates.json, medians).
#
#   scripts/benchmarks.sh              # everything: peers, native C, peak memory, report
#   PEERS=0 scripts/benchmarks.sh      # Gasket and wasmi only (no Wasmtime/Wasmer build)
#   scripts/benchmarks.sh --report     # only regenerate BENCHMARKS.md from existing data
#   BENCH_ARGS="--warm-up-time 1 --measurement-time 2" scripts/benchmarks.sh   # quicker
#
# Environment: CARGO_TARGET_DIR (default ./target), PEERS (1), NATIVE (1: gcc -O2 kernels),
# BENCH_ARGS (criterion options, default "--warm-up-time 1 --measurement-time 3").
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
PEERS=${PEERS:-1}
NATIVE=${NATIVE:-1}
BENCH_ARGS=${BENCH_ARGS:---warm-up-time 1 --measurement-time 3}
OUT=$TARGET/benchmarks
FEATURES=()
[ "$PEERS" = 1 ] && FEATURES=(--features peers)
mkdir -p "$OUT"

if [ "${1:-}" != "--report" ]; then
    rm -rf "$TARGET/criterion" "$OUT"/*
    mkdir -p "$OUT"
    for bench in runtime contract cache prepare; do
        # shellcheck disable=SC2086
        nice cargo bench -p gasket-benches "${FEATURES[@]}" --bench "$bench" -- $BENCH_ARGS \
            2>&1 | tee "$OUT/$bench.log"
    done
    engines="gasket wasmi"
    [ "$PEERS" = 1 ] && engines="$engines wasmtime_cranelift wasmtime_winch wasmer_singlepass wasmer_singlepass_metering"
    nice cargo build --release -p gasket-benches "${FEATURES[@]}" --bin peak_memory
    : > "$OUT/peak_memory.jsonl"
    for e in $engines; do
        "$TARGET/release/peak_memory" "$e" >> "$OUT/peak_memory.jsonl" || echo "{\"engine\": \"$e\", \"error\": true}" >> "$OUT/peak_memory.jsonl"
    done
    if [ "$NATIVE" = 1 ] && command -v gcc >/dev/null; then
        gcc -O2 -ffp-contract=off -o "$OUT/native" benches/native/kernels.c -lm && "$OUT/native" > "$OUT/native.jsonl" || true
    fi
fi

[ "${1:-}" != "--report" ] || [ ! -f "$OUT/machine.txt" ] && {
    echo "date=$(date -u +%Y-%m-%dT%H:%MZ)"
    echo "cpu=$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1)"
    echo "cores=$(nproc)"
    echo "kernel=$(uname -sr)"
    echo "rustc=$(rustc --version)"
    echo "gcc=$(gcc --version 2>/dev/null | head -1)"
    echo "commit=$(git rev-parse --short HEAD)"
    echo "peers=$PEERS"
    echo "bench_args=$BENCH_ARGS"
} > "$OUT/machine.txt"

python3 scripts/benchmarks_report.py "$TARGET/criterion" "$OUT" > BENCHMARKS.md
echo "wrote BENCHMARKS.md"
