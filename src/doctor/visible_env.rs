//! The environment as `doctor` may show it: whether a variable is set,
//! and its value only when it is not secret (by its name or by the plan's
//! secret set), escaped for the terminal.

use crate::base::paint::visible;
use crate::base::secrets::SecretNames;
use crate::plan::resolve::ProcessEnv;

pub struct VisibleEnv<'a> {
    pub process: &'a ProcessEnv,
    pub secrets: &'a SecretNames,
}

impl VisibleEnv<'_> {
    /// Set and not empty.
    pub fn is_set(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// The value, for checks; never for output (see `show`).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.process
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    pub fn is_secret(&self, name: &str) -> bool {
        self.secrets.contains(name)
    }

    /// `NAME=value` for a plain variable, `NAME set` for a secret one,
    /// `NAME not set`.
    pub fn show(&self, name: &str) -> String {
        match self.get(name) {
            None => format!("{name} not set"),
            Some(_) if self.is_secret(name) => format!("{name} set"),
            Some(v) => format!("{name}={}", visible(v)),
        }
    }

    /// `show` for each name, joined.
    pub fn show_all(&self, names: &[&str]) -> String {
        names
            .iter()
            .map(|n| self.show(n))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The variables (process and secret names alike) whose values are
    /// secret and set: what a probe's output is masked of.
    pub fn secret_values(&self) -> Vec<&str> {
        self.process
            .iter()
            .filter(|(k, v)| !v.is_empty() && self.is_secret(k))
            .map(|(_, v)| v.as_str())
            .collect()
    }
}
