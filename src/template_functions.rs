//! What templates can call besides their parameters: `tempfile()`,
//! `command()` (collected for the step), `fail()` and the `var_name`
//! filter. Pure, like rendering.

use std::sync::Mutex;

use minijinja::{ErrorKind, Value as Jinja};

use crate::markers::{self, unmark};
use crate::value::{Part, Value};

pub fn invalid(msg: impl Into<String>) -> minijinja::Error {
    minijinja::Error::new(ErrorKind::InvalidOperation, msg.into())
}

/// Starts the message of an error a template raises with `fail()`: the
/// step's parameters are wrong, not the template.
pub const FAIL: &str = "[with] ";

/// `{{ value | var_name }}`: the name of the one variable a value is, or
/// none (a literal, several parts, or nothing).
pub fn var_name(value: Jinja) -> Jinja {
    let Some(s) = value.as_str() else {
        return Jinja::from(());
    };
    match unmark(s).0.as_slice() {
        [Part::Ref { name, .. }] => Jinja::from(name.clone()),
        _ => Jinja::from(()),
    }
}

/// The temp files and extra commands a render declares through functions.
#[derive(Default)]
pub struct Collected {
    pub tempfiles: Vec<(String, Option<Value>)>,
    /// Temp files that live until the step ends: a CLI keeps reading them
    /// after the command that names them (az reads its certificate at each
    /// token request).
    pub for_step: Vec<String>,
    pub extra_commands: Vec<String>,
}

pub fn lock(c: &Mutex<Collected>) -> std::sync::MutexGuard<'_, Collected> {
    c.lock().unwrap_or_else(|e| e.into_inner())
}

/// `tempfile(NAME[, CONTENT[, "step"]])`: declares a private temp file of
/// the step and stands for its path. It is removed after the last command
/// that names it, or with "step" when the step ends.
pub fn declare_tempfile(
    files: &Mutex<Collected>,
    name: String,
    content: Option<Jinja>,
    lifetime: Option<String>,
) -> Result<Jinja, minijinja::Error> {
    match lifetime.as_deref() {
        None => {}
        Some("step") => lock(files).for_step.push(name.clone()),
        Some(other) => {
            return Err(invalid(format!(
                "tempfile `{name}`: the lifetime can only be \"step\", not `{other}`"
            )));
        }
    }
    let valid = !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    if !valid {
        return Err(invalid(format!(
            "tempfile name `{name}` must use only letters, digits, `.`, `_` and `-`"
        )));
    }
    let content = match content {
        None => None,
        // `tempfile(NAME, none, "step")`: a command writes it.
        Some(c) if c.is_none() && lifetime.is_some() => None,
        Some(c) if c.is_none() || c.is_undefined() => {
            return Err(invalid(format!("the content of tempfile `{name}` is none")));
        }
        Some(c) => Some(unmark(&c.to_string())),
    };
    let mut files = lock(files);
    match files.tempfiles.iter().find(|(n, _)| *n == name) {
        Some((_, prev)) if *prev != content => {
            return Err(invalid(format!(
                "tempfile `{name}` is declared twice with different content"
            )));
        }
        Some(_) => {}
        None => files.tempfiles.push((name.clone(), content)),
    }
    Ok(Jinja::from_safe_string(markers::tempfile(&name)))
}

/// `fail(MESSAGE)`: stops the render with an error about the step's
/// parameters.
pub fn fail(msg: String) -> Result<Jinja, minijinja::Error> {
    Err(invalid(format!("{FAIL}{msg}")))
}
