//! `scripts/derive-costs.py` on small fixed inputs: it raises an undercharged class to
//! the median, leaves the rest, reports a mix that no price of the table can bound, and
//! sets aside cases whose time is within their noise.

use std::path::PathBuf;
use std::process::Command;

use serde_json::{json, Value};

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/derive-costs.py")
}

fn case(name: &str, key: Option<&str>, gas_by_key: Value, ns: f64) -> Value {
    // A calibration case claims its own key; the fixtures' mixes their largest key.
    let claims = key.map(str::to_string).unwrap_or_else(|| {
        let map = gas_by_key.as_object().expect("object");
        let top = map.iter().max_by_key(|(_, v)| v.as_i64().unwrap_or(0));
        top.map(|(k, _)| k.clone()).unwrap_or_default()
    });
    let gas: i64 = gas_by_key
        .as_object()
        .expect("object")
        .values()
        .map(|v| v.as_i64().expect("integer"))
        .sum();
    json!({"name": name, "key": key, "claims": claims, "storage": "memory", "n": 1, "runs": 1, "gas": gas,
           "gas_by_key": gas_by_key, "ns": ns, "ns_per_gas": ns / gas as f64})
}

/// Runs the script on `cases` (prices: alu 1, local 1, load 3, call 10, sha256 200 + 4/byte)
/// and returns its JSON proposal and its printed text.
fn derive(tag: &str, cases: Vec<Value>) -> (Value, String) {
    let dir = std::env::temp_dir().join(format!("gasket-derive-{}-{tag}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let input = dir.join("in.json");
    let output = dir.join("out.json");
    let data = json!({
        "format": "gasket-calibration/1",
        "machine": {"cpu": "fixture", "arch": "x86_64", "cores": 1, "date": "2026-12-05", "note": ""},
        "settings": {"target_gas": 1, "runs": 1},
        "cost_table_version": 2,
        "prices": {"alu": 1, "local": 1, "load": 3, "call": 10,
                   "host:sha256:base": 200, "host:sha256:per_byte": 4},
        "cases": cases,
    });
    std::fs::write(&input, data.to_string()).expect("write input");
    let run = Command::new("python3")
        .arg(script())
        .arg(&input)
        .arg("--json")
        .arg(&output)
        .output()
        .expect("python3 runs");
    let text = String::from_utf8_lossy(&run.stdout).into_owned();
    assert!(
        run.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let proposal = serde_json::from_slice(&std::fs::read(&output).expect("output")).expect("JSON");
    std::fs::remove_dir_all(&dir).ok();
    (proposal, text)
}

/// Every class at 0.1 ns per gas except loads at 0.3: loads are undercharged 3×.
fn balanced_but_loads() -> Vec<Value> {
    vec![
        case(
            "alu",
            Some("alu"),
            json!({"alu": 1000, "local": 100}),
            110.0,
        ),
        case("local", Some("local"), json!({"local": 1000}), 100.0),
        case(
            "load",
            Some("load"),
            json!({"load": 3000, "local": 100}),
            910.0,
        ),
        case("call", Some("call"), json!({"call": 1000}), 100.0),
        case(
            "sha256_base",
            Some("host:sha256:base"),
            json!({"host:sha256:base": 2000, "alu": 10}),
            201.0,
        ),
        case(
            "sha256_per_byte",
            Some("host:sha256:per_byte"),
            json!({"host:sha256:per_byte": 4000}),
            400.0,
        ),
        case("mix/loads", None, json!({"load": 300, "alu": 100}), 100.0),
    ]
}

#[test]
fn an_undercharged_class_is_raised_to_the_median() {
    let (proposal, text) = derive("raise", balanced_but_loads());
    let prices = &proposal["prices"];
    assert_eq!(proposal["scale"], 1, "{text}");
    assert!(
        (8..=10).contains(&prices["load"].as_i64().unwrap()),
        "{text}"
    );
    assert_eq!(prices["alu"], 1, "{text}");
    assert_eq!(prices["local"], 1, "{text}");
    assert_eq!(prices["call"], 10, "{text}");
    assert_eq!(prices["host:sha256:base"], 200, "{text}");
    assert_eq!(prices["host:sha256:per_byte"], 4, "{text}");
    assert_eq!(proposal["bound_met"], true, "{text}");
    assert!(proposal["worst_ratio"].as_f64().unwrap() <= 2.0, "{text}");
    assert!(proposal["overcharge"].as_f64().unwrap() <= 3.0, "{text}");
    assert!(text.contains("predicted bound"), "{text}");
}

#[test]
fn a_mix_no_price_can_bound_is_reported() {
    let mut cases = balanced_but_loads();
    // 100× the median per gas, all of it call gas: raising `call` that far would
    // overcharge the call case 50×.
    cases.push(case("mix/huge_frames", None, json!({"call": 100}), 1000.0));
    let (proposal, text) = derive("unbounded", cases);
    assert_eq!(proposal["bound_met"], false, "{text}");
    let outside: Vec<&str> = proposal["outside_bound"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(outside.contains(&"mix/huge_frames"), "{text}");
    // `call` was raised only as far as its own case allows (3× overcharged at most).
    let call = proposal["prices"]["call"].as_i64().unwrap();
    assert!((10..=30).contains(&call), "{text}");
}

#[test]
fn a_case_within_its_noise_is_unmeasured_not_overcharged() {
    let mut cases = balanced_but_loads();
    // `local` again, 1000 gas in 2 ns with 5 ns of noise: no information about `local`.
    let mut within_noise = case("local/folded", Some("local"), json!({"local": 1000}), 2.0);
    within_noise["noise_ns"] = json!(5.0);
    cases.push(within_noise);
    // A case far below a thousandth of the median per gas, without a noise figure.
    cases.push(case(
        "call/folded",
        Some("call"),
        json!({"call": 1000}),
        0.001,
    ));
    let (proposal, text) = derive("noise", cases);
    assert!(
        text.contains("not used): call/folded, local/folded"),
        "{text}"
    );
    assert_eq!(proposal["prices"]["local"], 1, "{text}");
    assert_eq!(proposal["prices"]["call"], 10, "{text}");
    assert_eq!(proposal["bound_met"], true, "{text}");
}
