#!/usr/bin/env bash
# Regenerates CONFORMANCE.md from the WebAssembly spec suite: the metering section
# (metering/tests/spec_suite.rs) and the execution section (vm/tests/spec_exec.rs), then
# prints the totals. Exits non-zero while anything fails; the file is written either way
# and lists the failures.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

status=0
GASKET_BLESS=1 cargo test -p gasket-metering --test spec_suite || status=$?
GASKET_BLESS=1 cargo test -p gasket-vm --test spec_exec || status=$?
if [ "${AARCH64:-0}" = 1 ]; then
    GASKET_BLESS=1 cargo test -p gasket-aarch64-tests --features emu --test spec || status=$?
fi

echo
echo "CONFORMANCE.md totals:"
grep -E '^\| (file|\*\*total)' CONFORMANCE.md
exit "$status"
