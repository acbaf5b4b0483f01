#!/usr/bin/env bash
# Fuzz one target for a while: fuzz/run.sh <target> <seconds> [extra libFuzzer args]
#
# Targets: prepare prepare_smith compile differential artifact host_abi
#
# With a nightly toolchain, runs libFuzzer through cargo-fuzz (installing cargo-fuzz with
# `cargo install --locked` if it is missing) on the package fuzz/cargo-fuzz/ (not part of
# the workspace). The working corpus is fuzz/corpus-live/<target>/, seeded from the
# checked-in regressions (fuzz/corpus/regressions/<target>/); crashes land in
# fuzz/artifacts/<target>/ (copy each, once fixed, into the regressions directory).
#
# Without nightly (or if cargo-fuzz cannot be installed), says so and runs the stable
# driver (fuzz/tests/bounded.rs) on that target for the same time budget instead:
#   GASKET_FUZZ_SECONDS=<seconds> cargo test -p gasket-fuzz --test bounded <target>
# (debug, the build the test suite already made; GASKET_FUZZ_RELEASE=1 builds release for
# long runs). GASKET_FUZZ_SEED picks its campaign (printed at the end).
# GASKET_FUZZ_STABLE=1 forces the fallback.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

targets="prepare prepare_smith compile differential artifact host_abi"
if [ $# -lt 2 ] || ! [[ " $targets " == *" $1 "* ]] || ! [[ "$2" =~ ^[0-9]+$ ]]; then
  echo "usage: fuzz/run.sh <target> <seconds> [libFuzzer args]" >&2
  echo "targets: $targets" >&2
  exit 2
fi
target=$1 seconds=$2
shift 2

stable() {
  echo "fuzz/run.sh: $1; running the stable driver on $target for ${seconds}s instead" >&2
  local release=()
  [ "${GASKET_FUZZ_RELEASE:-0}" = 1 ] && release=(--release)
  GASKET_FUZZ_SECONDS=$seconds exec cargo test "${release[@]}" -p gasket-fuzz --test bounded \
    -- --exact "$target" --nocapture
}

[ "${GASKET_FUZZ_STABLE:-0}" = 1 ] && stable "GASKET_FUZZ_STABLE=1"
if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  stable "no nightly toolchain (rustup toolchain install nightly)"
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz/run.sh: installing cargo-fuzz" >&2
  cargo install --locked cargo-fuzz || stable "cargo-fuzz could not be installed"
fi

live=fuzz/corpus-live/$target
mkdir -p "$live" "fuzz/artifacts/$target"
regressions=fuzz/corpus/regressions/$target
seeds=()
[ -d "$regressions" ] && seeds+=("$regressions")

exec cargo +nightly fuzz run --fuzz-dir fuzz/cargo-fuzz "$target" "$live" "${seeds[@]}" -- \
  -max_total_time="$seconds" -artifact_prefix="fuzz/artifacts/$target/" -timeout=60 \
  -rss_limit_mb=4096 -print_final_stats=1 "$@"
