//! The CLI versions a provider's rendered flags need (`min_versions:` in a
//! provider file), for `doctor` to hold the installed CLIs against.

use serde::{Deserialize, Serialize};

/// A CLI version a step needs when its rendered commands hold some words
/// (a flag, `--flag=value`) or its environment sets some variables.
#[derive(Debug, Deserialize, Serialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct MinVersion {
    pub cli: String,
    /// The first version that has it, one per major line where a CLI has
    /// several (AWS CLI v1 and v2): the one of the installed major applies.
    pub versions: Vec<String>,
    /// All must be in the step's commands (a word, or `WORD=...`) or be
    /// variables the step sets; none: every step that runs the CLI.
    #[serde(default)]
    pub words: Vec<String>,
    /// What needs it, for the report.
    pub why: String,
}
