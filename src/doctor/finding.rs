//! What a check found: ok, a note (worth knowing, not wrong) or a problem
//! (what will fail), with the words that say it. Findings never hold a
//! secret value: a secret is "set" or "not set", a file named by a secret
//! variable is `${NAME}`.

use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Note,
    Problem,
}

#[derive(Clone, Debug, Serialize)]
pub struct Finding {
    pub status: Status,
    /// What was checked: `credentials`, `token file`, `cli`, `kubeconfig`,
    /// `lock`, `context`, `cluster`.
    pub check: &'static str,
    /// The one line that says it.
    pub message: String,
}

impl Finding {
    pub fn ok(check: &'static str, message: impl Into<String>) -> Self {
        Finding {
            status: Status::Ok,
            check,
            message: message.into(),
        }
    }
    pub fn note(check: &'static str, message: impl Into<String>) -> Self {
        Finding {
            status: Status::Note,
            check,
            message: message.into(),
        }
    }
    pub fn problem(check: &'static str, message: impl Into<String>) -> Self {
        Finding {
            status: Status::Problem,
            check,
            message: message.into(),
        }
    }
}

/// "set" or "not set": all a report says of a secret variable.
pub fn set_or_not(set: bool) -> &'static str {
    if set { "set" } else { "not set" }
}
