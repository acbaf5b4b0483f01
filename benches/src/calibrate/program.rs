//! The wasm program of a calibration case: one exported method `run` whose loop repeats a
//! body `n` times. Every case and its baseline share this template, so the difference
//! between them is the body alone.

use std::fmt::Write as _;

/// Host functions every calibration program imports (unused imports cost nothing).
const IMPORTS: &str = r#"
  (import "env" "read_register" (func $read_register (param i64 i32)))
  (import "env" "register_len" (func $register_len (param i64) (result i64)))
  (import "env" "input" (func $input (param i64)))
  (import "env" "return_value" (func $return_value (param i32 i32)))
  (import "env" "log_utf8" (func $log_utf8 (param i32 i32)))
  (import "env" "storage_write" (func $storage_write (param i32 i32 i32 i32) (result i32)))
  (import "env" "storage_read" (func $storage_read (param i32 i32 i64) (result i32)))
  (import "env" "storage_remove" (func $storage_remove (param i32 i32) (result i32)))
  (import "env" "storage_has_key" (func $storage_has_key (param i32 i32) (result i32)))
  (import "env" "current_account" (func $current_account (param i64)))
  (import "env" "caller" (func $caller (param i64)))
  (import "env" "block_height" (func $block_height (result i64)))
  (import "env" "block_timestamp" (func $block_timestamp (result i64)))
  (import "env" "sha256" (func $sha256 (param i32 i32 i64)))
"#;

/// Module-level items every program has: helper functions, a table, a global, a passive
/// data segment.
const COMMON_ITEMS: &str = r#"
  (type $v (func))
  (table $t 1024 funcref)
  (elem (i32.const 0) func $empty)
  (global $g (mut i32) (i32.const 1))
  (data $d "calibration")
  (func $empty)
  (func $ret return)
  (func $add3 (param i32 i32 i32) (result i32)
    (return (i32.add (i32.add (local.get 0) (local.get 1)) (local.get 2))))
  (func $rec (param i32) (result i32)
    (if (result i32) (i32.eqz (local.get 0))
      (then (i32.const 0))
      (else (i32.add (call $rec (i32.sub (local.get 0) (i32.const 1))) (i32.const 1)))))
"#;

/// What a program is made of, besides the iteration count.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Program {
    /// Initial memory pages (the maximum is the profile's).
    pub memory_pages: u32,
    /// Extra module-level items (functions, ...).
    pub items: String,
    /// Code before the loop (runs once per call, in case and baseline alike).
    pub setup: String,
    /// The loop body.
    pub body: String,
}

impl Program {
    /// A program with one page of memory, no extra items and no setup.
    pub fn new(body: impl Into<String>) -> Program {
        Program {
            memory_pages: 1,
            items: String::new(),
            setup: String::new(),
            body: body.into(),
        }
    }

    /// The same program with `body` as its loop body: a baseline.
    pub fn with_body(&self, body: impl Into<String>) -> Program {
        Program {
            body: body.into(),
            ..self.clone()
        }
    }

    /// The same program with a memory of `pages` initial pages.
    pub fn with_memory(&self, pages: u32) -> Program {
        Program {
            memory_pages: pages,
            ..self.clone()
        }
    }

    /// The WAT text of the program with a loop of `n` iterations (`n >= 1`).
    ///
    /// Locals: `$i` the counter, `$x` (i32, 0), `$y` (i32, 3), `$z`, `$p` (i32, 0),
    /// `$a` (i64, all ones), `$b` (i64, 3), `$w` (i64, 0), `$f` (f64, 1.5), `$h` (f64, 1.0000001).
    pub fn wat(&self, n: u64) -> String {
        let mut out = String::new();
        out.push_str("(module\n");
        out.push_str(IMPORTS);
        let _ = writeln!(out, "  (memory (export \"memory\") {})", self.memory_pages);
        out.push_str(COMMON_ITEMS);
        out.push_str(&self.items);
        out.push_str(
            "\n  (func (export \"run\")\n    (local $i i64) (local $x i32) (local $y i32) \
             (local $z i32) (local $p i32)\n    (local $a i64) (local $b i64) (local $w i64) (local $f f64) \
             (local $h f64)\n    (local.set $y (i32.const 3))\n    (local.set $a (i64.const -1))\n    \
             (local.set $b (i64.const 3))\n    (local.set $f (f64.const 1.5))\n    \
             (local.set $h (f64.const 1.0000001))\n",
        );
        out.push_str(&self.setup);
        out.push_str("\n    (loop $l\n");
        out.push_str(&self.body);
        let _ = writeln!(
            out,
            "\n      (br_if $l (i64.ne (local.tee $i (i64.add (local.get $i) (i64.const 1))) \
             (i64.const {n}))))\n  )\n)"
        );
        out
    }

    /// The program compiled to wasm binary.
    pub fn wasm(&self, n: u64) -> Result<Vec<u8>, wat::Error> {
        wat::parse_str(self.wat(n))
    }
}

/// `text` repeated `times` times, one per line.
pub fn repeat(text: &str, times: usize) -> String {
    let mut out = String::with_capacity((text.len() + 1) * times);
    for _ in 0..times {
        out.push_str(text);
        out.push('\n');
    }
    out
}
