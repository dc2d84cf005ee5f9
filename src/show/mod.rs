//! Everything that shows and never runs: the plan as text, markdown or
//! JSON, provider pages, `init`'s starter specs and the JSON Schema.
//!
//! In: a `Plan`, or the provider catalog. Out: text.
//! Uses: base, spec, plan.

pub mod preview;
pub mod provider_page;
pub mod init;
pub mod schema;
