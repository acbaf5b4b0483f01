//! Writes a module's compiled machine code and a map of its functions, to read the code
//! generation's output with a disassembler (issue 16's hot-loop dumps):
//!
//!     cargo run --release -p gasket-vm --example dump_code -- kernel.wat out.bin [x86_64|aarch64] [unmetered]
//!     objdump -D -b binary -m i386:x86-64 --start-address=0xOFF --stop-address=0xEND out.bin
//!
//! The module is prepared under the permissive profile (floats allowed) unless
//! `unmetered` is given, which compiles the wasm as it is (no gas, no stack checks).

use std::process::ExitCode;

use gasket_metering::Profile;
use gasket_singlepass::{FunctionKind, Target};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 {
        eprintln!("usage: dump_code <module.wat|.wasm> <out.bin> [x86_64|aarch64] [unmetered]");
        return ExitCode::FAILURE;
    }
    let target = match args.get(2).map(String::as_str) {
        None | Some("x86_64") => Target::X86_64,
        Some("aarch64") => Target::Aarch64,
        Some(other) => {
            eprintln!("unknown target {other}");
            return ExitCode::FAILURE;
        }
    };
    let unmetered = args.get(3).is_some_and(|a| a == "unmetered");
    let wasm = match wat::parse_file(&args[0]) {
        Ok(wasm) => wasm,
        Err(e) => {
            eprintln!("{}: {e}", args[0]);
            return ExitCode::FAILURE;
        }
    };
    let wasm = if unmetered {
        wasm
    } else {
        match gasket_metering::prepare(&wasm, &Profile::permissive()) {
            Ok(prepared) => prepared.wasm,
            Err(e) => {
                eprintln!("prepare: {e}");
                return ExitCode::FAILURE;
            }
        }
    };
    let artifact = match gasket_singlepass::compile(&wasm, target) {
        Ok(artifact) => artifact,
        Err(e) => {
            eprintln!("compile: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = std::fs::write(&args[1], &artifact.code) {
        eprintln!("{}: {e}", args[1]);
        return ExitCode::FAILURE;
    }
    for (index, function) in artifact.functions.iter().enumerate() {
        if matches!(function.kind, FunctionKind::Defined) {
            println!(
                "function {index}: 0x{:x}..0x{:x}",
                function.code_offset,
                function.code_offset + function.code_len
            );
        }
    }
    ExitCode::SUCCESS
}
