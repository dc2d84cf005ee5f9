//! `stackhook doctor`: in the runner, before or after a failure, what a
//! run will meet and what is wrong with it, per step and per kubeconfig
//! context: the credentials each CLI will pick, the OIDC token files, the
//! CLIs and their versions against what the rendered flags need, the
//! kubeconfig (path, writable, lock holder, contexts, exec users) and,
//! with `--cluster`, each context's server, identity and permissions.
//! Runs no login and changes nothing: version commands and kubectl
//! queries only, each with a deadline.
//!
//! In: a `Plan` and the process environment. Out: a report (text or JSON).
//! Uses: base, plan, run.

pub mod finding;
pub mod visible_env;
pub mod probe;
pub mod credentials;
pub mod token_files;
pub mod tools;
pub mod cluster;
pub mod contexts;
pub mod report;
pub mod examine;
