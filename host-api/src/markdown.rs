//! Renders the ABI table as markdown, for host-api/README.md (and through it the crate
//! docs). Generated from [`HOST_FUNCTIONS`] so the docs cannot drift from the code: a test
//! fails when README.md is stale.

use std::fmt::Write as _;

use crate::abi::{HostFunctionSpec, ABI_VERSION, ENV_MODULE, RESERVED_MODULE};
use crate::intrinsic::Intrinsic;
use crate::table::HOST_FUNCTIONS;

/// Marker line before the generated section of README.md.
pub const TABLE_START_MARKER: &str = "<!-- abi-table:start -->";
/// Marker line after the generated section of README.md.
pub const TABLE_END_MARKER: &str = "<!-- abi-table:end -->";

/// The ABI tables (host functions, then intrinsics) as markdown, ending with a newline.
pub fn render_markdown_table() -> String {
    let mut out = String::new();
    // Writing to a String cannot fail; `let _` keeps this panic-free regardless.
    let _ = writeln!(
        out,
        "Host ABI version {ABI_VERSION}: functions a contract imports from module `{ENV_MODULE}`."
    );
    out.push('\n');
    out.push_str(
        "| # | Function | Gas base | Gas per byte | Bytes counted | Semantics | Errors |\n",
    );
    out.push_str("|---:|---|---:|---:|---|---|---|\n");
    for row in &HOST_FUNCTIONS {
        let _ = writeln!(
            out,
            "| {} | `{}` | {} | {} | {} | {} | {} |",
            row.function as u32,
            function_heading(row),
            row.gas.base,
            row.gas.per_byte,
            cell(row.gas_bytes),
            cell(row.semantics),
            cell(row.errors),
        );
    }
    out.push('\n');
    let _ = writeln!(
        out,
        "Intrinsics: injected by metering into module `{RESERVED_MODULE}` and compiled inline; a contract may not import them."
    );
    out.push('\n');
    out.push_str("| Intrinsic | Signature |\n");
    out.push_str("|---|---|\n");
    for intrinsic in Intrinsic::ALL {
        let _ = writeln!(
            out,
            "| `{RESERVED_MODULE}.{}` | `{}` |",
            intrinsic.name(),
            intrinsic.signature()
        );
    }
    out
}

/// `storage_read(key_ptr: i32, key_len: i32, register_id: i64) -> i32`
fn function_heading(row: &HostFunctionSpec) -> String {
    let params: Vec<String> = row
        .param_names
        .iter()
        .zip(row.signature.params)
        .map(|(name, ty)| format!("{name}: {ty}"))
        .collect();
    let mut heading = format!("{}({})", row.name, params.join(", "));
    for result in row.signature.results {
        let _ = write!(heading, " -> {result}");
    }
    heading
}

/// Makes text safe inside a table cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    const BLESS_HINT: &str =
        "regenerate it with `GASKET_BLESS=1 cargo test -p gasket-host-api` and commit README.md";

    /// The text between the markers that README.md must contain.
    fn expected_section() -> String {
        format!("\n{}", render_markdown_table())
    }

    #[test]
    fn readme_table_matches_the_static_table() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
        let readme = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let start = readme
            .find(TABLE_START_MARKER)
            .unwrap_or_else(|| panic!("README.md lacks the line {TABLE_START_MARKER}"))
            + TABLE_START_MARKER.len();
        let end = readme[start..]
            .find(TABLE_END_MARKER)
            .unwrap_or_else(|| panic!("README.md lacks {TABLE_END_MARKER} after the start marker"))
            + start;
        let expected = expected_section();
        if readme[start..end] == expected {
            return;
        }
        if std::env::var("GASKET_BLESS").as_deref() == Ok("1") {
            let updated = format!("{}{}{}", &readme[..start], expected, &readme[end..]);
            std::fs::write(&path, updated)
                .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
            return;
        }
        panic!(
            "host-api/README.md's ABI table (between {TABLE_START_MARKER} and \
             {TABLE_END_MARKER}) differs from HOST_FUNCTIONS; {BLESS_HINT}.\n\
             --- expected ---\n{expected}\n--- found ---\n{}",
            &readme[start..end]
        );
    }

    #[test]
    fn every_function_has_a_row() {
        let table = render_markdown_table();
        for row in &HOST_FUNCTIONS {
            assert!(table.contains(&format!("`{}(", row.name)), "{}", row.name);
        }
        assert!(table.contains("| `storage_write(key_ptr: i32, key_len: i32, value_ptr: i32, value_len: i32) -> i32` | 358341 | 500 |"));
        assert!(table.contains("| `gasket.gas` | `(i64) -> ()` |"));
    }
}
