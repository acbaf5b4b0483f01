//! Promises a NEAR call creates: receipts (a receiver and a batch of actions, possibly
//! waiting on other promises) and joint promises (`promise_and`). They are the call's
//! output; the chain turns them into receipts and executes them later.

use borsh::{BorshDeserialize, BorshSerialize};

/// What an access key may do.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum AccessKeyPermission {
    /// Any action.
    FullAccess,
    /// Function calls only.
    FunctionCall {
        /// Gas allowance in yoctoNEAR; `None` is unlimited.
        allowance: Option<u128>,
        /// The only contract the key may call.
        receiver_id: String,
        /// The methods it may call; empty is any.
        method_names: Vec<String>,
    },
}

/// One action of a receipt, as NEAR defines them.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum Action {
    /// Create the receiver account.
    CreateAccount,
    /// Deploy `code` to the receiver.
    DeployContract {
        /// The wasm bytes.
        code: Vec<u8>,
    },
    /// Call `method_name` on the receiver.
    FunctionCall {
        /// Method name.
        method_name: String,
        /// Arguments (usually JSON).
        args: Vec<u8>,
        /// Attached deposit, yoctoNEAR.
        deposit: u128,
        /// Attached gas (after the end-of-call share of unused gas).
        gas: u64,
        /// Weight for sharing this call's unused gas (0: none).
        gas_weight: u64,
    },
    /// Send `deposit` to the receiver.
    Transfer {
        /// yoctoNEAR.
        deposit: u128,
    },
    /// Stake `stake` with `public_key`.
    Stake {
        /// yoctoNEAR.
        stake: u128,
        /// borsh public key.
        public_key: Vec<u8>,
    },
    /// Add an access key.
    AddKey {
        /// borsh public key.
        public_key: Vec<u8>,
        /// Nonce.
        nonce: u64,
        /// Permission.
        permission: AccessKeyPermission,
    },
    /// Delete an access key.
    DeleteKey {
        /// borsh public key.
        public_key: Vec<u8>,
    },
    /// Delete the receiver, sending its balance to `beneficiary_id`.
    DeleteAccount {
        /// Who gets the balance.
        beneficiary_id: String,
    },
}

impl Action {
    /// The action's NEAR name (`FunctionCall`, `Transfer`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            Action::CreateAccount => "CreateAccount",
            Action::DeployContract { .. } => "DeployContract",
            Action::FunctionCall { .. } => "FunctionCall",
            Action::Transfer { .. } => "Transfer",
            Action::Stake { .. } => "Stake",
            Action::AddKey { .. } => "AddKey",
            Action::DeleteKey { .. } => "DeleteKey",
            Action::DeleteAccount { .. } => "DeleteAccount",
        }
    }

    /// The yoctoNEAR this action takes from the sender.
    pub fn deposit(&self) -> u128 {
        match self {
            Action::FunctionCall { deposit, .. } | Action::Transfer { deposit } => *deposit,
            _ => 0,
        }
    }
}

/// A promise a call created, by index (`promise_create` returns the index).
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum Promise {
    /// A receipt: `actions` for `receiver_id`, run after the promises in `after` (indices
    /// into the same call's promises, already flattened through joint promises).
    Receipt {
        /// The account it goes to.
        receiver_id: String,
        /// Its actions, in order.
        actions: Vec<Action>,
        /// Promise indices (receipts) it waits for; their results arrive in this order.
        after: Vec<u64>,
    },
    /// `promise_and`: the receipts it joins (flattened).
    Joint(Vec<u64>),
}

/// What a call returns to whoever waits on it.
#[derive(Clone, Debug, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum NearReturn {
    /// Nothing set (an empty value).
    #[default]
    None,
    /// `value_return` bytes.
    Value(Vec<u8>),
    /// `promise_return`: the result of this promise of the call.
    Promise(u64),
}
