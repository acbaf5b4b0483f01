#!/usr/bin/env bash
# Valgrind memcheck on a short run of the runtime: `vm/examples/pool_calls.rs` (compile,
# calls with every outcome through the instance pool, a disk-cache round trip).
# Fails on any memcheck error or leak (definite, indirect or possible).
#
#   scripts/valgrind.sh [calls]        (default 200; installs Debian's valgrind if absent)
#
# Generated code runs from anonymous executable mappings Valgrind translates like any
# other code (--smc-check=all-non-file re-checks them for changes); Gasket traps without
# signals. scripts/valgrind.supp holds two suppressions, both for effects of switching
# stacks (generated code to the instance's native stack, host functions back to the host
# thread's: documented there). Measured 2026-12-05: 100 calls, 0 errors, 0 bytes lost
# (definitely, indirectly or possibly).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v valgrind >/dev/null 2>&1; then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y valgrind
fi

cargo build -p gasket-vm --example pool_calls
valgrind --tool=memcheck \
    --leak-check=full \
    --show-leak-kinds=definite,indirect,possible \
    --errors-for-leak-kinds=definite,indirect,possible \
    --smc-check=all-non-file \
    --suppressions=scripts/valgrind.supp \
    --error-exitcode=1 \
    target/debug/examples/pool_calls "${1:-200}"
