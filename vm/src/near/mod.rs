//! Running NEAR contracts unmodified: [`call_near`] runs one method with the
//! NEAR-compatible host functions (`gasket_host_api::near`), and [`NearChain`] is a test
//! chain with NEAR's account model (balances, deposits, storage staking, access keys) that
//! turns promises into receipts and executes them, callbacks included.

mod call;
mod chain;

pub use call::{call_near, finish_near_call, NearOutcome, DEFAULT_NEAR_GAS};
pub use chain::{
    default_public_key, Execution, GasketExecutor, NearAccount, NearChain, NearExecutor, Receipt,
    ReceiptOutcome, TxBuilder, DEFAULT_BALANCE, MAX_RECEIPTS, NEAR,
};
