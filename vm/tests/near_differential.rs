//! Every NEAR scenario replayed on the wasmi reference (`gasket_fuzz::near_reference`:
//! the same instrumented module, the same `dispatch_near` host code, the same end-of-call
//! rules): the transactions, their receipts (return data, logs, state changes, promises,
//! gas) and every account's balance, storage usage and storage must be byte-identical to
//! the Gasket runtime's.

mod near_scenarios;

use gasket_fuzz::near_reference::WasmiNear;
use gasket_vm::near::NearChain;

#[test]
fn scenarios_are_identical_on_gasket_and_wasmi() {
    let mut compared = 0;
    for (name, scenario) in near_scenarios::SCENARIOS {
        let mut gasket = NearChain::new();
        if !scenario(&mut gasket) {
            eprintln!("contract absent: {name} skipped");
            continue;
        }
        let mut wasmi = NearChain::new().with_executor(Box::new(WasmiNear::new()));
        assert!(scenario(&mut wasmi), "{name}");
        let (g_history, g_accounts) = near_scenarios::observable(&gasket);
        let (w_history, w_accounts) = near_scenarios::observable(&wasmi);
        assert_eq!(g_history.len(), w_history.len(), "{name}");
        for (i, (g, w)) in g_history.iter().zip(&w_history).enumerate() {
            assert_eq!(g, w, "{name}: transaction {i} differs");
        }
        assert_eq!(g_accounts, w_accounts, "{name}: final accounts differ");
        assert!(g_history.iter().any(|e| e.outcome.gas_used > 0));
        compared += 1;
    }
    eprintln!("{compared} scenarios compared");
}
