#!/bin/sh
# Rebuilds the C example contracts (fixtures/contracts/*.c -> *.wasm) with Debian's clang
# and lld. Installs them with apt-get if missing. Deterministic: the same compiler gives
# the same bytes (the checked-in .wasm were built with Debian clang 14.0.6), and
# `--check` fails if a rebuild differs from the checked-in file.
set -eu
cd "$(dirname "$0")/../fixtures/contracts"

if ! command -v clang >/dev/null 2>&1 || ! command -v wasm-ld >/dev/null 2>&1; then
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update
    $SUDO apt-get install -y --no-install-recommends clang lld
fi

CHECK=0
[ "${1:-}" = "--check" ] && CHECK=1

# No libc, no floats, no bulk-memory or other post-MVP features the profile might reject;
# strip names and the producers section so only code and data end up in the file.
CFLAGS="--target=wasm32 -O2 -nostdlib -ffreestanding -fno-builtin -mcpu=mvp -Wall -Werror"
LDFLAGS="-Wl,--no-entry -Wl,--strip-all -Wl,--initial-memory=131072 -Wl,--max-memory=1048576 -Wl,-z,stack-size=65536"
status=0
for src in *.c; do
    out="${src%.c}.wasm"
    tmp="$(mktemp)"
    # shellcheck disable=SC2086
    clang $CFLAGS $LDFLAGS -o "$tmp" "$src"
    if [ "$CHECK" = 1 ]; then
        if cmp -s "$tmp" "$out"; then echo "same     $out"; else echo "DIFFERS  $out"; status=1; fi
        rm -f "$tmp"
    else
        mv "$tmp" "$out"
        chmod 644 "$out"
        echo "built    $out ($(wc -c <"$out") bytes)"
    fi
done
exit $status
