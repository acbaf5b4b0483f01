"""Hand-written notes of BENCHMARKS.md, keyed by target; `met` / `missed` / `absent` is
chosen by the measured value (scripts/benchmarks_report.py). The analyses below come
from the figures of the tables (phase split rows, per-workload rows) and, for the
issue-15 rows, from perf profiles of the benches."""

# Later interleaved measurements (issue 16), named by the notes of its timing targets.
LATER = (
    "A steadier measure on a shared machine than these medians: `kernel_run time` "
    "(benches/README.md: interleaved calls, the fastest per engine); ARCHITECTURE.md "
    "\"Address cache and integer loads folded into ALU operators\" has its figures for "
    "a later build (integer geomean 1.26, keccak 1.59, matmul 1.53, sha256buf 1.52, "
    "nbody 1.58; metering overhead 0-5 % in the medians of five processes, brtable and "
    "matmul +10-11 % in a shorter run of three)."
)

NOTES = {
    "compile": {
        "missed": "Gasket's end-to-end time is the metering pass (`gasket_metering_pass`: "
        "validation, analysis and re-encoding, about a third) + code generation of the "
        "instrumented module (`gasket_codegen`, which trusts the metering pass's validation, "
        "see ARCHITECTURE.md \"Validation once per compile\") + mapping. Issue 17's profile "
        "(callgrind, generated 2 MB module, 2026-12-06): 1.00 G instructions before, 0.86 G "
        "after the fused validate-and-plan visitor in metering and codegen's own operator "
        "reader; what remains is wasmparser's decoding (about a third: both passes decode "
        "every operator) and validation (about a tenth), then codegen's per-operator work. "
        "What would close the rest: decode each operator once (code generation driven from "
        "the metering walk, charges emitted directly instead of a re-encoded module), and "
        "parallel function compilation.",
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
        "met": "Instances take their linear memory and native stack from the engine's pool "
        "(`vm/src/pool.rs`): no `mmap`/`munmap` per instance, so no TLB shootdowns.",
    },
    "cache": {
        "missed": "By design: a caller that has only the bytes pays their SHA-256 (about "
        "1.8 GB/s here). A node that stores code by hash uses `Engine::load_by_hash`, which "
        "does not hash on a hit (the `by_hash` row).",
        "met": "",
    },
    "instantiate_1us": {
        "missed": "A profile of the bench (perf, `instantiate_call/gasket/noop`) puts about "
        "80 % of the time in returning the instance's resources to the pool scrubbed, and "
        "about 18 % in instantiating and calling. The scrub is zeroing the one-page memory "
        "(`memset` of 64 KiB, about 0.7 µs on this machine, at L2 bandwidth; wasmi pays the "
        "same to allocate a zeroed memory) and finding the native stack's touched pages "
        "(`mincore`, about 0.35-0.6 µs). Reading the memory to write only dirty pages measured no faster "
        "than `memset`. What would close it: tracking the deepest native stack pointer in "
        "generated code (a compare per function entry, paid by every call) or kernel dirty "
        "tracking (userfaultfd write-protect, whose re-arming needs TLB shootdowns that "
        "would cost the 2-thread scaling); neither was built.",
        "met": "",
    },
    "token": {"met": "Pooled instances and per-module lookups done once."},
    "by_hash": {"met": "A read lock and a map lookup: no hashing of the wasm on a hit."},
    "disk": {
        "met": "The cache file is mapped once and checksummed once (XXH3-128); its code "
        "lies page-aligned at the end and is mapped read+execute straight from the file "
        "(no allocation, zeroing or copy; pages fault in on first use).",
        "missed": "Profile the `cache/disk_load` bench: decode and checksum are the rest.",
    },
    "threads": {
        "met": "Pooled memories and stacks: no `munmap` per instance, so no TLB-shootdown "
        "interrupts between the threads.",
        "missed": "Two threads need two idle cores: check the load of the machine during the run.",
    },
    "int_geo": {
        "met": "Issue 16's register allocation, carried register state, shared bounds "
        "checks, store runs and counted-loop charges (ARCHITECTURE.md, \"The compiled-code "
        "ABI\" and \"What instrumentation produces\"). The margin is small and these machines' "
        "timing moves ±10 % between runs: callgrind instruction counts "
        "(`scripts/callgrind-kernels.sh`) are the stable measure of a change.",
        "missed": "See the per-kernel rows (the margin has been within these machines' ±10 % "
        "between runs), and ARCHITECTURE.md's issue-16 paragraphs for what is built and "
        "what is left. " + LATER,
    },
    "int_max": {
        "met": "Met by these medians; a later build's worst kernel, "
        "keccak, measured 1.59. " + LATER,
        "missed": "The worst kernel is named in the measured column; ARCHITECTURE.md's "
        "issue-16 paragraphs list, per kernel, what its inner loop still pays (bounds "
        "checks, locals in frame slots, the counted-loop shapes not yet built). " + LATER,
    },
    "float_max": {
        "met": "Float locals and temporaries in XMM registers, float loads and stores "
        "straight to them, fused float compare-and-branch, and (nbody) store runs.",
        "missed": "See the float kernels' rows and ARCHITECTURE.md's issue-16 paragraphs.",
    },
    "overhead_5": {
        "met": "",
        "missed": "Measured per kernel, the worst one named. Loops whose per-iteration charge "
        "is not yet folded into a counted-loop charge pay `sub; jb` per iteration "
        "(ARCHITECTURE.md, \"Counted-loop charge\": the built and not built shapes); "
        "on small kernels a few percent is also within these machines' noise. " + LATER,
    },
    "compile_40_generated": {
        "met": "",
        "missed": "An absolute rate, so it depends on the machine's speed at the time, "
        "which has varied about 2× between sessions here: `compile_loop all 20` of the "
        "same module measured 0.93–0.98 s idle on 2026-12-06 (≈ 43 MB/s) and 1.69–1.95 s "
        "on 2026-12-07 (≈ 21–24 MB/s; one other process on the second core, and this "
        "run's 92 ms a compile agrees), while callgrind counted 622 M instructions a compile then (03bb1a8) and 641 M now. "
        "The peers' "
        "rows of the same run are the comparison that holds; ARCHITECTURE.md \"Compile "
        "throughput and memory (issue 17)\" has the callgrind figures round by round and "
        "the remaining levers.",
    },
    "compile_40_contracts": {
        "met": "",
        "missed": "The contracts compile slower per byte than the generated module (larger "
        "functions, more memory accesses: the store-run and load-window scans). "
        "ARCHITECTURE.md \"Compile throughput and memory (issue 17)\" has the profile and "
        "the remaining levers (one decode per operator instead of two is the largest).",
    },
    "metering_100": {
        "met": "What is left of the pass is mostly wasmparser's decoding and validation.",
        "missed": "An absolute rate, like the compile rows (see the note on the generated "
        "module's compile); ARCHITECTURE.md, issue 17's metering rounds.",
    },
    "peers": "All peers built and ran in this run: wasmi 2.0.0 (workspace pin; fuel off and "
    "on), Wasmtime 48.0.8 (Cranelift and Winch, `consume_fuel` off and on; "
    "`parallel-compilation` off, so compile times are single-threaded like Gasket's) and "
    "Wasmer 7.4.2 singlepass (with and without `wasmer-middlewares` 7.4.2 `Metering`, "
    "cost 1 per operator), the newest releases that declare Rust ≤ 1.95. Peers run the "
    "same binaries in the same process as Gasket; every peer's result of every workload "
    "is asserted equal to Gasket's before it is timed.\n\n"
    "`wasmtime_cranelift_pooling` (instantiation rows only) is Wasmtime with its pooling "
    "instance allocator, its fastest way to instantiate.\n\n"
    "Caveats: wasmi 2 translates function bodies lazily, so its compile rows measure "
    "validation and setup rather than full translation. Wasmer's metering cost function "
    "charges 1 per operator, the simplest (and cheapest) cost function; Gasket's cost "
    "table is richer. The peers' rows for contract calls through the harness are absent: "
    "the host ABI is implemented for Gasket only, so peers are compared on bare "
    "instantiate + empty call.",
}
