//! The command line: clap's definitions and help texts, and one function
//! per subcommand that strings the stages together.
//!
//! In: argv. Out: a `Failure` that `main` maps to an exit code.
//! Uses: base, spec, plan, show, kube, run, doctor.

pub mod args;
pub mod validate;
pub mod commands;
