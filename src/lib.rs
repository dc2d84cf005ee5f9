//! stackhook: log kubectl in to a Kubernetes cluster from one reviewed spec.
//!
//! One folder per stage of the pipeline, in order; each imports only the
//! folders above it, and each folder's files only the files listed before
//! them in its module file:
//!
//! ```text
//! spec text --spec--> Spec --plan (resolve, bind, render)--> Plan
//!   --> show (text | markdown | JSON, pages, schema)
//!   --> run (preflight, processes, masking, rollback, guardian), editing the kubeconfig through kube
//!   --> doctor (what a run will meet in this runner, and what is wrong)
//! ```
//! `cli` strings them together for each subcommand.

// Diagnostics are large but only travel the cold path to `main`.
#![allow(clippy::result_large_err)]

pub mod base;
pub mod spec;
pub mod plan;
pub mod show;
pub mod kube;
pub mod run;
pub mod doctor;
pub mod cli;
