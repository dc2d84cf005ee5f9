//! Reading a spec: YAML with source spans, `${VAR}` interpolation into
//! `Value`s, the typed `Spec` and the checks that need neither providers
//! nor an environment, `extends` merging, and which spec files a command
//! reads.
//!
//! In: a path (or a stack id). Out: a `Spec` whose every node knows where
//! it stands in its file, or diagnostics that point there.
//! Uses: base.

pub mod yaml;
pub mod interpolate;
pub mod bounds;
pub mod document;
pub mod extends;
pub mod discover;
