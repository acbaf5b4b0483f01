"""Hand-written notes of BENCHMARKS.md, keyed by target; `met` / `missed` / `absent` is
chosen by the measured value (scripts/benchmarks_report.py). The analyses below come
from the figures of the tables (phase split rows, per-workload rows); no profile was
taken in this round (callgrind / perf is the next step for each missed target)."""

NOTES = {
    "compile": {
        "missed": "Gasket's end-to-end time is the metering pass (`gasket_metering_pass`, "
        "about a quarter: validation, analysis and re-encoding of the instrumented module) + "
        "code generation (`gasket_codegen`, which parses and validates the instrumented "
        "module a second time) + mapping. Code generation alone is on a par with Wasmer "
        "singlepass without metering; what costs is doing two passes over the module where "
        "Wasmer's middleware runs inside its single pass. What would close it: emit the gas "
        "and stack checks directly from the analysis inside the code generator (one parse, "
        "one validation, no re-encoded module), which removes most of the metering-pass "
        "row; then profile codegen with callgrind for the rest.",
        "met": "",
        "absent": "Wasmer was not built in this run (`PEERS=0`).",
    },
    "exec_wasmer": {
        "missed": "At the limit (close to 1.5×). Gasket's metering costs only a few percent "
        "(see the overhead target), so the gap is the code itself: Gasket unmetered is on a "
        "par with Wasmer singlepass unmetered (geomean ≈ 1.0), both single-pass compilers. "
        "What would close it is better code, not cheaper metering: keeping locals and the "
        "operand stack in registers across blocks (sieve and matmul are where Gasket is "
        "slowest relative to Winch and Wasmer), and folding address computations into memory "
        "operands.",
        "met": "Wasmer's middleware counts every operator with a load/sub/store on a global "
        "per block; Gasket charges precomputed block costs against a register.",
        "absent": "Wasmer was not built in this run.",
    },
    "exec_cranelift": {
        "missed": "Cranelift is an optimizing compiler (register allocation across the "
        "function, instruction selection, GVN/LICM); its lead is largest on the memory and "
        "ALU kernels (matmul, sieve, sha256buf, keccak: 2.1–2.5×) and small on calls and "
        "branches (fib, quicksort, mix64, brtable: 1.0–1.3×). A single-pass compiler cannot "
        "match that in general; what would close it: a register-resident operand stack and "
        "locals (as above) and, beyond that, an "
        "optional optimizing tier for hot contracts (cached artifacts make compile time "
        "matter less).",
        "met": "",
        "absent": "Wasmtime was not built in this run.",
    },
    "overhead": {
        "missed": "Per-block metering costs most on tiny blocks (brtable); merging the "
        "charges of straight-line block sequences would close it.",
        "met": "Gas is charged per basic block with costs computed at instrumentation time; "
        "even the worst case for per-block metering (brtable, a block per dispatch) costs "
        "about 5 %.",
    },
    "instantiate": {
        "missed": "Every instantiation maps a fresh linear memory (with its guard region) "
        "and a fresh native stack with `mmap`, and unmaps both on drop: a handful of "
        "system calls and page faults, which is about all an empty call costs (wasmi, "
        "which allocates with malloc, instantiates in about 1 µs; Wasmtime and Wasmer sit "
        "at 6–8 µs). What would close it: a per-engine pool of memories and stacks reused "
        "across instances (reset with `madvise(MADV_DONTNEED)` on the touched pages only), "
        "like Wasmtime's pooling allocator. To confirm with a profile (perf/callgrind on "
        "the `instantiate_call/gasket` bench) before building the pool.",
        "met": "",
    },
    "cache": {
        "missed": "The in-memory hit hashes the whole input (SHA-256 of the wasm bytes for "
        "the cache key, plus the profile) before the lookup. The hit time is linear in the "
        "module size (a few µs for the token contract, ~1.8 GB/s on the 300 KB module, the "
        "speed of SHA-256 with SHA extensions), so the hash is the cost (to confirm with a "
        "profile). What would close it: let "
        "the embedder pass the code hash it already has (chains store contracts by hash) to "
        "a `load_by_hash` entry point, or key by a faster hash (BLAKE3 is several times "
        "faster than SHA-256 without SHA extensions). The disk path additionally reads, "
        "verifies and maps the artifact.",
        "met": "",
    },
    "peers": "All peers built and ran in this run: wasmi 2.0.0 (workspace pin; fuel off and "
    "on), Wasmtime 48.0.8 (Cranelift and Winch, `consume_fuel` off and on; "
    "`parallel-compilation` off, so compile times are single-threaded like Gasket's) and "
    "Wasmer 7.4.2 singlepass (with and without `wasmer-middlewares` 7.4.2 `Metering`, "
    "cost 1 per operator), the newest releases that declare Rust ≤ 1.95. Peers run the "
    "same binaries in the same process as Gasket; every peer's result of every workload "
    "is asserted equal to Gasket's before it is timed.\n\n"
    "Caveats: wasmi 2 translates function bodies lazily, so its compile rows measure "
    "validation and setup rather than full translation. Wasmer's metering cost function "
    "charges 1 per operator, the simplest (and cheapest) cost function; Gasket's cost "
    "table is richer. The peers' rows for contract calls through the harness are absent: "
    "the host ABI is implemented for Gasket only, so peers are compared on bare "
    "instantiate + empty call.",
}
