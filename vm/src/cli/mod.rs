//! The `gasket` command-line tool, as a library (cargo feature `cli`; `#[doc(hidden)]`,
//! not a stable API: the command line is the interface).
//!
//! The `gasket` binary (`src/bin/gasket.rs`) is [`main`]. The unpublished
//! `gasket-aarch64` binary of `gasket-aarch64-tests` is [`main_with`] given engines that
//! run AArch64 code in the Unicorn emulator; Unicorn is GPL-2.0, so it is a separate
//! program that `gasket run --target aarch64` starts on hosts that are not AArch64
//! ([`delegate_to_emulator`]), never a dependency of this crate.
//!
//! Exit codes (a stable interface): 0 success (for `run`: the module ran, whether it
//! returned or trapped), 1 the module was rejected or could not be loaded, compiled or
//! instantiated (or the target cannot run here), 2 usage error.

mod argv;
mod call;
mod check;
mod compile;
mod gas;
mod input;
mod instrument;
mod near;
mod profiles;
mod report;
mod run;

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{ArgGroup, Parser, Subcommand, ValueEnum};
use gasket_metering::{FloatPolicy, Profile};
use gasket_singlepass::Target;

use crate::{Engine, EngineError};

/// The engines a CLI program runs modules with, per target.
pub trait Engines {
    /// The target `run` and `compile` use without `--target`.
    fn default_target(&self) -> Target;
    /// Whether this program runs code for `target` itself (otherwise `run --target`
    /// hands the command to the emulator program, or fails).
    fn runs(&self, target: Target) -> bool;
    /// An engine for `target` (one [`runs`](Engines::runs) accepts) and `profile`.
    fn engine(&self, target: Target, profile: Profile) -> Result<Engine, EngineError>;
}

/// The `gasket` binary's engines: native code for this machine's target only.
#[derive(Debug, Default)]
pub struct NativeEngines;

impl Engines for NativeEngines {
    fn default_target(&self) -> Target {
        // On other machines `Engine::new` reports the problem.
        Target::host().unwrap_or(Target::X86_64)
    }

    fn runs(&self, target: Target) -> bool {
        Target::host() == Some(target)
    }

    fn engine(&self, _target: Target, profile: Profile) -> Result<Engine, EngineError> {
        Engine::new(profile)
    }
}

/// Set for the emulator program, so that a misconfigured one cannot delegate again.
const DELEGATED_ENV: &str = "GASKET_DELEGATED";

/// How subcommands get their engine (the target is already chosen).
type MakeEngine<'a> = &'a dyn Fn(&Profile) -> Result<Engine, EngineError>;

/// The program that runs `--target aarch64` under emulation on other hosts.
pub const EMULATOR_PROGRAM: &str = "gasket-aarch64";

/// Overrides where [`EMULATOR_PROGRAM`] is looked for (a path to the program).
pub const EMULATOR_ENV: &str = "GASKET_AARCH64";

/// `--version`: what decides whether an artifact or a gas figure from another build
/// still applies (the compiler, the artifact formats, the cost table, the host ABI).
fn long_version() -> &'static str {
    static TEXT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TEXT.get_or_init(|| {
        format!(
            "{}\ncompiler: {} (artifact format {}, serialized format {})\ncost table: version \
             {}\nhost ABI: version {}",
            env!("CARGO_PKG_VERSION"),
            crate::cache::COMPILER_VERSION,
            gasket_singlepass::ARTIFACT_FORMAT_VERSION,
            crate::cache::SERIALIZED_FORMAT_VERSION,
            gasket_metering::CostTable::default().version,
            gasket_host_api::ABI_VERSION,
        )
    })
}

#[derive(Parser)]
#[command(
    name = "gasket",
    version,
    long_version = long_version(),
    about = "Gasket: a deterministic, gas-metered WebAssembly VM for smart contracts"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Overrides the profile's float policy: `canonicalize` (the built-in profiles'
    /// default: f32/f64 admitted, every NaN an operation produces is the canonical NaN)
    /// or `reject` (any float type or operator rejects the module).
    #[arg(long, value_enum, global = true)]
    floats: Option<FloatsArg>,
}

// Parsed once; its size does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Validate a module against a profile and summarise it, or list every problem found.
    Check {
        /// A `.wasm` or `.wat` file.
        file: PathBuf,
        /// Profile to validate against: `contract` admits host ABI imports only,
        /// `permissive` any import (CosmWasm, ink! and NEAR binaries pass this one only).
        #[arg(long, value_enum, default_value_t = ProfileArg::Contract)]
        profile: ProfileArg,
        /// Print one line of JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Write the instrumented module (gas and stack accounting injected), to audit
    /// where gas is charged or to run the metered module on another engine.
    ///
    /// The output imports `gasket.gas(i64)`, `gasket.stack_enter(i32)` and
    /// `gasket.stack_leave(i32)`, which that engine must provide; `gasket check`, `compile`
    /// and `run` refuse it (those imports are reserved) and take the original module.
    Instrument {
        /// A `.wasm` or `.wat` file.
        file: PathBuf,
        /// Where to write the instrumented `.wasm`.
        #[arg(short = 'o', long = "output")]
        output: PathBuf,
        /// Profile to prepare the module with (its limits, prices and admitted imports).
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
        /// The machine to compile for [default: this machine's].
        #[arg(long, value_enum)]
        target: Option<TargetArg>,
        /// Profile to prepare the module with; recorded in the output, and `gasket run`
        /// uses it.
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
        /// A `.wasm` or `.wat` file, or a `.gasket` file from `gasket compile`.
        file: PathBuf,
        /// The exported function to call with plain arguments.
        #[arg(long, value_name = "EXPORT")]
        invoke: Option<String>,
        /// The contract method to call through the host ABI (no parameters; input bytes
        /// come from --input-hex/--input/--input-file).
        #[arg(long, value_name = "METHOD")]
        call: Option<String>,
        /// Arguments (--invoke only): values matching the export's parameters, decimal for
        /// i32/i64 (negative numbers are fine: `-5`), Rust float syntax for f32/f64
        /// (`1.5`, `-0`, `-.5`, `1e-3`, `inf`, `-inf`, `nan`, `-nan`).
        // `-inf`, `-nan` and `-.5` are marked as values before clap sees them (`argv`).
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
        /// Gas limit for the call (and for the start function) [default: 500000000000;
        /// 300000000000000 with --abi near].
        #[arg(long)]
        gas: Option<u64>,
        /// The host ABI the contract is written for (--call only): `gasket` (ABI v1, the
        /// default) or `near` (NEAR's `env` imports; implies --profile near).
        #[arg(long, value_enum, requires = "call")]
        abi: Option<AbiArg>,
        /// The account that signed the transaction (--abi near only) [default: the caller].
        #[arg(long, value_name = "ACCOUNT", requires = "call")]
        signer: Option<String>,
        /// Deposit attached to the call in yoctoNEAR (--abi near only) [default: 0].
        #[arg(long, value_name = "YOCTO", requires = "call")]
        deposit: Option<u128>,
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
        /// The machine whose code runs the module [default: this machine's]. `aarch64` on
        /// another machine runs in an emulator, the separate program gasket-aarch64
        /// (found next to this program, on PATH, or at $GASKET_AARCH64).
        #[arg(long, value_enum)]
        target: Option<TargetArg>,
        /// Profile to prepare the module with. Defaults to contract for --call and to
        /// permissive for --invoke, since plain functions rarely fit the contract profile
        /// (which admits host ABI imports only); a `.gasket` file runs under the profile
        /// it was compiled with.
        #[arg(long, value_enum)]
        profile: Option<ProfileArg>,
        /// Also report where the gas went: by function (names from the name section),
        /// by host function and by cost class, each summing to the gas used. Runs a
        /// separately instrumented build of the module (same gas, slower); needs .wasm
        /// or .wat input; not with --abi near.
        #[arg(long)]
        gas_report: bool,
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
#[derive(Copy, Clone, PartialEq, Eq, ValueEnum)]
enum ProfileArg {
    /// Smart contracts: host ABI imports only.
    Contract,
    /// Embedders: any imports, still deterministic.
    Permissive,
    /// NEAR contracts: the NEAR-compatible host functions only.
    Near,
}

/// Host ABIs a `--call` can use.
#[derive(Copy, Clone, PartialEq, Eq, ValueEnum)]
enum AbiArg {
    /// Gasket's ABI v1.
    Gasket,
    /// The NEAR-compatible ABI.
    Near,
}

/// Float policies (`gasket_metering::FloatPolicy`).
#[derive(Copy, Clone, PartialEq, Eq, ValueEnum)]
enum FloatsArg {
    /// Floats admitted; NaN results canonical.
    Canonicalize,
    /// Floats rejected (`floats_not_allowed`).
    Reject,
}

impl TargetArg {
    fn target(self) -> Target {
        match self {
            TargetArg::X86_64 => Target::X86_64,
            TargetArg::Aarch64 => Target::Aarch64,
        }
    }
}

impl ProfileArg {
    /// The profile, with its float policy replaced when `floats` is given.
    fn profile(self, floats: Option<FloatsArg>) -> Profile {
        let profile = match self {
            ProfileArg::Contract => Profile::contract(),
            ProfileArg::Permissive => Profile::permissive(),
            ProfileArg::Near => Profile::near(),
        };
        match floats {
            None => profile,
            Some(FloatsArg::Canonicalize) => profile.with_floats(FloatPolicy::Canonicalize),
            Some(FloatsArg::Reject) => profile.with_floats(FloatPolicy::Reject),
        }
    }
}

/// The `gasket` binary: [`main_with`] native engines.
pub fn main() -> ExitCode {
    main_with(&NativeEngines)
}

/// Parses the process's arguments and runs the command with `engines`.
pub fn main_with(engines: &dyn Engines) -> ExitCode {
    let args = argv::mark_hyphen_floats(std::env::args_os().collect());
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(err) => {
            // Help and version are not errors; everything else is a usage error (exit 2).
            let _ = err.print();
            if !err.use_stderr() {
                return ExitCode::SUCCESS;
            }
            if argv::wants_json(&args) {
                // clap's first line, without its `error: ` prefix and styling.
                let text = err.render().to_string();
                let first = text.lines().next().unwrap_or_default();
                report::usage_json(first.strip_prefix("error: ").unwrap_or(first));
            }
            return ExitCode::from(2);
        }
    };
    let floats = cli.floats;
    let ok = match cli.command {
        Command::Check {
            file,
            profile,
            json,
        } => check::run(&file, &profile.profile(floats), json),
        Command::Instrument {
            file,
            output,
            profile,
            json,
        } => instrument::run(&file, &output, &profile.profile(floats), json),
        Command::Compile {
            file,
            output,
            target,
            profile,
            json,
        } => {
            let target = target.map_or(engines.default_target(), TargetArg::target);
            compile::run(&file, &output, target, &profile.profile(floats), json)
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
            abi,
            signer,
            deposit,
            caller,
            account,
            block_height,
            block_timestamp,
            state,
            target,
            profile,
            gas_report,
            json,
        } => {
            let near = abi == Some(AbiArg::Near);
            if near && gas_report {
                report::usage("--gas-report cannot be used with --abi near", json);
                return ExitCode::from(2);
            }
            if !near && (signer.is_some() || deposit.is_some()) {
                eprintln!("error: --signer and --deposit need --abi near (see gasket run --help)");
                return ExitCode::from(2);
            }
            if near && !matches!(profile, None | Some(ProfileArg::Near)) {
                eprintln!("error: --abi near runs with the near profile; drop --profile");
                return ExitCode::from(2);
            }
            let default_gas = if near {
                crate::near::DEFAULT_NEAR_GAS
            } else {
                crate::testing::DEFAULT_GAS
            };
            let gas = gas.unwrap_or(default_gas);
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
                report::usage(
                    &format!("{option} cannot be used with {mode} (see gasket run --help)"),
                    json,
                );
                return ExitCode::from(2);
            }
            let target = target.map_or(engines.default_target(), TargetArg::target);
            if !engines.runs(target) {
                return delegate_to_emulator(target, json);
            }
            let make_engine = |profile: &Profile| engines.engine(target, profile.clone());
            let status = match (invoke, call) {
                (Some(invoke), _) => {
                    let args: Vec<String> = args.into_iter().map(argv::unmark).collect();
                    let call = run::Invocation {
                        export: &invoke,
                        args: &args,
                        gas,
                        gas_report,
                    };
                    let profile = profiles::ProfileChoice {
                        profile,
                        default: ProfileArg::Permissive,
                        floats,
                    };
                    run::run(&file, &call, &profile, &make_engine, json)
                }
                (None, Some(method)) => {
                    // `--abi near` runs under the near profile, artifacts included.
                    let profile = profiles::ProfileChoice {
                        profile: if near {
                            Some(ProfileArg::Near)
                        } else {
                            profile
                        },
                        default: if near {
                            ProfileArg::Near
                        } else {
                            ProfileArg::Contract
                        },
                        floats,
                    };
                    let loaded = call::input_bytes(
                        input_hex.as_deref(),
                        input.as_deref(),
                        input_file.as_deref(),
                    )
                    .map_err(|message| {
                        report::usage(&message, json);
                        run::RunStatus::Usage
                    })
                    .and_then(|input| {
                        let contract = call::load_module(&file, &profile, &make_engine, json)?;
                        Ok((input, contract))
                    });
                    match loaded {
                        Err(status) => status,
                        Ok((input, contract)) => {
                            let caller =
                                caller.as_deref().unwrap_or(crate::testing::DEFAULT_CALLER);
                            let account = account.as_deref().unwrap_or("contract");
                            let block_height = block_height.unwrap_or(1);
                            let block_timestamp = block_timestamp.unwrap_or(1_000_000_000);
                            let state = state.as_deref();
                            if near {
                                let near_call = near::NearCall {
                                    method: &method,
                                    input,
                                    gas,
                                    account,
                                    caller,
                                    signer: signer.as_deref().unwrap_or(caller),
                                    deposit: deposit.unwrap_or(0),
                                    block_height,
                                    block_timestamp,
                                    state,
                                    code_len: std::fs::metadata(&file).map_or(0, |m| m.len()),
                                };
                                near::run(&contract.module, &near_call, json)
                            } else {
                                let contract_call = call::ContractCall {
                                    method: &method,
                                    input,
                                    gas,
                                    gas_report,
                                    account,
                                    caller,
                                    block_height,
                                    block_timestamp,
                                    state,
                                };
                                call::run(&contract, &contract_call, json)
                            }
                        }
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

/// `run --target T` where this program cannot run `T`: for AArch64 on another host, runs
/// [`EMULATOR_PROGRAM`] with the same arguments (stdin, stdout and stderr inherited, its
/// exit code passed through); otherwise, or when it is not found, exit 1.
pub fn delegate_to_emulator(target: Target, as_json: bool) -> ExitCode {
    let host = std::env::consts::ARCH;
    let fail = |message: String| {
        report::load_failed(
            &input::LoadError {
                kind: "unsupported_machine",
                message,
            },
            as_json,
        );
        ExitCode::from(1)
    };
    if target != Target::Aarch64 {
        return fail(format!(
            "this {host} machine cannot run {} code (there is no emulator for it)",
            target.as_str()
        ));
    }
    if std::env::var_os(DELEGATED_ENV).is_some() {
        return fail(format!(
            "{EMULATOR_PROGRAM} cannot run aarch64 code either (${EMULATOR_ENV} names the wrong program?)"
        ));
    }
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let mut candidates: Vec<PathBuf> = Vec::new();
    match std::env::var_os(EMULATOR_ENV).filter(|p| !p.is_empty()) {
        Some(path) => candidates.push(path.into()),
        None => {
            let name = format!("{EMULATOR_PROGRAM}{}", std::env::consts::EXE_SUFFIX);
            if let Ok(exe) = std::env::current_exe() {
                candidates.extend(exe.parent().map(|dir| dir.join(&name)));
            }
            // Found on PATH by the OS.
            candidates.push(PathBuf::from(name));
        }
    }
    for program in &candidates {
        if program.components().count() > 1 && !program.is_file() {
            continue;
        }
        let status = std::process::Command::new(program)
            .args(&args)
            .env(DELEGATED_ENV, "1")
            .status();
        match status {
            Ok(status) => {
                // A signal (no code) is reported as a failure.
                let code = status.code().unwrap_or(1);
                return ExitCode::from(u8::try_from(code).unwrap_or(1));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                return fail(format!("cannot run {}: {e}", program.display()));
            }
        }
    }
    let looked: Vec<String> = candidates
        .iter()
        .map(|p| match p.components().count() {
            1 => format!("{} on PATH", p.display()),
            _ => p.display().to_string(),
        })
        .collect();
    fail(format!(
        "--target aarch64 on this {host} machine runs the AArch64 code in the Unicorn \
         emulator, which is the separate program {EMULATOR_PROGRAM}: not found (looked for {}; \
         ${EMULATOR_ENV} names it explicitly). Unicorn is GPL-2.0, so it is never linked \
         into gasket; build the emulator program with `cargo build --release -p \
         gasket-aarch64-tests --features emu` (scripts/install-aarch64-test-deps.sh installs \
         its build needs, cmake and libclang) and put target/release/{EMULATOR_PROGRAM} next \
         to gasket or on PATH",
        looked.join(", ")
    ))
}
