//! The `gasket` command-line tool: see `gasket_vm::cli` (the `cli` feature) for its
//! commands and exit codes.

fn main() -> std::process::ExitCode {
    gasket_vm::cli::main()
}
