//! The minijinja environments templates render in: shell quoting of every
//! `{{ }}` in commands, the template syntax of provider files and of
//! spec-written commands, a bound on the work a template may do, the
//! `tempfile()`, `tempdir()`, `command()` and `fail()` functions and the
//! `var_name` filter.
//!
//! A command line is readable by every process on the machine
//! (`/proc/PID/cmdline`), so no `{{ }}` of a command may hold a secret:
//! the shell would expand its reference into the argv. A secret reaches a
//! command through the environment (a provider's `env:`), a `tempfile()`
//! or stdin; a command that would write one is refused here, whatever the
//! template did to the value (`|safe`, `command()`, a filter).

use std::sync::{Arc, Mutex};

use minijinja::value::ValueKind;
use minijinja::{AutoEscape, Environment, ErrorKind, UndefinedBehavior, Value as Jinja};

use crate::base::secrets::SecretNames;
use crate::base::shell;
use crate::base::value::{Part, RefKind, Value};
use crate::plan::markers::{self, unmark, unmark_raw};

/// How `{{ }}` output is written.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Quoting {
    /// One quoted sh word per value; references as `"$NAME"`.
    Shell,
    /// Text as it is, references kept as markers.
    Plain,
    /// As `Plain`, with `tempfile()` and `tempdir()`: the values of a
    /// provider's `env:`, where a temp file's path is a value.
    Env,
}

/// Which template syntax a text is written in.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    /// Provider files: minijinja's `{{ }}`, `{% %}` and `{# #}`.
    Full,
    /// Commands written in a spec are shell text: only `{{ }}` is ours, so
    /// `${#F}` and `printf '{%s}'` mean what they mean in sh.
    ShellText,
}

const SHELL: &str = "sh";

/// Instructions one template may run: built-in templates need a few
/// thousand; a loop nested too deep stops here instead of hanging `plan`.
pub const FUEL: u64 = 1_000_000;

fn format_value(
    secrets: &Mutex<Collected>,
    out: &mut minijinja::Output,
    state: &mut minijinja::State,
    value: &Jinja,
) -> Result<(), minijinja::Error> {
    let quoting = match state.auto_escape() {
        AutoEscape::Custom(n) if n == SHELL => Quoting::Shell,
        _ => Quoting::Plain,
    };
    let text = to_text(quoting, value, &lock(secrets).secret_names)?;
    out.write_str(&text)
        .map_err(|_| minijinja::Error::new(ErrorKind::WriteFailure, "write failed"))
}

fn invalid(msg: impl Into<String>) -> minijinja::Error {
    minijinja::Error::new(ErrorKind::InvalidOperation, msg.into())
}

/// Starts the message of an error a template raises with `fail()`: the
/// step's parameters are wrong, not the template.
pub const FAIL: &str = "[with] ";

/// Starts the message of the error that refuses a secret on a command
/// line; the variable's name follows.
pub const SECRET_IN_COMMAND: &str = "[secret] ";

/// Refuses text bound for a command line that holds a secret reference: a
/// reference the plan made secret, or one to a variable whose name is in
/// the run's secret set (an unset one, as in `validate`).
fn no_secret(s: &str, secrets: &SecretNames) -> Result<(), minijinja::Error> {
    let value = unmark(s);
    let secret = value
        .refs()
        .find(|(name, why)| *why == RefKind::Secret || secrets.contains(name));
    match secret {
        Some((name, _)) => Err(invalid(format!("{SECRET_IN_COMMAND}{name}"))),
        None => Ok(()),
    }
}

/// `fail(MESSAGE)`: stops the render with an error about the step's
/// parameters.
fn fail(msg: String) -> Result<Jinja, minijinja::Error> {
    Err(invalid(format!("{FAIL}{msg}")))
}

/// `{{ value | var_name }}`: the name of the one variable a value is (a
/// secret or unset one: other values are text by now), or none.
fn var_name(value: Jinja) -> Jinja {
    let Some(s) = value.as_str() else {
        return Jinja::from(());
    };
    match unmark(s).0.as_slice() {
        [Part::Ref { name, .. }] => Jinja::from(name.clone()),
        _ => Jinja::from(()),
    }
}

fn to_text(
    quoting: Quoting,
    value: &Jinja,
    secrets: &SecretNames,
) -> Result<String, minijinja::Error> {
    if value.is_undefined() || value.is_none() {
        return Err(invalid(
            "a value is none: guard an optional parameter with `{% if name %}`",
        ));
    }
    if value.is_safe() {
        let s = value.as_str().unwrap_or_default();
        return Ok(match quoting {
            Quoting::Shell => {
                no_secret(s, secrets)?;
                unmark_raw(s)
            }
            Quoting::Plain | Quoting::Env => value.to_string(),
        });
    }
    if let Some(s) = value.as_str() {
        if quoting != Quoting::Shell {
            return Ok(s.to_string());
        }
        if markers::has_tempfile(s) {
            return Err(invalid(
                "a tempfile() path must stand alone in a command, not inside another value",
            ));
        }
        no_secret(s, secrets)?;
        return Ok(shell::word(&unmark(s)));
    }
    match value.kind() {
        ValueKind::Seq => {
            let mut words = Vec::new();
            for item in value.try_iter()? {
                words.push(to_text(quoting, &item, secrets)?);
            }
            Ok(words.join(" "))
        }
        ValueKind::Map => Err(invalid(
            "cannot write a map into a command: pick one of its values",
        )),
        _ => Ok(value.to_string()),
    }
}

/// The temp files and extra commands a render declares through functions,
/// and the secret names its commands are checked against.
#[derive(Default)]
pub struct Collected {
    pub tempfiles: Vec<(String, Option<Value>)>,
    /// Temp files that live until the step ends: a CLI keeps reading them
    /// after the command that names them (az reads its certificate at each
    /// token request).
    pub for_step: Vec<String>,
    /// Directories named with `tempdir()`.
    pub tempdirs: Vec<String>,
    pub extra_commands: Vec<String>,
    /// The run's secret names when the step renders.
    pub secret_names: SecretNames,
}

pub fn environment(
    quoting: Quoting,
    syntax: Syntax,
    collected: &Arc<Mutex<Collected>>,
) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_fuel(Some(FUEL));
    // A template is named by its own text: compiled on first use, then
    // kept, so the same provider template is compiled once per process
    // however many steps and specs render it (see `render`).
    env.set_loader(|source| Ok(Some(source.to_string())));
    // The name is the text, so minijinja's choice of escaping by a
    // name's extension (`.json`, `.html`) must not apply.
    env.set_auto_escape_callback(|_| AutoEscape::None);
    let mut config = minijinja::syntax::SyntaxConfig::builder();
    config.trim_blocks(true).lstrip_blocks(true);
    if syntax == Syntax::ShellText {
        // Delimiters from Unicode's private use area, which shell text
        // does not use.
        config
            .block_delimiters("\u{E010}", "\u{E011}")
            .comment_delimiters("\u{E012}", "\u{E013}");
    }
    env.set_syntax(config.build().expect("valid syntax config"));
    let secrets = collected.clone();
    env.set_formatter(move |out, state, value| format_value(&secrets, out, state, value));
    env.add_filter("var_name", var_name);
    env.add_function("fail", fail);
    if quoting == Quoting::Plain {
        return env;
    }
    let files = collected.clone();
    env.add_function(
        "tempfile",
        move |name: String, content: Option<Jinja>, lifetime: Option<String>| {
            declare_tempfile(&files, name, content, lifetime)
        },
    );
    let dirs = collected.clone();
    env.add_function("tempdir", move |name: String| declare_tempdir(&dirs, name));
    if quoting == Quoting::Env {
        return env;
    }
    env.set_auto_escape_callback(|_| AutoEscape::Custom(SHELL.into()));
    let extra = collected.clone();
    env.add_function(
        "command",
        move |text: Jinja| -> Result<Jinja, minijinja::Error> {
            if !text.is_safe() {
                return Err(invalid(
                    "command() takes a rendered command template (a `type: templates` parameter)",
                ));
            }
            let text = text.as_str().unwrap_or_default();
            no_secret(text, &lock(&extra).secret_names)?;
            let text = unmark_raw(text).trim().to_string();
            if !text.is_empty() {
                lock(&extra).extra_commands.push(text);
            }
            Ok(Jinja::from_safe_string(String::new()))
        },
    );
    env
}

/// A name under the run's private directory: one plain path component.
fn check_name(what: &str, name: &str) -> Result<(), minijinja::Error> {
    let valid = !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    if valid {
        Ok(())
    } else {
        Err(invalid(format!(
            "{what} name `{name}` must use only letters, digits, `.`, `_` and `-`"
        )))
    }
}

/// `tempdir(NAME)`: a directory path under the run's private directory,
/// for a CLI that keeps its state in a directory it creates (az's
/// AZURE_CONFIG_DIR). It goes when the run's directory does, at the end of
/// the run, whatever happens; a step may remove it sooner itself.
fn declare_tempdir(dirs: &Mutex<Collected>, name: String) -> Result<Jinja, minijinja::Error> {
    check_name("tempdir", &name)?;
    let mut c = lock(dirs);
    if c.tempfiles.iter().any(|(n, _)| *n == name) {
        return Err(invalid(format!(
            "`{name}` is both a tempfile() and a tempdir()"
        )));
    }
    if !c.tempdirs.contains(&name) {
        c.tempdirs.push(name.clone());
    }
    Ok(Jinja::from_safe_string(markers::tempfile(&name)))
}

pub fn lock(c: &Mutex<Collected>) -> std::sync::MutexGuard<'_, Collected> {
    c.lock().unwrap_or_else(|e| e.into_inner())
}

/// `tempfile(NAME[, CONTENT[, "step"]])`: declares a private temp file of
/// the step and stands for its path. It is removed after the last command
/// that names it, or with "step" when the step ends.
fn declare_tempfile(
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
    check_name("tempfile", &name)?;
    if lock(files).tempdirs.contains(&name) {
        return Err(invalid(format!(
            "`{name}` is both a tempdir() and a tempfile()"
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

/// Renders `source` in `env`, compiling it only the first time `env` sees
/// it.
pub fn render(
    env: &Environment<'static>,
    source: &str,
    ctx: Jinja,
) -> Result<String, minijinja::Error> {
    env.get_template(source)?.render(ctx)
}
