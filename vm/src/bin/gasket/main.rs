//! The `gasket` command-line tool.
//!
//! Exit codes (a stable interface): 0 success (for `run`: the module ran, whether it
//! returned or trapped), 1 the module was rejected or could not be loaded, compiled or
//! instantiated, 2 usage error.

mod check;
mod input;
mod instrument;
mod report;
mod run;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

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
    /// Compile a module and call one exported function with a gas limit.
    ///
    /// Prints the results (or the trap) and the gas used. Exit 0 when the module ran,
    /// whether it returned or trapped.
    Run {
        /// A `.wasm` or `.wat` file.
        file: PathBuf,
        /// The exported function to call.
        #[arg(long, value_name = "EXPORT")]
        invoke: String,
        /// Arguments: decimal i32/i64 values matching the export's parameters (negative
        /// numbers are fine: `-5`).
        #[arg(value_name = "ARG", allow_negative_numbers = true)]
        args: Vec<String>,
        /// Gas limit for the call (and for the start function).
        #[arg(long, default_value_t = 10_000_000_000)]
        gas: u64,
        /// Profile to prepare the module with. Defaults to permissive for --invoke, since
        /// plain functions rarely fit the contract profile (which admits host ABI imports
        /// only).
        #[arg(long, value_enum, default_value_t = ProfileArg::Permissive)]
        profile: ProfileArg,
        /// Print one line of JSON instead of text.
        #[arg(long)]
        json: bool,
    },
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
        Command::Run {
            file,
            invoke,
            args,
            gas,
            profile,
            json,
        } => {
            let call = run::Invocation {
                export: &invoke,
                args: &args,
                gas,
            };
            return match run::run(&file, &call, &profile.profile(), json) {
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
