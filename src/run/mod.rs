//! Running a `Plan` as it is: preflight, one process group per command
//! with output masked and prefixed, a deadline, signals, the lock on the
//! kubeconfig, the rollback journal and the guardian that finishes it,
//! and the env file written after success. Never renders anything.
//!
//! In: a `Plan`. Out: the exit of the run, the kubeconfig logged in or
//! put back as it was, and nothing left behind.
//! Uses: base, spec, plan, kube.

pub mod prefix;
pub mod masker;
pub mod signals;
pub mod reaper;
pub mod outlet;
pub mod process;
pub mod report;
pub mod secret_values;
pub mod snapshot;
pub mod lock;
pub mod recovery;
pub mod rollback;
pub mod guardian;
pub mod env_file;
pub mod preflight;
pub mod execute;
