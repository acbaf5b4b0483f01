#!/usr/bin/env bash
# Instruction counts (callgrind Ir) and data memory references (Dr + Dw, from the cache
# simulation) of the benchmark kernels run by a `gasket` binary: robust on a shared
# machine, where times are not. For each kernel, the counts at the benches' argument
# minus the counts at argument 1 (process start, wat parsing, compile), so what is left
# is the kernel's compiled code (and the gas it charges).
#
#   scripts/callgrind-kernels.sh [path/to/gasket] > counts.txt
#
# Compare two binaries (before/after a codegen change) by running it on each.
set -euo pipefail
gasket=${1:-target/release/gasket}
dir=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ir() {
    valgrind --tool=callgrind --cache-sim=yes --callgrind-out-file="$tmp/out" "$gasket" run \
        "$dir/fixtures/wat/workloads/$1.wat" --invoke run "$2" >/dev/null 2>"$tmp/err" || {
        cat "$tmp/err" >&2
        exit 1
    }
    # Events: Ir Dr Dw I1mr D1mr D1mw ILmr DLmr DLmw: print Ir and Dr + Dw.
    sed -n 's/^summary: //p' "$tmp/out" | awk '{print $1, $2 + $3}'
}
printf '%-12s %10s %14s %14s\n' kernel arg kernel_Ir kernel_Dref
for pair in fib:25 matmul:64 keccak:2000 sha256buf:65536 quicksort:50000 nbody:50000 \
    mandelbrot:200 sieve:1000000 mix64:1000000; do
    name=${pair%%:*}
    arg=${pair#*:}
    read -r full_ir full_d < <(ir "$name" "$arg")
    read -r base_ir base_d < <(ir "$name" 1)
    printf '%-12s %10s %14s %14s\n' "$name" "$arg" $((full_ir - base_ir)) $((full_d - base_d))
done
