//! The `gasket` command-line tool.
//!
//! Exit codes (a stable interface): 0 success, 1 the module was rejected or could not be
//! loaded, 2 usage error.

mod check;
mod input;
mod instrument;
mod report;

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
    };
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
