//! The calibration suite: one case per cost class, per dynamic cost, per host function
//! part (base, per byte) and storage, and the adversarial mixes of issue 19.
//!
//! A case is a program and a baseline that differ only in the loop body (or the call
//! context): the measured time and gas are the differences between the two, so the loop,
//! instantiation and setup cancel out.

use gasket_vm::host_api::CallContext;

use super::program::{repeat, Program};

/// Which part of a host function's gas formula a case measures.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Part {
    /// The per-call `base`.
    Base,
    /// The `per_byte` price.
    PerByte,
}

impl Part {
    /// `base` or `per_byte`, as in the JSON price keys.
    pub fn name(self) -> &'static str {
        match self {
            Part::Base => "base",
            Part::PerByte => "per_byte",
        }
    }
}

/// The contract storage a case runs over.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum StorageKind {
    /// [`gasket_vm::host_api::MemoryStorage`].
    Memory,
    /// [`super::FileStorage`]: values appended to a file and read back from it.
    File,
}

impl StorageKind {
    /// `memory` or `file`.
    pub fn name(self) -> &'static str {
        match self {
            StorageKind::Memory => "memory",
            StorageKind::File => "file",
        }
    }
}

/// What a case calibrates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A field of the cost table (`alu`, `bulk_memory_per_byte`, ...).
    Price(&'static str),
    /// One part of a host function's gas formula.
    Host {
        /// The import name (`sha256`).
        function: &'static str,
        /// Base or per byte.
        part: Part,
    },
    /// An adversarial mix: checked against the bound, calibrates nothing by itself.
    Mix,
}

impl Target {
    /// The price key the case calibrates (`alu`, `host:sha256:per_byte`), if any.
    pub fn key(&self) -> Option<String> {
        match self {
            Target::Price(name) => Some((*name).to_string()),
            Target::Host { function, part } => Some(format!("host:{function}:{}", part.name())),
            Target::Mix => None,
        }
    }
}

/// One calibration case.
#[derive(Clone, Debug)]
pub struct Case {
    /// Unique name, for the table and the JSON.
    pub name: String,
    /// What it calibrates.
    pub target: Target,
    /// The gas-report class (`alu`, `memory_grow_per_page`, `host`) that must make up at
    /// least `min_share` of the gas difference between program and baseline.
    pub claims: &'static str,
    /// See `claims`.
    pub min_share: f64,
    /// The measured program.
    pub program: Program,
    /// The program whose time and gas are subtracted.
    pub baseline: Program,
    /// The call context of the program.
    pub context: CallContext,
    /// The call context of the baseline.
    pub baseline_context: CallContext,
    /// Contract storage before each run.
    pub storage: Vec<(Vec<u8>, Vec<u8>)>,
    /// Which storage backend.
    pub storage_kind: StorageKind,
    /// Most loop iterations the program supports (memory, log and storage limits).
    pub max_n: u64,
    /// Fewest loop iterations that measure what the case is about (the cache-hostile
    /// mixes: eight full cycles of their addresses, whatever the gas target; the
    /// first-touch mixes: one access per page, which is also their `max_n`).
    pub min_n: u64,
}

/// Repetitions of an operator in one loop iteration, so the loop's own gas is small.
const UNROLL: usize = 16;
/// Size of the per-byte cases' operand (bytes copied, hashed, logged...).
const BYTES: u32 = 16 * 1024;
/// Recursion depth of the deep-recursion mix: close to the default stack limit (65 536
/// units at about 7 units per `$rec` frame).
pub const RECURSION_DEPTH: u32 = 9_000;
/// Locals of the maximal-locals mix (the default limit is 10 000 per function).
const MAX_LOCALS: u32 = 9_990;
/// Name of the cache-hostile mix (its addresses wrap after about 1000 iterations).
pub const HOSTILE: &str = "mix/cache_hostile_loads";
/// Iterations of the first-touch mixes: one per OS page of the maximal memory.
const FIRST_TOUCH_CYCLE: u64 = MAX_PAGES as u64 * OS_PAGES_PER_PAGE as u64;
/// Iterations before the cache-hostile mixes' addresses repeat: the base steps by 4160
/// bytes modulo 4 MiB (65 536 steps), so one cycle touches every cache line of 64 MiB.
const HOSTILE_CYCLE: u64 = 65_536;
/// Cycles the cache-hostile mixes run at least: their setup fills the whole memory
/// (64 MiB), which the pool does not keep resident, so program and baseline each take ~16 000 page faults
/// (~35 ms here, ±10 ms between runs) before the loop; one cycle (~5–20 ms) drowns in
/// that noise, eight stand well above it.
const HOSTILE_CYCLES: u64 = 8;
/// The cache-hostile stores' access.
const HOSTILE_STORE: &str = "(i32.store offset=OFFSET (local.get $p) (local.get $x))";
/// The cache-hostile loads' access. Each value is added into `$z`: the compiler does not
/// emit a load whose value is dropped or overwritten unread (only its length check), so
/// `(drop (i32.load …))` measured no memory access at all (issue 19, eighth session:
/// cachegrind counted no read misses for it; its twin stores missed L1 every time).
const HOSTILE_LOAD: &str =
    "(local.set $z (i32.add (local.get $z) (i32.load offset=OFFSET (local.get $p))))";
/// The dependent hostile loads' access: the next address waits for this load's value
/// (`value & 0` added to `$p`), so the misses cannot overlap: a full miss per access,
/// what a pointer-chasing contract buys.
const HOSTILE_CHAIN_LOAD: &str = "(local.set $p (i32.add (local.get $p) (i32.and (i32.load offset=OFFSET (local.get $p)) (i32.const 0))))";
/// Name of the dependent hostile loads (over the maximal memory; `/2mib` over 32 pages).
pub const HOSTILE_CHAIN: &str = "mix/hostile_load_chain";
/// The first-touch loads' access, used for the same reason.
const FIRST_TOUCH_LOAD: &str = "(local.set $z (i32.add (local.get $z) (i32.load (local.get $p))))";
/// The smaller memories (pages, name suffix) the cache-hostile mixes also run over,
/// besides the maximal one.
const HOSTILE_SIZES: [(u32, &str); 4] = [(256, "16mib"), (64, "4mib"), (32, "2mib"), (16, "1mib")];
/// Memories within L2 the cache-hostile stores alone also run over (pages, name suffix):
/// how a strided store's time grows with the bytes a call has written, from past L1
/// (48 KiB here) up to the 1 MiB mix (issue 19, tenth session: a written-volume store
/// surcharge would leave every call below its threshold at these ratios).
const HOSTILE_STORE_SMALL_SIZES: [(u32, &str); 3] = [(8, "512kib"), (4, "256kib"), (2, "128kib")];
/// Name of its twin that stores to the same addresses.
pub const HOSTILE_STORES: &str = "mix/cache_hostile_stores";
/// Pages of the largest allowed memory (the default `max_memory_pages`).
const MAX_PAGES: u32 = 1024;
/// Bytes of an OS page (x86-64 and AArch64 Linux base pages): the unit the kernel
/// allocates and zeroes on a first write.
const OS_PAGE: u32 = 4096;
/// OS pages per 64 KiB wasm page.
const OS_PAGES_PER_PAGE: u32 = 65_536 / OS_PAGE;
/// Pages of the memory the pool keeps resident between calls (the default
/// `PoolConfig::memory_keep_resident`, 2 MiB): the cost table's resident allowance, below
/// which pages pay no commit charge.
const RESIDENT_PAGES: u32 = gasket_vm::metering::RESIDENT_PAGES;
/// Iterations of the resident-touch mix: one per OS page of that memory.
const RESIDENT_CYCLE: u64 = RESIDENT_PAGES as u64 * OS_PAGES_PER_PAGE as u64;
/// Bytes of an x86-64 / AArch64 (4 KiB granule) transparent huge page.
const HUGE_PAGE: u32 = 2 * 1024 * 1024;
/// Iterations of the huge-page first-touch mix: one per huge page of the maximal memory.
const HUGE_CYCLE: u64 = MAX_PAGES as u64 * 65_536 / HUGE_PAGE as u64;
/// Name of the first-touch mix: one store into each OS page of a fresh maximal memory.
pub const FIRST_TOUCH_STORES: &str = "mix/first_touch_stores";

fn context(account: &[u8], input: Vec<u8>) -> CallContext {
    CallContext {
        current_account: account.to_vec(),
        caller: account.to_vec(),
        block_height: 7,
        block_timestamp: 1_700_000_000_000_000_000,
        input,
    }
}

impl Case {
    fn new(name: &str, target: Target, claims: &'static str, program: Program) -> Case {
        let baseline = program.with_body("");
        Case {
            name: name.to_string(),
            target,
            claims,
            min_share: 0.5,
            program,
            baseline,
            context: context(b"calibrate", Vec::new()),
            baseline_context: context(b"calibrate", Vec::new()),
            storage: Vec::new(),
            storage_kind: StorageKind::Memory,
            max_n: u64::MAX,
            min_n: 1,
        }
    }

    /// A cost-table class whose operator repeats [`UNROLL`] times per iteration.
    fn class(key: &'static str, op: &str) -> Case {
        Case::new(
            key,
            Target::Price(key),
            key,
            Program::new(repeat(op, UNROLL)),
        )
    }

    fn host(function: &'static str, part: Part, program: Program) -> Case {
        let name = format!("{function}_{}", part.name());
        Case::new(&name, Target::Host { function, part }, "host", program)
    }

    fn mix(name: &str, claims: &'static str, program: Program) -> Case {
        Case::new(name, Target::Mix, claims, program)
    }

    fn min_share(mut self, share: f64) -> Case {
        self.min_share = share;
        self
    }

    fn baseline(mut self, baseline: Program) -> Case {
        self.baseline = baseline;
        self
    }

    fn baseline_body(mut self, body: &str) -> Case {
        self.baseline = self.program.with_body(body);
        self
    }

    fn max_n(mut self, n: u64) -> Case {
        self.max_n = n;
        self
    }

    fn min_n(mut self, n: u64) -> Case {
        self.min_n = n;
        self
    }

    fn on(mut self, kind: StorageKind) -> Case {
        self.name = format!("{}/{}", self.name, kind.name());
        self.storage_kind = kind;
        self
    }
}

/// A chain of `ops` (each consuming and producing one value) applied to `start` and
/// stored back: `start` and the store are two local accesses per [`UNROLL`] operators.
fn chain(start: &str, ops: &str, store: &str) -> String {
    format!("{start}\n{}{store}", repeat(ops, UNROLL))
}

/// One step of a linear congruential generator in `$z`: unpredictable `br_table`
/// indices from its top bits.
const LCG_STEP: &str =
    "(local.set $z (i32.add (i32.mul (local.get $z) (i32.const 1664525)) (i32.const 1013904223)))";
/// Labels (default included) of the `br_table_target` case's large table.
const BR_TABLE_LABELS: u32 = 1024;
/// Declared locals of the `local_init` case's callee.
const LOCALS: u32 = 1000;

/// [`UNROLL`] `br_table`s of `labels` labels (a power of two, the default included),
/// each indexed by the top bits of a fresh [`LCG_STEP`] value.
fn random_br_tables(labels: u32) -> Program {
    let shift = 32 - labels.trailing_zeros();
    let depths = repeat("0", labels as usize - 1);
    Program::new(repeat(
        &format!(
            "{LCG_STEP}\n(block (br_table {depths} 0 (i32.shr_u (local.get $z) (i32.const {shift}))))"
        ),
        UNROLL,
    ))
}

/// A function named `name` with `locals` declared i64 locals that reads the last one.
fn function_with_locals(name: &str, locals: u32) -> String {
    format!(
        "(func {name} {} (drop (local.get {})))",
        repeat("(local i64)", locals as usize),
        locals - 1
    )
}

/// Every case of the suite, in a fixed order.
pub fn all() -> Vec<Case> {
    let mut cases = classes();
    cases.extend(dynamic());
    cases.extend(host());
    cases.extend(mixes());
    cases
}

/// One case per priced cost class. `structural` (price 0, no code) and `unreachable`
/// (once per call: it ends the call) have none.
fn classes() -> Vec<Case> {
    vec![
        // 16 constants folded by 15 adds: constants are a quarter of the gas under
        // version 3's prices (the compiler folds them all: this case measures that a
        // folded constant costs next to nothing, and is usually below the timer).
        Case::new(
            "constant",
            Target::Price("constant"),
            "constant",
            Program::new(format!(
                "{}{}local.set $z",
                repeat("i32.const 7", UNROLL),
                repeat("i32.add", UNROLL - 1)
            )),
        )
        .min_share(0.25),
        Case::class("local", "(local.set $z (local.get $x))"),
        Case::class("global", "(global.set $g (global.get $g))"),
        // Dependent chains: each operator waits for the one before (latency, not
        // throughput, is what an attacker buys).
        Case::new(
            "alu",
            Target::Price("alu"),
            "alu",
            Program::new(chain(
                "local.get $x",
                "i32.extend8_s\ni32.eqz\ni32.extend16_s\ni32.eqz",
                "local.set $x",
            )),
        ),
        Case::new(
            "alu/rotate",
            Target::Price("alu"),
            "alu",
            Program::new(chain(
                "local.get $x",
                "local.get $y\ni32.rotl\ni32.extend8_s",
                "local.set $x",
            )),
        ),
        Case::new(
            "bit_count",
            Target::Price("bit_count"),
            "bit_count",
            Program::new(chain(
                "local.get $x",
                "i32.ctz\ni32.clz\ni32.popcnt",
                "local.set $x",
            )),
        ),
        Case::new(
            "bit_count/i64",
            Target::Price("bit_count"),
            "bit_count",
            Program::new(chain(
                "local.get $w",
                "i64.ctz\ni64.clz\ni64.popcnt",
                "local.set $w",
            )),
        ),
        Case::new(
            "mul",
            Target::Price("mul"),
            "mul",
            Program::new(chain(
                "local.get $x",
                "local.get $y\ni32.mul",
                "local.set $x",
            )),
        ),
        // Full-width dividends: the slowest division an attacker can pick.
        Case::class(
            "div_rem",
            "(local.set $w (i64.div_u (local.get $a) (local.get $b)))",
        ),
        // Memory is zero, so each load's result is the next load's address.
        Case::new(
            "load",
            Target::Price("load"),
            "load",
            Program::new(chain("local.get $p", "i32.load", "local.set $p")),
        ),
        // The granule the stores write is marked in the setup, which the baseline runs
        // too: the case measures stores, not the written-range charge (cost table 5).
        Case::new(
            "store",
            Target::Price("store"),
            "store",
            Program {
                setup: "(i32.store (local.get $p) (i32.const 0))".into(),
                ..Program::new(repeat("(i32.store (local.get $p) (local.get $x))", UNROLL))
            },
        ),
        Case::class(
            "branch",
            "(block (br_if 0 (local.get $x)) (if (local.get $x) (then nop)))",
        )
        .min_share(0.6),
        Case::class("br_table", "(block (block (br_table 0 1 (local.get $x))))"),
        // Unpredictable indices into a small table: a mispredicted indirect jump.
        Case::new(
            "br_table/random",
            Target::Price("br_table"),
            "br_table",
            random_br_tables(4),
        )
        .baseline_body(&repeat(LCG_STEP, UNROLL))
        .min_share(0.3),
        // Per label: a large table against a small one, both with unpredictable indices.
        Case::new(
            "br_table_target",
            Target::Price("br_table_target"),
            "br_table_target",
            random_br_tables(BR_TABLE_LABELS),
        )
        .baseline(random_br_tables(4))
        .min_share(0.9),
        // Per declared local: calls of a function with many locals against calls of one
        // with none.
        Case::new(
            "local_init",
            Target::Price("local_init"),
            "local_init",
            Program {
                items: function_with_locals("$many_locals", LOCALS),
                ..Program::new(repeat("(call $many_locals)", UNROLL))
            },
        )
        .baseline_body(&repeat("(call $empty)", UNROLL))
        .min_share(0.8),
        Case::class("call", "(call $empty)"),
        Case::class("call_indirect", "(call_indirect (type $v) (i32.const 0))"),
        // `return` only ends a call: measured as `call $ret` against `call $empty`.
        Case::class("return", "(call $ret)").baseline_body(&repeat("(call $empty)", UNROLL)),
        Case::class("memory_size", "(local.set $z (memory.size))").min_share(0.5),
        Case::class("memory_grow", "(local.set $z (memory.grow (i32.const 0)))"),
        Case::class(
            "bulk_memory",
            "(memory.fill (i32.const 0) (i32.const 0) (i32.const 0))",
        ),
        Case::class("segment_drop", "(data.drop $d)"),
        Case::class(
            "table_access",
            "(table.set $t (i32.const 1) (table.get $t (i32.const 0)))",
        ),
        Case::class(
            "table_grow",
            "(local.set $z (table.grow $t (ref.null func) (i32.const 0)))",
        ),
        Case::class(
            "table_bulk",
            "(table.fill $t (i32.const 0) (ref.null func) (i32.const 0))",
        ),
        Case::new(
            "float_arith",
            Target::Price("float_arith"),
            "float_arith",
            Program::new(chain(
                "local.get $f",
                "local.get $h\nf64.mul",
                "local.set $f",
            )),
        ),
        Case::new(
            "float_div_sqrt",
            Target::Price("float_div_sqrt"),
            "float_div_sqrt",
            Program::new(chain("local.get $f", "f64.sqrt", "local.set $f")),
        ),
        Case::class(
            "float_to_int",
            "(local.set $w (i64.trunc_sat_f64_s (local.get $f)))",
        ),
    ]
}

/// The size-proportional prices: the operator with a large operand against the same
/// operator with a zero operand.
fn dynamic() -> Vec<Case> {
    // Both pages are marked written in the setup, which the baselines run too: the cases
    // measure the bytes, not the written-range charge (cost table version 5).
    let bulk = Program {
        memory_pages: 2,
        setup: "(memory.fill (i32.const 0) (i32.const 0) (i32.const 131072))".into(),
        ..Program::new(format!(
            "(memory.fill (i32.const 0) (i32.const 1) (i32.const {BYTES}))"
        ))
    };
    vec![
        // One page per iteration until the memory is at its maximum.
        Case::new(
            "memory_grow_per_page",
            Target::Price("memory_grow_per_page"),
            "memory_grow_per_page",
            Program::new("(drop (memory.grow (i32.const 1)))"),
        )
        .baseline_body("(local.set $z (memory.grow (i32.const 0)))")
        .min_share(0.35)
        .max_n(u64::from(MAX_PAGES) - 1),
        // The same, each new page then written once per OS page (16 stores): what a
        // page costs once it exists (the kernel allocates and zeroes each OS page on its
        // first write, the pool clears or releases it after the call). The baseline
        // writes the same 16 offsets of the last existing page, already committed. The
        // memory starts at the resident allowance, so every grown page pays the commit
        // charge (cost table version 4), which this case calibrates; it always grows to
        // the maximum (at that price a gas target would allow only a few pages, too few
        // to time).
        Case::new(
            "memory_grow_per_page/touched",
            Target::Price("memory_commit_per_page"),
            "memory_commit_per_page",
            Program {
                memory_pages: RESIDENT_PAGES,
                ..Program::new(touch_new_page(1, 0))
            },
        )
        .baseline_body(&touch_new_page(0, 1))
        .min_share(0.35)
        .min_n(u64::from(MAX_PAGES - RESIDENT_PAGES))
        .max_n(u64::from(MAX_PAGES - RESIDENT_PAGES)),
        Case::new(
            "bulk_memory_per_byte/fill",
            Target::Price("bulk_memory_per_byte"),
            "bulk_memory_per_byte",
            bulk.clone(),
        )
        .baseline_body("(memory.fill (i32.const 0) (i32.const 1) (i32.const 0))"),
        Case::new(
            "bulk_memory_per_byte/copy",
            Target::Price("bulk_memory_per_byte"),
            "bulk_memory_per_byte",
            bulk.with_body(format!(
                "(memory.copy (i32.const 65536) (i32.const 0) (i32.const {BYTES}))"
            )),
        )
        .baseline_body("(memory.copy (i32.const 65536) (i32.const 0) (i32.const 0))"),
        Case::new(
            "table_per_element",
            Target::Price("table_per_element"),
            "table_per_element",
            Program::new("(table.fill $t (i32.const 0) (ref.null func) (i32.const 1024))"),
        )
        .baseline_body("(table.fill $t (i32.const 0) (ref.null func) (i32.const 0))"),
    ]
}

/// Grows the memory by `delta` pages, then stores once into each OS page of the page
/// `back` pages below the old size (the first new page for `delta` 1 and `back` 0).
fn touch_new_page(delta: u32, back: u32) -> String {
    let mut body = format!(
        "(local.set $p (i32.shl (i32.sub (memory.grow (i32.const {delta})) (i32.const {back})) (i32.const 16)))\n"
    );
    for k in 0..OS_PAGES_PER_PAGE {
        body.push_str(&format!(
            "(i32.store offset={} (local.get $p) (local.get $y))\n",
            k * OS_PAGE
        ));
    }
    body
}

/// 16 accesses (`access` with its OFFSET filled in: a load or a store) a sixteenth of a
/// `pages`-page memory (a power of two of at least 2 pages: a sixteenth must exceed 4160
/// bytes) less 4160 bytes apart, from
/// a base that moves by a page and a cache line per iteration within the first
/// sixteenth, over the whole memory (filled first, so every page exists): for 1024
/// pages the highest address is 15 × (4 MiB - 4160) + 4 MiB - 4 < 64 MiB, and a cycle
/// of 65 536 iterations touches every cache line.
fn hostile_over(access: &str, pages: u32) -> Program {
    hostile_within(access, pages, UNROLL as u32)
}

/// [`hostile_over`]'s first `parts` accesses alone (`parts` ≤ 16), so only the first
/// `parts` sixteenths of the memory are accessed, and only they are filled (written):
/// `mix/cache_hostile_stores/1536kib` strides over 1.5 MiB of a 2 MiB memory with 1.5 MiB
/// written, what a call keeping its written volume below a threshold could do.
fn hostile_within(access: &str, pages: u32, parts: u32) -> Program {
    let part = pages * 65_536 / UNROLL as u32;
    let mut body = String::new();
    for k in 0..parts {
        let offset = k * (part - 4160);
        body.push_str(&access.replace("OFFSET", &offset.to_string()));
        body.push('\n');
    }
    body.push_str(&format!(
        "(local.set $p (i32.and (i32.add (local.get $p) (i32.const 4160)) (i32.const {})))",
        part - 4
    ));
    Program {
        memory_pages: pages,
        setup: format!(
            "(memory.fill (i32.const 0) (i32.const 1) (i32.const {}))",
            parts * part
        ),
        ..Program::new(body)
    }
}

/// 16 stores 4 KiB apart in a one-page memory (the first 64 KiB filled), from a base
/// that moves by a cache line within the first 4 KiB: each iteration's 16 lines share one
/// L1 set (48 KiB, 12 ways: the set index is below the 4 KiB page offset, so virtual
/// addresses choose it), so every store misses L1 while the call has written only 16
/// granules; a cycle of 64 iterations touches every line of the 64 KiB.
fn aliased_stores() -> Program {
    let mut body = String::new();
    for k in 0..UNROLL as u32 {
        body.push_str(&HOSTILE_STORE.replace("OFFSET", &(k * OS_PAGE).to_string()));
        body.push('\n');
    }
    body.push_str(&format!(
        "(local.set $p (i32.and (i32.add (local.get $p) (i32.const 64)) (i32.const {})))",
        OS_PAGE - 4
    ));
    Program {
        memory_pages: 1,
        setup: format!(
            "(memory.fill (i32.const 0) (i32.const 1) (i32.const {}))",
            UNROLL as u32 * OS_PAGE
        ),
        ..Program::new(body)
    }
}

/// `access` at `$p` in a maximal memory, then `$p` moves on by `stride` bytes.
fn first_touch_stride(access: &str, stride: u32) -> Program {
    Program {
        memory_pages: MAX_PAGES,
        ..Program::new(format!(
            "{access}\n(local.set $p (i32.add (local.get $p) (i32.const {stride})))"
        ))
    }
}

/// What a cache-hostile mix over `pages` pages claims: the memory-size surcharge
/// (cost table version 6) where the default tiers charge one, else its access `class`.
pub fn hostile_claim(pages: u32, class: &'static str) -> &'static str {
    if gasket_vm::metering::CostTable::default()
        .memory_access_tiers
        .surcharge(pages)
        > 0
    {
        gasket_vm::metering::DynamicCost::MemoryAccess.name()
    } else {
        class
    }
}

/// A host call repeated `times` times per iteration.
fn calls(call: &str, times: usize) -> Program {
    Program {
        memory_pages: 2,
        ..Program::new(repeat(call, times))
    }
}

/// Storage keys the storage cases use: 4-byte little-endian iteration numbers.
fn key(n: u64) -> Vec<u8> {
    (n as u32).to_le_bytes().to_vec()
}

/// Host functions: base (smallest operand) against an empty loop, per byte (a large
/// operand) against the smallest operand.
fn host() -> Vec<Case> {
    let big = BYTES;
    let long_account = vec![b'a'; 64];
    let mut cases = vec![
        Case::host(
            "block_height",
            Part::Base,
            calls("(local.set $w (call $block_height))", UNROLL),
        ),
        Case::host(
            "block_timestamp",
            Part::Base,
            calls("(local.set $w (call $block_timestamp))", UNROLL),
        ),
        Case::host(
            "register_len",
            Part::Base,
            calls("(local.set $w (call $register_len (i64.const 0)))", UNROLL),
        ),
        Case::host(
            "current_account",
            Part::Base,
            calls("(call $current_account (i64.const 1))", UNROLL),
        ),
        {
            let mut case = Case::host(
                "current_account",
                Part::PerByte,
                calls("(call $current_account (i64.const 1))", UNROLL),
            );
            case.baseline = case.program.clone();
            case.context = context(&long_account, Vec::new());
            case.baseline_context = context(b"a", Vec::new());
            case
        },
        Case::host(
            "caller",
            Part::Base,
            calls("(call $caller (i64.const 1))", UNROLL),
        ),
        Case::host(
            "input",
            Part::Base,
            calls("(call $input (i64.const 1))", UNROLL),
        ),
        {
            let mut case = Case::host(
                "input",
                Part::PerByte,
                calls("(call $input (i64.const 1))", UNROLL),
            );
            case.baseline = case.program.clone();
            case.context = context(b"calibrate", vec![1; big as usize]);
            case
        },
        {
            // Register 0 holds the input: `big` bytes against an empty input.
            let program = Program {
                setup: "(call $input (i64.const 0))".into(),
                ..calls("(call $read_register (i64.const 0) (i32.const 0))", UNROLL)
            };
            let mut case = Case::host("read_register", Part::PerByte, program.clone());
            case.baseline = program;
            case.context = context(b"calibrate", vec![1; big as usize]);
            case
        },
        Case::host(
            "read_register",
            Part::Base,
            Program {
                setup: "(call $input (i64.const 0))".into(),
                ..calls("(call $read_register (i64.const 0) (i32.const 0))", UNROLL)
            },
        ),
        Case::host(
            "return_value",
            Part::Base,
            calls("(call $return_value (i32.const 0) (i32.const 0))", UNROLL),
        ),
        Case::host(
            "return_value",
            Part::PerByte,
            calls(
                &format!("(call $return_value (i32.const 0) (i32.const {big}))"),
                1,
            ),
        )
        .baseline_body("(call $return_value (i32.const 0) (i32.const 0))"),
        Case::host(
            "log_utf8",
            Part::Base,
            calls("(call $log_utf8 (i32.const 0) (i32.const 0))", 1),
        )
        .max_n(HOST_LOGS),
        Case::host(
            "log_utf8",
            Part::PerByte,
            calls(
                &format!("(call $log_utf8 (i32.const 0) (i32.const {big}))"),
                1,
            ),
        )
        .baseline_body("(call $log_utf8 (i32.const 0) (i32.const 0))")
        // Always the most logs a call may hold (1.6 MiB of text): what they cost depends
        // on how much a call keeps (past the allocator's trim threshold every call's
        // log lines are fresh pages: page faults), so a count cut to the gas target
        // would measure the cheap case the price itself picked.
        .min_n(HOST_LOGS)
        .max_n(HOST_LOGS),
        Case::host(
            "sha256",
            Part::Base,
            calls(
                "(call $sha256 (i32.const 0) (i32.const 0) (i64.const 0))",
                UNROLL,
            ),
        ),
        Case::host(
            "sha256",
            Part::PerByte,
            calls(
                &format!("(call $sha256 (i32.const 0) (i32.const {big}) (i64.const 0))"),
                1,
            ),
        )
        .baseline_body("(call $sha256 (i32.const 0) (i32.const 0) (i64.const 0))"),
    ];
    for kind in [StorageKind::Memory, StorageKind::File] {
        cases.extend(storage(kind));
    }
    cases
}

/// Most logs a call may emit (`HostLimits::DEFAULT.max_logs`).
const HOST_LOGS: u64 = 100;
/// Keys preloaded for the read and remove cases, and most iterations of any storage case.
const STORAGE_KEYS: u64 = 4096;
/// Value size of the storage per-byte cases.
const VALUE_BYTES: u32 = 4096;
/// Key size of the key-length per-byte cases (the default `max_key_len` is 2 KiB).
const LONG_KEY: u32 = 2048;

/// The storage functions over `kind`: fresh keys (the iteration number, stored at
/// address 0 before each call), present keys for reads and removes.
fn storage(kind: StorageKind) -> Vec<Case> {
    let store_key = "(i32.store (i32.const 0) (i32.wrap_i64 (local.get $i)))\n";
    let with_key = |call: String| -> Program { calls(&format!("{store_key}{call}"), 1) };
    let preload = |value_len: usize| -> Vec<(Vec<u8>, Vec<u8>)> {
        (0..STORAGE_KEYS)
            .map(|n| (key(n), vec![7; value_len]))
            .collect()
    };
    let write = |len: u32| {
        format!("(local.set $z (call $storage_write (i32.const 0) (i32.const 4) (i32.const 16) (i32.const {len})))")
    };
    let mut read_base = Case::host(
        "storage_read",
        Part::Base,
        with_key(
            "(local.set $z (call $storage_read (i32.const 0) (i32.const 4) (i64.const 0)))".into(),
        ),
    )
    .baseline_body(store_key);
    read_base.storage = preload(0);
    // Keys below 2^16 hold large values, the same keys + 2^16 empty ones.
    let read_key = |offset: u32| {
        format!(
            "(i32.store (i32.const 0) (i32.add (i32.wrap_i64 (local.get $i)) (i32.const {offset})))\n\
             (local.set $z (call $storage_read (i32.const 0) (i32.const 4) (i64.const 0)))"
        )
    };
    let mut read_bytes = Case::host("storage_read", Part::PerByte, calls(&read_key(0), 1))
        .baseline_body(&read_key(1 << 16));
    read_bytes.storage = preload(VALUE_BYTES as usize);
    read_bytes
        .storage
        .extend((0..STORAGE_KEYS).map(|n| (key(n + (1 << 16)), Vec::new())));
    let mut remove_base = Case::host(
        "storage_remove",
        Part::Base,
        with_key("(local.set $z (call $storage_remove (i32.const 0) (i32.const 4)))".into()),
    )
    .baseline_body(store_key);
    remove_base.storage = preload(8);
    let absent = |function: &str, len: u32| {
        format!("(local.set $z (call ${function} (i32.const 0) (i32.const {len})))")
    };
    let mut cases = vec![
        Case::host("storage_write", Part::Base, with_key(write(0))).baseline_body(store_key),
        Case::host("storage_write", Part::PerByte, with_key(write(VALUE_BYTES)))
            .baseline_body(&format!("{store_key}{}", write(0))),
        read_base,
        read_bytes,
        remove_base,
        // Long absent keys against 4-byte absent keys (memory past address 4 is zero).
        Case::host(
            "storage_remove",
            Part::PerByte,
            calls(&absent("storage_remove", LONG_KEY), 1),
        )
        .baseline_body(&absent("storage_remove", 4)),
        Case::host(
            "storage_has_key",
            Part::Base,
            calls(&absent("storage_has_key", 4), UNROLL),
        ),
        Case::host(
            "storage_has_key",
            Part::PerByte,
            calls(&absent("storage_has_key", LONG_KEY), 1),
        )
        .baseline_body(&absent("storage_has_key", 4)),
    ];
    for case in &mut cases {
        case.max_n = STORAGE_KEYS;
    }
    cases.into_iter().map(|case| case.on(kind)).collect()
}

/// The adversarial mixes, each against an empty loop.
fn mixes() -> Vec<Case> {
    let big_locals = function_with_locals("$big_locals", MAX_LOCALS);
    let large_table = {
        let labels = repeat("0", 4095);
        format!("(block (br_table {labels} 0 (i32.and (i32.wrap_i64 (local.get $i)) (i32.const 4095))))")
    };
    let hostile = |access: &str| hostile_over(access, MAX_PAGES);
    // `access` at `$p`, then `$p` moves to the next OS page: a cycle of
    // `FIRST_TOUCH_CYCLE` iterations touches every OS page of the maximal memory once.
    let first_touch = |access: &str| first_touch_stride(access, OS_PAGE);
    let mut mixes = vec![
        Case::mix(
            "mix/call_return_storm",
            "call",
            Program::new(repeat(
                "(local.set $z (call $add3 (local.get $x) (local.get $y) (local.get $z)))",
                UNROLL,
            )),
        )
        .min_share(0.4),
        Case::mix(
            "mix/br_table_4096",
            "br_table_target",
            Program::new(repeat(&large_table, UNROLL)),
        )
        .min_share(0.4),
        Case::mix(
            "mix/memory_grow_churn",
            "memory_grow",
            Program::new("(drop (memory.grow (i32.const 1)))\n(drop (memory.grow (i32.const 0)))"),
        )
        .max_n(u64::from(MAX_PAGES) - 1),
        Case::mix(
            "mix/small_host_calls",
            "host",
            calls(
                "(drop (call $register_len (i64.const 0)))\n(drop (call $block_height))",
                UNROLL / 2,
            ),
        ),
        Case::mix(
            "mix/deep_recursion",
            "call",
            Program::new(format!("(drop (call $rec (i32.const {RECURSION_DEPTH})))")),
        )
        .min_share(0.3),
        Case::mix(
            "mix/max_locals",
            "local_init",
            Program {
                items: big_locals,
                ..Program::new(repeat("(call $big_locals)", UNROLL))
            },
        ),
        Case::mix(
            HOSTILE,
            hostile_claim(MAX_PAGES, "load"),
            hostile(HOSTILE_LOAD),
        )
        .min_share(0.4)
        .min_n(HOSTILE_CYCLES * HOSTILE_CYCLE),
        // One store into each OS page of a maximal memory that nothing wrote before
        // (no setup fill, unlike the cache-hostile mixes): every store is a page fault
        // whose page the kernel allocates and zeroes. The baseline has a one-page
        // memory and no store, so whatever a price charges for the memory's pages
        // counts as the mix's gas: since cost table version 4, the commit charge of its
        // initial pages above the resident allowance, paid at instantiation.
        Case::mix(
            FIRST_TOUCH_STORES,
            "memory_commit_per_page",
            first_touch("(i32.store (local.get $p) (local.get $y))"),
        )
        .baseline(first_touch("").with_memory(1))
        .min_share(0.3)
        .min_n(FIRST_TOUCH_CYCLE)
        .max_n(FIRST_TOUCH_CYCLE),
        // One store per 2 MiB of the same fresh memory (32 stores): where the kernel
        // backs anonymous memory with transparent huge pages (`enabled` = always, or a
        // runtime that asks for them), each store commits and zeroes 2 MiB.
        Case::mix(
            "mix/first_touch_stores/huge",
            "memory_commit_per_page",
            first_touch_stride("(i32.store (local.get $p) (local.get $y))", HUGE_PAGE),
        )
        .baseline(first_touch_stride("", HUGE_PAGE).with_memory(1))
        .min_share(0.3)
        .min_n(HUGE_CYCLE)
        .max_n(HUGE_CYCLE),
        // One store into each OS page of a 2 MiB memory: the pool keeps that much of a
        // memory resident (`memory_keep_resident`, the resident allowance), so after the
        // first call no store faults and no commit is charged, but the pool clears each
        // written page when the instance is dropped (inside the timed call): since cost
        // table version 5 each store pays the granule it adds to the written ranges
        // (`memory_write_per_granule`), which this case calibrates.
        Case::mix(
            "mix/resident_touch_stores",
            "memory_write_per_granule",
            first_touch("(i32.store (local.get $p) (local.get $y))").with_memory(RESIDENT_PAGES),
        )
        .baseline(first_touch("").with_memory(RESIDENT_PAGES))
        .min_share(0.3)
        .min_n(RESIDENT_CYCLE)
        .max_n(RESIDENT_CYCLE),
        // Its loads: a read of a never-written page maps the kernel's shared zero page
        // (a fault, but no allocation).
        Case::mix(
            "mix/first_touch_loads",
            "memory_commit_per_page",
            first_touch(FIRST_TOUCH_LOAD),
        )
        .baseline(first_touch("").with_memory(1))
        .min_share(0.3)
        .min_n(FIRST_TOUCH_CYCLE)
        .max_n(FIRST_TOUCH_CYCLE),
        // The same addresses written: each store's line must be fetched before it is
        // written (and a dirty line written back when evicted).
        Case::mix(
            HOSTILE_STORES,
            hostile_claim(MAX_PAGES, "store"),
            hostile(HOSTILE_STORE),
        )
        .min_share(0.3)
        .min_n(HOSTILE_CYCLES * HOSTILE_CYCLE),
        // The same stores over smaller memories (a smaller `max_memory_pages`): 16 MiB
        // (beyond this machine's 4 MiB L2 and the second-level TLB's reach of 4 KiB
        // pages) and 4 MiB (about both).
        Case::mix(
            "mix/cache_hostile_stores/16mib",
            hostile_claim(256, "store"),
            hostile_over(HOSTILE_STORE, 256),
        )
        .min_share(0.3)
        .min_n(HOSTILE_CYCLES * HOSTILE_CYCLE),
        Case::mix(
            "mix/cache_hostile_stores/4mib",
            hostile_claim(64, "store"),
            hostile_over(HOSTILE_STORE, 64),
        )
        .min_share(0.3)
        .min_n(HOSTILE_CYCLES * HOSTILE_CYCLE),
    ];
    // The same stores and loads over every smaller memory the surcharge's tiers are
    // derived from (issue 19, cost table version 6): 2 MiB (the resident allowance and
    // this machine's L2) and 1 MiB (within it), and the loads' twins of the stores'
    // 16 and 4 MiB.
    // The hostile stores' mix over `pages` (its written volume: the setup fills them).
    let store_mix = |pages, label: &str| {
        Case::mix(
            &format!("{HOSTILE_STORES}/{label}"),
            hostile_claim(pages, "store"),
            hostile_over(HOSTILE_STORE, pages),
        )
        .min_share(0.3)
        .min_n(HOSTILE_CYCLES * HOSTILE_CYCLE)
    };
    for (pages, label) in HOSTILE_SIZES {
        if pages < 64 {
            mixes.push(store_mix(pages, label));
        }
        mixes.push(
            Case::mix(
                &format!("{HOSTILE}/{label}"),
                hostile_claim(pages, "load"),
                hostile_over(HOSTILE_LOAD, pages),
            )
            .min_share(0.4)
            .min_n(HOSTILE_CYCLES * HOSTILE_CYCLE),
        );
    }
    // Stores alone over written volumes below 1 MiB, and over 1.5 MiB (12 of the 16
    // strides of the 2 MiB mix, 1.5 MiB filled): the steps of a locality curve between
    // L1 and L2, where a threshold on the bytes written would sit.
    for (pages, label) in HOSTILE_STORE_SMALL_SIZES {
        mixes.push(store_mix(pages, label));
    }
    mixes.push(
        Case::mix(
            &format!("{HOSTILE_STORES}/1536kib"),
            hostile_claim(32, "store"),
            hostile_within(HOSTILE_STORE, 32, 12),
        )
        .min_share(0.3)
        .min_n(HOSTILE_CYCLES * HOSTILE_CYCLE),
    );
    // Stores that miss L1 with 64 KiB written: 16 lines of one L1 set (`aliased_stores`).
    mixes.push(
        Case::mix(
            &format!("{HOSTILE_STORES}/64kib_aliased"),
            hostile_claim(1, "store"),
            aliased_stores(),
        )
        .min_share(0.3)
        .min_n(HOSTILE_CYCLES * HOSTILE_CYCLE),
    );
    // Dependent loads over the largest memory and over tier 0's largest: one cycle is
    // enough (each access waits for its miss, so the loop dwarfs the setup's faults).
    for (pages, suffix) in [(MAX_PAGES, ""), (32, "/2mib")] {
        mixes.push(
            Case::mix(
                &format!("{HOSTILE_CHAIN}{suffix}"),
                hostile_claim(pages, "load"),
                hostile_over(HOSTILE_CHAIN_LOAD, pages),
            )
            .min_share(0.4)
            .min_n(HOSTILE_CYCLE),
        );
    }
    mixes
}
