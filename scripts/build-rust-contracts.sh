#!/bin/sh
# Rebuilds the Rust example contracts (contracts/src/<name>.rs -> contracts/wasm/<name>.wasm)
# with Debian's rustc 1.63 for wasm32-unknown-unknown (packages rustc,
# libstd-rust-dev-wasm32 and lld, installed with apt-get if missing). The rustup
# toolchain that builds the workspace is never used or changed: Debian's compiler is
# called by absolute path, with its own output directory target/contracts.
#
# Deterministic: the same compiler gives the same bytes (the checked-in .wasm were built
# with Debian's rustc 1.63.0); `--check` rebuilds into target/contracts and fails if any
# file differs from the checked-in one.
#
#   scripts/build-rust-contracts.sh                 rebuild contracts/wasm/*.wasm
#   scripts/build-rust-contracts.sh --check         rebuild and compare (CI)
#   scripts/build-rust-contracts.sh --one SRC OUT   build one contract of your own: SRC is
#                                                   its crate root (src/lib.rs), using only
#                                                   gasket-sdk; OUT the .wasm to write
#
# How: the SDK is compiled once as an rlib, then each contract file as a cdylib that links
# it (plain rustc, no cargo: the SDK has no dependencies). RUSTC_BOOTSTRAP=1 and
# --cfg gasket_legacy_toolchain enable the two features 1.63 lacks (PanicInfo::message,
# an allocation-error handler); see sdk/README.md.
set -eu
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
RUSTC=/usr/bin/rustc
TARGET=wasm32-unknown-unknown
OUT="$ROOT/target/contracts"
CONTRACTS="counter token kv escrow multisig probe"

CHECK=0
ONE_SRC=""
ONE_OUT=""
usage() { echo "usage: $0 [--check | --one SRC OUT]" >&2; exit 2; }
case "${1:-}" in
    --check) [ $# -eq 1 ] || usage; CHECK=1 ;;
    --one) [ $# -eq 3 ] || usage; ONE_SRC="$2"; ONE_OUT="$3" ;;
    "") ;;
    *) usage ;;
esac

# Debian's `rustc-web` package also installs /usr/bin/rustc (1.96) and replaces `rustc`:
# the version is checked, and installing `rustc` puts 1.63 back.
have_toolchain() {
    [ -x "$RUSTC" ] && "$RUSTC" --version | grep -q '^rustc 1\.63\.' &&
        command -v wasm-ld >/dev/null 2>&1 &&
        [ -d "$("$RUSTC" --print sysroot)/lib/rustlib/$TARGET/lib" ]
}
if ! have_toolchain; then
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        rustc libstd-rust-dev-wasm32 lld
fi

mkdir -p "$OUT"
# opt-level 2: gas over bytes (the token's transfer costs 3 794 gas at -O2, 6 436 at -Oz,
# for 13.2 KB instead of 11.6 KB). No debug info or symbols (a contract is kilobytes).
# bulk-memory turns copies into `memory.copy` (about 1 200 gas less per transfer at -Oz
# than the byte loop of 1.63's memcpy; current stable enables it by default). Paths are remapped so the output
# does not depend on where the repository lives.
FLAGS="--edition 2021 --target $TARGET -C opt-level=2 -C panic=abort -C codegen-units=1
  -C debuginfo=0 -C strip=symbols -C target-feature=+bulk-memory
  --remap-path-prefix=$ROOT=/gasket --cfg gasket_legacy_toolchain"
export RUSTC_BOOTSTRAP=1
# shellcheck disable=SC2086
"$RUSTC" $FLAGS --crate-name gasket_sdk --crate-type rlib "$ROOT/sdk/src/lib.rs" \
    -o "$OUT/libgasket_sdk.rlib"

# build_contract NAME SRC OUT
build_contract() {
    # A 64 KiB stack (Rust's default is 1 MiB): contracts keep little on the stack, and
    # every page of initial memory is created for every call. Whole-program LTO with the
    # SDK and core/alloc: a third smaller.
    # shellcheck disable=SC2086
    "$RUSTC" $FLAGS -C lto=fat --crate-name "$1" --crate-type cdylib \
        --extern gasket_sdk="$OUT/libgasket_sdk.rlib" \
        -C link-arg=-zstack-size=65536 "$2" -o "$3"
}

if [ -n "$ONE_SRC" ]; then
    build_contract contract "$ONE_SRC" "$ONE_OUT"
    echo "built    $ONE_OUT ($(wc -c <"$ONE_OUT") bytes)"
    exit 0
fi

status=0
for name in $CONTRACTS; do
    built="$OUT/$name.wasm"
    build_contract "$name" "$ROOT/contracts/src/$name.rs" "$built"
    checked_in="$ROOT/contracts/wasm/$name.wasm"
    if [ "$CHECK" = 1 ]; then
        if cmp -s "$built" "$checked_in"; then
            echo "same     contracts/wasm/$name.wasm"
        else
            echo "DIFFERS  contracts/wasm/$name.wasm (rebuilt: $built)"
            status=1
        fi
    else
        cp "$built" "$checked_in"
        chmod 644 "$checked_in"
        echo "built    contracts/wasm/$name.wasm ($(wc -c <"$checked_in") bytes)"
    fi
done
exit $status
