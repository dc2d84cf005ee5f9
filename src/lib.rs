//! stackhook: log kubectl in to a Kubernetes cluster from one reviewed spec.
//!
//! The modules, in pipeline order; each imports only modules above it:
//!
//! ```text
//! spec text --yaml/spec--> Spec --interpolate/resolve--> values (text + secret refs)
//!   --provider/bind--> parameters --render--> Rendered --plan--> Plan
//!   --> preview (text | markdown | JSON)
//!   --> execute (process, report, rollback, signals, env_file)
//! ```

// Diagnostics are large but only travel the cold path to `main`.
#![allow(clippy::result_large_err)]

// Foundations: errors, values that cannot leak, quoting, files.
pub mod code;
pub mod timeline;
pub mod diagnostic;
pub mod failure;
pub mod paint;
pub mod value;
pub mod secrets;
pub mod shell;
pub mod atomic_file;
pub mod bounded_file;
pub mod which;
pub mod jwt;
pub mod kubeconfig_path;
pub mod source_file;
// Reading a spec.
pub mod yaml;
pub mod interpolate;
pub mod spec;
pub mod discover;
// Resolving it against the environment.
pub mod resolve;
// Providers, binding and rendering.
pub mod provider;
pub mod secret_set;
pub mod markers;
pub mod env_view;
pub mod step_context;
pub mod cli_values;
pub mod bind;
pub mod jinja;
pub mod render_error;
pub mod render;
pub mod token_expiry;
// The plan, and what shows it.
pub mod plan;
pub mod preview;
pub mod provider_page;
pub mod init;
pub mod schema;
// Running it.
pub mod kubeconfig;
pub mod kubeconfig_edit;
pub mod exec_credential;
pub mod prefix;
pub mod masker;
pub mod signals;
pub mod reaper;
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
// The command line.
pub mod cli;
pub mod commands;
