//! The example contracts (C, `fixtures/contracts`) and the hostile contracts
//! (`fixtures/hostile`) through the harness, each with its exact outcome. The JIT bombs
//! (deep nesting, huge br_table, many locals, straight-line bodies) are in `hostile.rs`.

use gasket_vm::metering::Profile;
use gasket_vm::testing::{Outcome, TestChain};
use gasket_vm::{Engine, Imports, Instance, LoadError, TrapKind, Value};

fn chain_with(name: &str) -> TestChain {
    let mut chain = TestChain::new();
    let c = gasket_fixtures::c_contract(name).expect("contract exists");
    chain.deploy(name, c.wasm).expect("deploys");
    chain
}

fn with_account(amount: u64, account: &str) -> Vec<u8> {
    let mut v = amount.to_le_bytes().to_vec();
    v.extend_from_slice(account.as_bytes());
    v
}

fn panicked(out: &Outcome, message: &str) {
    assert_eq!(out.panic_message(), Some(message), "{:?}", out.status);
    assert!(out.state_changes.is_empty());
}

#[test]
fn every_c_contract_passes_the_contract_profile() {
    let engine = Engine::new(Profile::contract()).unwrap();
    for c in gasket_fixtures::C_CONTRACTS {
        engine
            .compile(c.wasm)
            .unwrap_or_else(|e| panic!("{}: {e}", c.name));
        assert!(c.path().is_file());
        assert!(c.source.contains("#include \"gasket.h\""));
    }
}

#[test]
fn c_counter() {
    let mut chain = chain_with("counter");
    for n in 1..=3 {
        let out = chain.call("counter", "increment").run().unwrap();
        assert_eq!(out.unwrap_u64(), n);
        assert_eq!(out.logs, vec!["incremented"]);
    }
    assert_eq!(chain.call("counter", "get").run().unwrap().unwrap_u64(), 3);
}

#[test]
fn c_token_with_its_error_paths() {
    let mut chain = chain_with("token");
    let t = "token";
    chain
        .call(t, "init")
        .caller("owner")
        .run()
        .unwrap()
        .unwrap();
    panicked(
        &chain.call(t, "init").caller("mallory").run().unwrap(),
        "already initialized",
    );
    let out = chain
        .call(t, "mint")
        .caller("owner")
        .input(with_account(100, "alice"))
        .run()
        .unwrap();
    out.unwrap();
    assert_eq!(out.logs, vec!["mint"]);
    let before = chain.storage(t).unwrap().clone();
    panicked(
        &chain
            .call(t, "mint")
            .caller("mallory")
            .input(with_account(1_000, "mallory"))
            .run()
            .unwrap(),
        "unauthorized mint",
    );
    panicked(
        &chain
            .call(t, "mint")
            .caller("owner")
            .input(with_account(u64::MAX, "bob"))
            .run()
            .unwrap(),
        "total supply overflow",
    );
    assert_eq!(
        chain.storage(t).unwrap(),
        &before,
        "failed calls change nothing"
    );

    chain
        .call(t, "transfer")
        .caller("alice")
        .input(with_account(30, "bob"))
        .run()
        .unwrap()
        .unwrap();
    panicked(
        &chain
            .call(t, "transfer")
            .caller("bob")
            .input(with_account(31, "alice"))
            .run()
            .unwrap(),
        "insufficient balance",
    );
    // A self-transfer keeps the balance.
    chain
        .call(t, "transfer")
        .caller("bob")
        .input(with_account(30, "bob"))
        .run()
        .unwrap()
        .unwrap();
    let balance = |chain: &mut TestChain, who: &str| {
        chain
            .call(t, "balance_of")
            .input(who.as_bytes().to_vec())
            .run()
            .unwrap()
            .unwrap_u64()
    };
    assert_eq!(balance(&mut chain, "alice"), 70);
    assert_eq!(balance(&mut chain, "bob"), 30);
    assert_eq!(balance(&mut chain, "nobody"), 0);
    assert_eq!(
        chain.call(t, "total_supply").run().unwrap().unwrap_u64(),
        100
    );
}

#[test]
fn c_key_value_store() {
    let mut chain = chain_with("kv");
    let set = |chain: &mut TestChain, k: &[u8], v: &[u8]| {
        let mut input = (k.len() as u32).to_le_bytes().to_vec();
        input.extend_from_slice(k);
        input.extend_from_slice(v);
        chain.call("kv", "set").input(input).run().unwrap()
    };
    assert_eq!(set(&mut chain, b"a", b"1").unwrap(), [0]);
    assert_eq!(set(&mut chain, b"a", b"22").unwrap(), [1]);
    assert_eq!(set(&mut chain, b"", b"empty key").unwrap(), [0]);
    let get =
        |chain: &mut TestChain, k: &[u8]| chain.call("kv", "get").input(k.to_vec()).run().unwrap();
    assert_eq!(get(&mut chain, b"a").unwrap(), b"22");
    assert_eq!(get(&mut chain, b"").unwrap(), b"empty key");
    panicked(&get(&mut chain, b"zz"), "key not found");
    assert_eq!(
        chain
            .call("kv", "has")
            .input(b"a".to_vec())
            .run()
            .unwrap()
            .unwrap(),
        [1]
    );
    assert_eq!(
        chain
            .call("kv", "remove")
            .input(b"a".to_vec())
            .run()
            .unwrap()
            .unwrap(),
        [1]
    );
    assert_eq!(
        chain
            .call("kv", "remove")
            .input(b"a".to_vec())
            .run()
            .unwrap()
            .unwrap(),
        [0]
    );
    assert_eq!(
        chain
            .call("kv", "has")
            .input(b"a".to_vec())
            .run()
            .unwrap()
            .unwrap(),
        [0]
    );
    panicked(
        &chain
            .call("kv", "set")
            .input(vec![9, 0, 0, 0, 1])
            .run()
            .unwrap(),
        "key length past the end of the input",
    );
}

#[test]
fn c_sha256_in_wasm_matches_the_host() {
    use sha2::{Digest, Sha256};
    let mut chain = chain_with("sha256");
    // Lengths around the padding boundaries (55/56/64) and several blocks.
    for len in [0usize, 1, 3, 55, 56, 63, 64, 65, 119, 120, 128, 1000, 4096] {
        let msg: Vec<u8> = (0..len).map(|i| (i * 31 + 7) as u8).collect();
        let expected = Sha256::digest(&msg).to_vec();
        let host = chain
            .call("sha256", "hash_host")
            .input(msg.clone())
            .run()
            .unwrap();
        let wasm = chain
            .call("sha256", "hash_wasm")
            .input(msg.clone())
            .run()
            .unwrap();
        let both = chain.call("sha256", "compare").input(msg).run().unwrap();
        assert_eq!(host.unwrap(), expected, "host, {len} bytes");
        assert_eq!(wasm.unwrap(), expected, "wasm, {len} bytes");
        assert_eq!(both.unwrap(), expected, "compare, {len} bytes");
        assert_eq!(both.logs, vec!["digests match"]);
        if len >= 1000 {
            assert!(
                wasm.gas_used > host.gas_used,
                "{len}: hashing in wasm costs more"
            );
        }
    }
}

#[test]
fn c_gas_burner_is_linear_and_runs_out() {
    let mut chain = chain_with("gas_burner");
    let burn = |chain: &mut TestChain, rounds: u64, gas: u64| {
        chain
            .call("gas_burner", "burn")
            .input(rounds.to_le_bytes().to_vec())
            .gas(gas)
            .run()
            .unwrap()
    };
    let mut g = |n| burn(&mut chain, n, 1 << 40).gas_used;
    let (g0, g1, g2) = (g(1000), g(2000), g(3000));
    assert_eq!(g2 - g1, g1 - g0, "linear in the rounds");
    let out = burn(&mut chain, 1_000_000, 100_000);
    assert_eq!(out.status.trap_kind(), Some(TrapKind::OutOfGas));
    assert_eq!(out.gas_used, 100_000);
}

fn hostile(name: &str, gas: u64) -> Outcome {
    let mut chain = TestChain::new();
    chain
        .deploy(name, &gasket_fixtures::wasm(name))
        .expect("deploys");
    let out = chain.call(name, "run").gas(gas).run().unwrap();
    assert!(chain.storage(name).unwrap().is_empty());
    out
}

#[test]
fn hostile_infinite_loop_runs_out_of_gas() {
    let out = hostile("infinite_loop", 1_000_000);
    assert_eq!(out.status.trap_kind(), Some(TrapKind::OutOfGas));
    assert_eq!(out.gas_used, 1_000_000);
}

#[test]
fn hostile_recursion_overflows_the_deterministic_stack() {
    let out = hostile("recursion", 1_000_000_000);
    assert_eq!(out.status.trap_kind(), Some(TrapKind::StackOverflow));
    assert!(out.gas_used < 1_000_000_000);
    assert_eq!(out, hostile("recursion", 1_000_000_000), "deterministic");
}

#[test]
fn hostile_memory_bomb_stops_at_the_cap() {
    // Every page above the resident allowance pays the commit charge (cost table v4).
    let out = hostile("memory_bomb", 10_000_000_000);
    let profile = Profile::contract();
    let cap = profile.limits.max_memory_pages;
    let above = u64::from(cap - profile.costs.memory_resident_pages);
    assert!(out.gas_used > above * profile.costs.memory_commit_per_page);
    assert_eq!(out.unwrap(), cap.to_le_bytes());
    let short = hostile("memory_bomb", 1_000_000_000);
    assert_eq!(short.status.trap_kind(), Some(TrapKind::OutOfGas));
}

#[test]
fn hostile_storage_bomb_pays_per_byte_and_commits_nothing() {
    let out = hostile("storage_bomb", 10_000_000);
    assert_eq!(out.status.trap_kind(), Some(TrapKind::OutOfGas));
    assert_eq!(out.gas_used, 10_000_000);
}

#[test]
fn floats_without_the_float_policy_and_oversized_modules_are_rejected() {
    let kind = |r: Result<gasket_vm::Module, LoadError>| match r {
        Err(LoadError::Rejected(e)) => e.kind(),
        Err(e) => panic!("wrong error {e}"),
        Ok(_) => panic!("accepted"),
    };
    let floats = gasket_fixtures::wasm("floats");
    let strict = Profile::contract().with_floats(gasket_vm::metering::FloatPolicy::Reject);
    let strict = Engine::new(strict).unwrap();
    assert_eq!(kind(strict.compile(&floats)), "floats_not_allowed");
    // The contract profile admits them (canonical NaNs).
    let engine = Engine::new(Profile::contract()).unwrap();
    let module = engine.compile(&floats).expect("floats admitted");
    let mut instance = Instance::new(&module, &Imports::new(), 1_000_000).unwrap();
    let out = instance.call("half", &[Value::I32(-7)], 1_000_000).unwrap();
    assert_eq!(out.result.unwrap(), vec![Value::I32(-3)]);
    // A module one byte over max_module_bytes (a custom section pads it).
    let limit = Profile::contract().limits.max_module_bytes as usize;
    let mut wasm = b"\0asm\x01\0\0\0".to_vec();
    let payload_len = limit - wasm.len() - 1 - 5 + 1; // id, 5-byte LEB size, then payload
    wasm.push(0);
    let mut n = payload_len as u32;
    for i in 0..5 {
        let mut b = (n & 0x7f) as u8;
        n >>= 7;
        if i < 4 {
            b |= 0x80;
        }
        wasm.push(b);
    }
    wasm.push(1);
    wasm.push(b'x');
    wasm.resize(limit + 1, 0);
    assert_eq!(wasm.len(), limit + 1);
    assert_eq!(kind(engine.compile(&wasm)), "limit_exceeded");
}
