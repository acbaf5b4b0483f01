//! The placement rules of `placement`, checked on the code of a whole module: functions of
//! every length (so they end at every offset), each with gas charges of both widths,
//! the stack check, loads, stores, compares feeding `br_if` and a `br_table`.

use super::placement::{BRANCH_WINDOW, FUNCTION_ALIGN, JCC_BYTES, PLACED_PAIRS};
use crate::artifact::FunctionKind;
use crate::{compile, Target};

/// A module of `count` functions; function `i` has `i` filler operators before its loop,
/// which shifts everything after them by a few bytes per function.
fn branchy_module(count: usize) -> Vec<u8> {
    let mut wat = String::from(
        "(module\n\
         (import \"gasket\" \"gas\" (func $gas (param i64)))\n\
         (import \"gasket\" \"stack_enter\" (func $enter (param i32)))\n\
         (memory 1)\n",
    );
    for i in 0..count {
        let filler = "local.get 1 i32.const 7 i32.xor local.set 1\n".repeat(i % 23);
        // Charges below 128 take `sub r13, imm8`, larger ones `sub r13, imm32`.
        let small = 1 + i % 100;
        let large = 1000 + i;
        wat += &format!(
            "(func (param i32 i32) (result i32)
               i32.const 64 call $enter
               i64.const {small} call $gas
               {filler}
               (block $out
                 (loop $l
                   i64.const {large} call $gas
                   local.get 0 i32.load offset={i}
                   local.get 1 i32.add local.set 1
                   local.get 0 local.get 1 i32.store offset={}
                   local.get 1 i32.const {i} i32.gt_s br_if $out
                   local.get 1 i32.const 3 i32.and
                   br_table $l $out $l $l
                 ))
               local.get 1)\n",
            i * 4 + 8
        );
    }
    wat += ")";
    wat::parse_str(&wat).expect("the generated module is valid")
}

#[test]
fn functions_start_aligned_and_no_jcc_in_a_loop_straddles_a_window() {
    PLACED_PAIRS.with(|p| p.borrow_mut().clear());
    let artifact = compile(&branchy_module(120), Target::X86_64).expect("compiles");
    let pairs = PLACED_PAIRS.with(|p| std::mem::take(&mut *p.borrow_mut()));
    let code = &artifact.code;

    let mut defined: Vec<(usize, usize)> = artifact
        .functions
        .iter()
        .filter(|f| f.kind == FunctionKind::Defined)
        .map(|f| (f.code_offset as usize, f.code_len as usize))
        .collect();
    assert_eq!(defined.len(), 120);
    defined.sort_unstable();
    for pair in defined.windows(2) {
        let ((start, len), (next, _)) = (pair[0], pair[1]);
        assert_eq!(next % FUNCTION_ALIGN, 0, "a function starts at {next:#x}");
        assert!(
            code[start + len..next].iter().all(|&b| b == 0xcc),
            "the gap before {next:#x} holds something other than int3"
        );
    }

    // Inside each function's loop: the gas charge, the store check (which the load before
    // it shares, see `codegen/load_window.rs`), the compare and the table check; the stack
    // check and the entry charge outside it.
    let inside = pairs.iter().filter(|p| p.2).count();
    assert!(inside >= 120 * 4, "only {inside} pairs placed inside loops");
    assert!(
        pairs.len() - inside >= 120 * 2,
        "pairs outside loops missing"
    );
    for &(start, len, in_loop) in &pairs {
        let jcc_start = start + len - JCC_BYTES;
        if in_loop {
            assert!(
                !jcc_start.is_multiple_of(BRANCH_WINDOW),
                "a {BRANCH_WINDOW}-byte boundary separates the pair at {start:#x} from its jcc"
            );
            assert!(
                jcc_start % BRANCH_WINDOW + JCC_BYTES <= BRANCH_WINDOW,
                "the jcc of the pair at {start:#x} crosses a {BRANCH_WINDOW}-byte boundary"
            );
        }
        let jcc = &code[jcc_start..jcc_start + 2];
        assert!(
            jcc[0] == 0x0f && (0x80..=0x8f).contains(&jcc[1]),
            "the pair at {start:#x} does not end with a jcc rel32: {jcc:02x?}"
        );
    }
}

/// Store checks inside loops take their padding as `ds` prefixes on their address
/// arithmetic (`mov eax, addr; sub eax, [start]; add rax, end`), never NOPs: the
/// instruction right before every such compare is still the `add rax, imm32`, and some of
/// them carry prefixes (`i` filler operators before the store put the checks at every
/// offset of a window).
#[test]
fn store_checks_in_loops_are_padded_with_prefixes_not_nops() {
    let mut wat = String::from("(module (memory 1)\n");
    for i in 0..64 {
        let filler = "local.get 1 i32.const 7 i32.xor local.set 1\n".repeat(i);
        wat += &format!(
            "(func (param i32 i32)
               (loop $l
                 {filler}
                 local.get 0 local.get 1 i32.store offset=8
                 local.get 1 i32.const 1 i32.sub local.tee 1
                 br_if $l))\n"
        );
    }
    wat += ")";
    let wasm = wat::parse_str(&wat).expect("the generated module is valid");
    PLACED_PAIRS.with(|p| p.borrow_mut().clear());
    let artifact = compile(&wasm, Target::X86_64).expect("compiles");
    let pairs = PLACED_PAIRS.with(|p| std::mem::take(&mut *p.borrow_mut()));
    let code = &artifact.code;
    let len_disp = crate::vmctx::VmCtx::WRITTEN_LEN.to_le_bytes();
    let mut checks = 0;
    let mut prefixed = 0;
    for &(start, _, in_loop) in &pairs {
        let compare = &code[start..start + 7];
        if !in_loop || compare[..3] != [0x49, 0x3b, 0x87] || compare[3..] != len_disp {
            continue;
        }
        checks += 1;
        assert_eq!(
            code[start - 7..start - 4],
            [0x48, 0x81, 0xc0],
            "the store check's compare at {start:#x} does not follow its add"
        );
        // Prefixes on the add, then the 7-byte `sub eax, [r15 + disp32]` before them.
        let mut at = start - 7;
        let mut prefixes = 0;
        for _ in 0..2 {
            while code[at - 1] == 0x3e {
                at -= 1;
                prefixes += 1;
            }
            at -= 7;
        }
        if prefixes > 0 {
            prefixed += 1;
        }
    }
    assert_eq!(checks, 64, "store checks in loops");
    assert!(prefixed >= 8, "only {prefixed} store checks took prefixes");
}
