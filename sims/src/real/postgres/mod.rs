//! A PostgreSQL server for real kernels: a throwaway cluster the lab starts itself (`initdb`
//! into a temporary directory, `pg_ctl start` with its socket in that directory and no TCP
//! listener, as the `postgres` OS user when running as root), or the user's server from a URL,
//! where the kernel works only inside a schema of its own and drops it afterwards.
//!
//! Either way the server is released when the `Database` drops, and [`stop_all`] releases
//! every live one from a Ctrl-C handler. [`postgres_available`] and [`stop_all`] exist in
//! every build; `Database` and `run_kernel`, the lifecycle both PostgreSQL kernels share,
//! only with the `postgres` feature (`enabled.rs`). Without it (`disabled.rs`) nothing can be
//! started and [`postgres_available`] says why.

#[cfg_attr(feature = "postgres", path = "enabled.rs")]
#[cfg_attr(not(feature = "postgres"), path = "disabled.rs")]
mod imp;

pub use imp::*;
