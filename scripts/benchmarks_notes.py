"""Hand-written notes of BENCHMARKS.md, keyed by target; `met` / `missed` / `absent` is
chosen by the measured value (scripts/benchmarks_report.py)."""

NOTES = {
    "compile": {
        "missed": "TODO",
        "met": "Gasket compiles in one pass over the instrumented module; the metering pass "
        "is a separate validation + rewrite pass (see the `gasket_metering_pass` and "
        "`gasket_codegen` rows).",
        "absent": "Wasmer was not built in this run (`PEERS=0`).",
    },
    "exec_wasmer": {"missed": "TODO", "met": "", "absent": "Wasmer was not built in this run."},
    "exec_cranelift": {"missed": "TODO", "met": "", "absent": "Wasmtime was not built in this run."},
    "overhead": {"missed": "TODO", "met": ""},
    "instantiate": {"missed": "TODO", "met": ""},
    "cache": {"missed": "TODO", "met": ""},
    "peers": "TODO",
}
