//! Foundations every stage stands on: errors as data (`Diag`, the codes),
//! `Value` (text and secret references, unprintable as a secret by
//! construction), POSIX shell quoting, bounded and atomic files, the
//! kubeconfig's path, JWT expiry, what a terminal may be shown, and writes
//! to stdout and stderr that fail as errors.
//!
//! In: nothing but std and the outside world's bytes. Out: types and small
//! functions with no knowledge of specs, providers or runs.
//! Uses: no other folder.

pub mod code;
pub mod timeline;
pub mod paint;
pub mod diagnostic;
pub mod failure;
pub mod output;
pub mod value;
pub mod secrets;
pub mod shell;
pub mod atomic_file;
pub mod bounded_file;
pub mod which;
pub mod jwt;
pub mod lexical_path;
pub mod kubeconfig_path;
pub mod source_file;
