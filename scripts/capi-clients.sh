#!/usr/bin/env bash
# The C API's two clients (issue 18) on the token contract:
# - capi/clients/c: built with gcc against libgasket_capi.a, run, then run once under
#   valgrind memcheck (no leaks of any kind, no invalid accesses);
# - capi/clients/go: built with cgo (Debian's golang-go), run (several goroutines on one
#   engine), then built with -asan and run once under AddressSanitizer, with a
#   LeakSanitizer check before exit (leakcheck_asan.go; Go exits without atexit hooks).
# Installs golang-go and valgrind if missing (idempotent). The C client alone also runs in
# `cargo test -p gasket-capi --test c_client`.
#
#   scripts/capi-clients.sh
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-go.sh
if ! command -v valgrind >/dev/null 2>&1; then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y valgrind
fi

target="${CARGO_TARGET_DIR:-$PWD/target}"
out="$target/capi-clients"
mkdir -p "$out"
cargo build -p gasket-capi
lib="$target/debug/libgasket_capi.a"
wasm="$PWD/fixtures/contracts/token.wasm"

echo "== C client"
gcc -std=c11 -Wall -Wextra -Werror -g -Icapi/include capi/clients/c/token_client.c "$lib" \
    -lpthread -ldl -lm -lgcc_s -o "$out/token_client_c"
"$out/token_client_c" "$wasm"
echo "== C client under valgrind"
valgrind --tool=memcheck \
    --leak-check=full \
    --show-leak-kinds=definite,indirect,possible \
    --errors-for-leak-kinds=definite,indirect,possible \
    --smc-check=all-non-file \
    --suppressions=scripts/valgrind.supp \
    --error-exitcode=1 \
    "$out/token_client_c" "$wasm"

echo "== Go client"
export GOTOOLCHAIN=local GOFLAGS="-mod=mod -buildvcs=false"
export GOCACHE="$target/go-cache" GOPATH="$target/go-path"
export CGO_LDFLAGS="-L$target/debug"
(cd capi/clients/go && go vet . && go build -o "$out/token_client_go" . \
    && go build -asan -o "$out/token_client_go_asan" .)
"$out/token_client_go" "$wasm"
echo "== Go client under AddressSanitizer"
ASAN_OPTIONS=detect_leaks=1 "$out/token_client_go_asan" "$wasm"
echo "capi clients: ok"
