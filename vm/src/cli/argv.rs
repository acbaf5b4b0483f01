//! The command line before clap sees it: float arguments that start with a hyphen, and
//! whether a failed parse asked for `--json`.
//!
//! clap takes `-5` and `-1e300` as values (`allow_negative_numbers`) but reads `-inf`,
//! `-nan` and `-.5` as short options, and letting the arguments take any hyphen value
//! would make them swallow the options that follow (`--json`). So `run`'s tokens that are
//! Rust float syntax after a hyphen, and not an option's value, are marked here (a
//! [`MARK`] prefix clap passes through as a plain value) and unmarked when the arguments
//! are read ([`unmark`]).

use std::ffi::OsString;

use clap::CommandFactory;

/// Prefix of a marked hyphen value. A control character no real argument starts with.
const MARK: char = '\u{1}';

/// Whether `token` is a float value clap would mistake for an option: `-` followed by
/// Rust float syntax that is not a plain number (`-inf`, `-nan`, `-.5`, `-infinity`).
fn is_hyphen_float(token: &str) -> bool {
    match token.strip_prefix('-') {
        Some(rest) if !rest.starts_with('-') => {
            !rest.starts_with(|c: char| c.is_ascii_digit()) && rest.parse::<f64>().is_ok()
        }
        _ => false,
    }
}

/// The `run` options (and global ones) that take a value, as spelled on the command line.
fn value_options() -> Vec<String> {
    let cli = super::Cli::command();
    let run = cli.find_subcommand("run");
    cli.get_arguments()
        .chain(run.into_iter().flat_map(|r| r.get_arguments()))
        .filter(|a| a.get_action().takes_values() && !a.is_positional())
        .flat_map(|a| {
            let long = a.get_long().map(|l| format!("--{l}"));
            let short = a.get_short().map(|s| format!("-{s}"));
            long.into_iter().chain(short)
        })
        .collect()
}

/// `args` (the program name first) with `run`'s hyphen float arguments marked.
pub fn mark_hyphen_floats(args: Vec<OsString>) -> Vec<OsString> {
    let takes_value = value_options();
    // The subcommand: the first token that is neither an option nor an option's value.
    let mut skip = false;
    let command = args.iter().enumerate().skip(1).find(|(_, a)| {
        let a = a.to_str().unwrap_or("");
        let value = std::mem::replace(&mut skip, takes_value.iter().any(|o| o == a));
        !value && !a.starts_with('-')
    });
    let run = match command {
        Some((i, a)) if a == "run" => i,
        _ => return args,
    };
    let mut out = Vec::with_capacity(args.len());
    let mut option_value_next = false;
    let mut escaped = false;
    for (i, arg) in args.into_iter().enumerate() {
        let text = arg.to_str().unwrap_or("");
        let as_value = option_value_next;
        option_value_next = false;
        if i <= run || escaped || as_value {
            out.push(arg);
            continue;
        }
        if text == "--" {
            escaped = true;
        } else if takes_value.iter().any(|o| o == text) {
            option_value_next = true;
        } else if is_hyphen_float(text) {
            out.push(format!("{MARK}{text}").into());
            continue;
        }
        out.push(arg);
    }
    out
}

/// An argument as the user typed it (see [`mark_hyphen_floats`]).
pub fn unmark(arg: String) -> String {
    match arg.strip_prefix(MARK) {
        Some(rest) if rest.starts_with('-') => rest.to_string(),
        _ => arg,
    }
}

/// Whether a command line that clap refused asked for `--json` (before any `--`), so that
/// the usage error is also reported as one JSON line.
pub fn wants_json(args: &[OsString]) -> bool {
    args.iter()
        .skip(1)
        .take_while(|a| *a != "--")
        .any(|a| a == "--json")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marked(line: &str) -> Vec<String> {
        let args = line.split(' ').map(OsString::from).collect();
        mark_hyphen_floats(args)
            .into_iter()
            .map(|a| a.into_string().unwrap().replace(MARK, "^"))
            .collect()
    }

    #[test]
    fn marks_only_hyphen_floats_that_are_not_option_values() {
        assert_eq!(
            marked("gasket run f.wat --invoke div -inf -nan -.5 -0 -1e3 --json"),
            [
                "gasket", "run", "f.wat", "--invoke", "div", "^-inf", "^-nan", "^-.5", "-0",
                "-1e3", "--json"
            ]
        );
        // An option's value, text after `--`, other subcommands: untouched.
        assert_eq!(
            marked("gasket run c.wasm --call m --input -inf"),
            ["gasket", "run", "c.wasm", "--call", "m", "--input", "-inf"]
        );
        assert_eq!(
            marked("gasket run f.wat --invoke f -- -inf"),
            ["gasket", "run", "f.wat", "--invoke", "f", "--", "-inf"]
        );
        assert_eq!(marked("gasket check -inf"), ["gasket", "check", "-inf"]);
        assert_eq!(
            marked("gasket --floats reject run f.wat --invoke f -inf"),
            ["gasket", "--floats", "reject", "run", "f.wat", "--invoke", "f", "^-inf"]
        );
        assert_eq!(
            marked("gasket check run -nan"),
            ["gasket", "check", "run", "-nan"]
        );
        assert_eq!(unmark(format!("{MARK}-inf")), "-inf");
        assert_eq!(unmark("-5".into()), "-5");
    }
}
