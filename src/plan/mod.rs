//! From a `Spec` to a `Plan`: the environment read once, the run's secret
//! set decided once, providers loaded, each step's `with:` bound to typed
//! parameters, its templates rendered to quoted `sh`, and the steps
//! assembled with the tools they need. Pure: nothing runs here.
//!
//! In: a `Spec` and the process environment. Out: a `Plan`, byte for byte
//! what `run` executes.
//! Uses: base, spec.

pub mod resolve;
pub mod min_version;
pub mod provider;
pub mod secret_set;
pub mod markers;
pub mod env_view;
pub mod step_context;
pub mod cli_values;
pub mod presence;
pub mod bind;
pub mod parameters;
pub mod jinja;
pub mod render_error;
pub mod render;
pub mod token_expiry;
pub mod assemble;
