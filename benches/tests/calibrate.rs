//! Every calibration case compiles, runs, and its gas difference against its baseline is
//! dominated by the class it claims (from the gas report's `by_class`).

use gasket_benches::calibrate::{self, gas_difference};
use gasket_vm::metering::Profile;
use gasket_vm::Engine;

#[test]
fn every_case_is_dominated_by_its_class() {
    let engine = Engine::new(Profile::contract()).expect("engine");
    let cases = calibrate::all();
    let mut names: Vec<&str> = cases.iter().map(|c| c.name.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), cases.len(), "case names are unique");
    let mut failures = Vec::new();
    for case in &cases {
        let by_key = match gas_difference(&engine, case, 3.min(case.max_n)) {
            Ok(by_key) => by_key,
            Err(e) => {
                failures.push(e.to_string());
                continue;
            }
        };
        let total: i64 = by_key.values().sum();
        let claimed: i64 = by_key
            .iter()
            .filter(|(key, _)| {
                key.as_str() == case.claims || (case.claims == "host" && key.starts_with("host:"))
            })
            .map(|(_, gas)| gas)
            .sum();
        let share = claimed as f64 / total.max(1) as f64;
        if total <= 0 || share < case.min_share {
            failures.push(format!(
                "{}: {} has {claimed} of {total} gas ({share:.2} < {}): {by_key:?}",
                case.name, case.claims, case.min_share
            ));
        }
        // A case calibrating a price must move that price's gas.
        if let Some(key) = case.target.key() {
            let own = by_key.get(&key).copied().unwrap_or(0);
            if own <= 0 {
                failures.push(format!(
                    "{}: no gas of its price {key}: {by_key:?}",
                    case.name
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The cache-hostile mixes stay inside memory after their base address wraps around.
#[test]
fn cache_hostile_accesses_stay_in_bounds_past_the_wrap() {
    let engine = Engine::new(Profile::contract()).expect("engine");
    let hostile: Vec<_> = calibrate::all()
        .into_iter()
        .filter(|c| c.name.starts_with("mix/cache_hostile_"))
        .collect();
    // Loads and stores over 64, 16, 4, 2 and 1 MiB; stores alone over 512, 256 and
    // 128 KiB, over 1.5 MiB of a 2 MiB memory and over 64 KiB in one L1 set.
    assert_eq!(hostile.len(), 15, "every size has its mixes");
    for case in &hostile {
        let class = if case.name.starts_with(calibrate::cases::HOSTILE) {
            "load"
        } else {
            "store"
        };
        let pages = case.program.memory_pages;
        assert_eq!(
            case.claims,
            calibrate::cases::hostile_claim(pages, class),
            "{}",
            case.name
        );
        let by_key = gas_difference(&engine, case, 2_100).expect("runs without a trap");
        assert!(by_key[class] > 0, "{}: {by_key:?}", case.name);
        // Above tier 0 every access also pays the memory-size surcharge.
        let surcharge = by_key.get("memory_access_surcharge").copied().unwrap_or(0);
        assert_eq!(surcharge > 0, pages > 32, "{}: {by_key:?}", case.name);
    }
}

/// The first-touch mixes' full cycle (`max_n`) touches the last OS page (or huge page)
/// of the maximal memory, and one iteration more runs out of it: the cycle is exactly
/// the memory, page by page.
#[test]
fn first_touch_cycles_cover_the_memory_exactly() {
    let engine = Engine::new(Profile::contract()).expect("engine");
    for name in [
        calibrate::cases::FIRST_TOUCH_STORES,
        "mix/first_touch_stores/huge",
        "mix/first_touch_loads",
        "mix/resident_touch_stores",
    ] {
        let case = calibrate::all()
            .into_iter()
            .find(|c| c.name == name)
            .expect("the case exists");
        assert_eq!(case.min_n, case.max_n, "{name}: one full cycle");
        let by_key = gas_difference(&engine, &case, case.max_n).expect("a full cycle runs");
        assert!(by_key[case.claims] > 0, "{name}: {by_key:?}");
        let past = gas_difference(&engine, &case, case.max_n + 1);
        assert!(
            matches!(&past, Err(e) if e.to_string().contains("ended with trap")),
            "{name}: one page past the memory must trap: {past:?}"
        );
    }
}
