//! The `gasket` command-line tool.
//!
//! Exit codes (a stable interface): 0 success (for `run`: the module ran, whether it
//! returned or trapped), 1 the module was rejected or could not be loaded, compiled or
//! instantiated, 2 usage error.

mod call;
mod check;
mod compile;
mod input;
mod instrument;
mod report;
mod run;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{ArgGroup, Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(
    name = "gasket",
    version,
    about = "Gasket: a deterministic, gas-metered WebAssembly VM for smart contracts"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// Parsed once; its size does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Validate a module against a profile and summarise it, or list every problem found.
    Check {
        /// A `.wasm` or `.wat` file.
        file: PathBuf,
        #[arg(long, value_enum, default_value_t = ProfileArg::Contract)]
        profile: ProfileArg,
        /// Print one line of JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Write the instrumented module (gas and stack accounting injected).
    Instrument {
        /// A `.wasm` or `.wat` file.
        file: PathBuf,
        /// Where to write the instrumented `.wasm`.
        #[arg(short = 'o', long = "output")]
        output: PathBuf,
        #[arg(long, value_enum, default_value_t = ProfileArg::Contract)]
        profile: ProfileArg,
        /// Print one line of JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Prepare and compile a module ahead of time, and write it serialized (versioned
    /// header, SHA-256 checked on load) for `gasket run` or a node's cache.
    Compile {
        /// A `.wasm` or `.wat` file.
        file: PathBuf,
        /// Where to write the compiled module.
        #[arg(short = 'o', long = "output")]
        output: PathBuf,
        /// The machine to compile for.
        #[arg(long, value_enum, default_value_t = TargetArg::X86_64)]
        target: TargetArg,
        #[arg(long, value_enum, default_value_t = ProfileArg::Contract)]
        profile: ProfileArg,
        /// Print one line of JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Compile a module and call one exported function (`--invoke`) or contract method
    /// (`--call`) with a gas limit.
    ///
    /// Prints the results (or the trap) and the gas used. Exit 0 when the module ran,
    /// whether it returned, trapped or panicked.
    #[command(group(ArgGroup::new("mode").required(true).args(["invoke", "call"])))]
    Run {
        /// A `.wasm` or `.wat` file.
        file: PathBuf,
        /// The exported function to call with plain arguments.
        #[arg(long, value_name = "EXPORT")]
        invoke: Option<String>,
        /// The contract method to call through the host ABI (no parameters; input bytes
        /// come from --input-hex/--input/--input-file).
        #[arg(long, value_name = "METHOD")]
        call: Option<String>,
        /// Arguments (--invoke only): decimal i32/i64 values matching the export's
        /// parameters (negative numbers are fine: `-5`).
        #[arg(value_name = "ARG", allow_negative_numbers = true, requires = "invoke")]
        args: Vec<String>,
        /// The call's input bytes, in hex (--call only).
        #[arg(long, value_name = "HEX", group = "input_source", requires = "call")]
        input_hex: Option<String>,
        /// The call's input bytes, as UTF-8 text (--call only).
        #[arg(long, value_name = "TEXT", group = "input_source", requires = "call")]
        input: Option<String>,
        /// The call's input bytes, read from a file (--call only).
        #[arg(long, value_name = "FILE", group = "input_source", requires = "call")]
        input_file: Option<PathBuf>,
        /// Gas limit for the call (and for the start function).
        #[arg(long, default_value_t = 10_000_000_000)]
        gas: u64,
        /// The calling account (--call only) [default: alice].
        #[arg(long, value_name = "ACCOUNT", requires = "call")]
        caller: Option<String>,
        /// The account the contract runs as (--call only) [default: contract].
        #[arg(long, value_name = "ACCOUNT", requires = "call")]
        account: Option<String>,
        /// Block height the call sees (--call only) [default: 1].
        #[arg(long, requires = "call")]
        block_height: Option<u64>,
        /// Block timestamp the call sees, ns since the Unix epoch (--call only)
        /// [default: 1000000000].
        #[arg(long, requires = "call")]
        block_timestamp: Option<u64>,
        /// Storage file read before the call and rewritten atomically when it returns
        /// (--call only; left untouched on a trap or panic; a missing file is empty state).
        #[arg(long, value_name = "FILE", requires = "call")]
        state: Option<PathBuf>,
        /// Profile to prepare the module with. Defaults to contract for --call and to
        /// permissive for --invoke, since plain functions rarely fit the contract profile
        /// (which admits host ABI imports only).
        #[arg(long, value_enum)]
        profile: Option<ProfileArg>,
        /// Print one line of JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// Compilation targets.
#[derive(Copy, Clone, ValueEnum)]
enum TargetArg {
    /// x86-64.
    #[value(name = "x86_64")]
    X86_64,
    /// AArch64.
    #[value(name = "aarch64")]
    Aarch64,
}

/// The built-in profiles.
#[derive(Copy, Clone, ValueEnum)]
enum ProfileArg {
    /// Smart contracts: host ABI imports only.
    Contract,
    /// Embedders: any imports, still deterministic.
    Permissive,
}

impl ProfileArg {
    fn profile(self) -> gasket_metering::Profile {
        match self {
            ProfileArg::Contract => gasket_metering::Profile::contract(),
            ProfileArg::Permissive => gasket_metering::Profile::permissive(),
        }
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            // Help and version are not errors; everything else is a usage error (exit 2).
            let _ = err.print();
            return if err.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let ok = match cli.command {
        Command::Check {
            file,
            profile,
            json,
        } => check::run(&file, &profile.profile(), json),
        Command::Instrument {
            file,
            output,
            profile,
            json,
        } => instrument::run(&file, &output, &profile.profile(), json),
        Command::Compile {
            file,
            output,
            target,
            profile,
            json,
        } => {
            let target = match target {
                TargetArg::X86_64 => gasket_singlepass::Target::X86_64,
                TargetArg::Aarch64 => gasket_singlepass::Target::Aarch64,
            };
            compile::run(&file, &output, target, &profile.profile(), json)
        }
        Command::Run {
            file,
            invoke,
            call,
            args,
            input_hex,
            input,
            input_file,
            gas,
            caller,
            account,
            block_height,
            block_timestamp,
            state,
            profile,
            json,
        } => {
            let call_only = [
                ("--caller", caller.is_some()),
                ("--account", account.is_some()),
                ("--block-height", block_height.is_some()),
                ("--block-timestamp", block_timestamp.is_some()),
                ("--state", state.is_some()),
                ("--input", input.is_some()),
                ("--input-hex", input_hex.is_some()),
                ("--input-file", input_file.is_some()),
            ];
            let misplaced = match (&invoke, &call) {
                (Some(_), _) => call_only.iter().find(|o| o.1).map(|o| o.0),
                (None, _) => (!args.is_empty()).then_some("ARG"),
            };
            if let Some(option) = misplaced {
                let mode = if invoke.is_some() {
                    "--invoke"
                } else {
                    "--call"
                };
                eprintln!("error: {option} cannot be used with {mode} (see gasket run --help)");
                return ExitCode::from(2);
            }
            let status = match (invoke, call) {
                (Some(invoke), _) => {
                    let call = run::Invocation {
                        export: &invoke,
                        args: &args,
                        gas,
                    };
                    let profile = profile.unwrap_or(ProfileArg::Permissive).profile();
                    run::run(&file, &call, &profile, json)
                }
                (None, Some(method)) => {
                    let profile = profile.unwrap_or(ProfileArg::Contract).profile();
                    match call::input_bytes(
                        input_hex.as_deref(),
                        input.as_deref(),
                        input_file.as_deref(),
                    ) {
                        Err(message) => {
                            eprintln!("error: {message}");
                            run::RunStatus::Usage
                        }
                        Ok(input) => match call::load_module(&file, &profile, json) {
                            Err(status) => status,
                            Ok(module) => call::run(
                                &module,
                                &call::ContractCall {
                                    method: &method,
                                    input,
                                    gas,
                                    account: account.as_deref().unwrap_or("contract"),
                                    caller: caller
                                        .as_deref()
                                        .unwrap_or(gasket_vm::testing::DEFAULT_CALLER),
                                    block_height: block_height.unwrap_or(1),
                                    block_timestamp: block_timestamp.unwrap_or(1_000_000_000),
                                    state: state.as_deref(),
                                },
                                json,
                            ),
                        },
                    }
                }
                (None, None) => run::RunStatus::Usage,
            };
            return match status {
                run::RunStatus::Ran => ExitCode::SUCCESS,
                run::RunStatus::Failed => ExitCode::from(1),
                run::RunStatus::Usage => ExitCode::from(2),
            };
        }
    };
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
