//! `gasket-vm`: the runtime a chain node links, and the `gasket` command-line tool.
//!
//! Today this crate exposes the pipeline's first stage; the compiler-backed `Engine`,
//! `Module` and `Instance` arrive with the singlepass compiler. The `gasket` binary (cargo
//! feature `cli`, on by default) checks and instruments modules; embedders that only link
//! the library turn default features off and do not pull in clap or serde.

pub use gasket_host_api as host_api;
pub use gasket_metering as metering;
