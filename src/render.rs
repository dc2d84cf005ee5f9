//! Rendering one step: the provider's minijinja templates run against its
//! bound parameters. Pure: it reads the environment snapshot in `Vars` and
//! nothing else.
//!
//! Commands are rendered with shell quoting: every `{{ }}` is one quoted
//! word unless `|safe`, and a secret comes out as `"$NAME"`. Everything
//! else (exports, warnings, CLI names) is rendered as plain text.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use indexmap::IndexMap;
use minijinja::value::ValueKind;
use minijinja::{AutoEscape, Environment, ErrorKind, UndefinedBehavior, Value as Jinja};
use serde::Serialize;

use crate::bind::{self, Ctx, Params};
use crate::diagnostic::{Code, Diag, Source};
use crate::markers::{self, mark, unmark, unmark_raw};
use crate::provider::ParamKind;
use crate::resolve::MissingVar;
use crate::shell;
use crate::value::Value;
use crate::yaml;

/// Everything a step renders to.
pub struct Rendered {
    pub commands: Vec<String>,
    pub tempfiles: Vec<TempFile>,
    pub exports: IndexMap<String, Value>,
    pub requires: Vec<String>,
    pub warnings: Vec<String>,
}

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct TempFile {
    pub name: String,
    /// Under the run's private directory.
    pub path: String,
    /// What the runner writes (mode 0600) before the step; none when a
    /// command creates the file.
    pub content: Option<Value>,
    /// 1-based index of the last command that uses the file: the runner
    /// deletes it right after that command, whatever its outcome.
    pub remove_after: Option<usize>,
}

/// Binds and renders one step.
pub fn step(cx: &Ctx, missing: &mut Vec<MissingVar>) -> Result<Rendered, Vec<Diag>> {
    let params = bind::bind(cx, missing)?;
    Templates::new(cx).render(params)
}

/// How `{{ }}` output is written.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Quoting {
    /// One quoted sh word per value; references as `"$NAME"`.
    Shell,
    /// Text as it is, references kept as markers.
    Plain,
}

const SHELL: &str = "sh";

fn format_value(
    out: &mut minijinja::Output,
    state: &mut minijinja::State,
    value: &Jinja,
) -> Result<(), minijinja::Error> {
    let quoting = match state.auto_escape() {
        AutoEscape::Custom(n) if n == SHELL => Quoting::Shell,
        _ => Quoting::Plain,
    };
    let text = to_text(quoting, value)?;
    out.write_str(&text)
        .map_err(|_| minijinja::Error::new(ErrorKind::WriteFailure, "write failed"))
}

fn invalid(msg: impl Into<String>) -> minijinja::Error {
    minijinja::Error::new(ErrorKind::InvalidOperation, msg.into())
}

fn to_text(quoting: Quoting, value: &Jinja) -> Result<String, minijinja::Error> {
    if value.is_undefined() || value.is_none() {
        return Err(invalid(
            "a value is none: guard an optional parameter with `{% if name %}`",
        ));
    }
    if value.is_safe() {
        let s = value.as_str().unwrap_or_default();
        return Ok(match quoting {
            Quoting::Shell => unmark_raw(s),
            Quoting::Plain => value.to_string(),
        });
    }
    if let Some(s) = value.as_str() {
        if quoting == Quoting::Plain {
            return Ok(s.to_string());
        }
        if markers::has_tempfile(s) {
            return Err(invalid(
                "a tempfile() path must stand alone in a command, not inside another value",
            ));
        }
        return Ok(shell::word(&unmark(s)));
    }
    match value.kind() {
        ValueKind::Seq => {
            let mut words = Vec::new();
            for item in value.try_iter()? {
                words.push(to_text(quoting, &item)?);
            }
            Ok(words.join(" "))
        }
        ValueKind::Map => Err(invalid(
            "cannot write a map into a command: pick one of its values",
        )),
        _ => Ok(value.to_string()),
    }
}

/// The temp files and extra commands a render declares through functions.
#[derive(Default)]
struct Collected {
    tempfiles: Vec<(String, Option<Value>)>,
    extra_commands: Vec<String>,
}

fn environment(quoting: Quoting, collected: &Arc<Mutex<Collected>>) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_syntax(
        minijinja::syntax::SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .build()
            .expect("valid syntax config"),
    );
    env.set_formatter(format_value);
    if quoting == Quoting::Plain {
        return env;
    }
    env.set_auto_escape_callback(|_| AutoEscape::Custom(SHELL.into()));
    let files = collected.clone();
    env.add_function("tempfile", move |name: String, content: Option<Jinja>| {
        declare_tempfile(&files, name, content)
    });
    let extra = collected.clone();
    env.add_function(
        "command",
        move |text: Jinja| -> Result<Jinja, minijinja::Error> {
            if !text.is_safe() {
                return Err(invalid(
                    "command() takes a rendered command template (a `type: templates` parameter)",
                ));
            }
            let text = unmark_raw(text.as_str().unwrap_or_default())
                .trim()
                .to_string();
            if !text.is_empty() {
                lock(&extra).extra_commands.push(text);
            }
            Ok(Jinja::from_safe_string(String::new()))
        },
    );
    env
}

fn lock(c: &Mutex<Collected>) -> std::sync::MutexGuard<'_, Collected> {
    c.lock().unwrap_or_else(|e| e.into_inner())
}

/// `tempfile(NAME[, CONTENT])`: declares a private temp file of the step
/// and stands for its path.
fn declare_tempfile(
    files: &Mutex<Collected>,
    name: String,
    content: Option<Jinja>,
) -> Result<Jinja, minijinja::Error> {
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

/// The two environments of one step and what its templates collect.
struct Templates<'a, 'c> {
    cx: &'a Ctx<'c>,
    collected: Arc<Mutex<Collected>>,
    shell: Environment<'static>,
    plain: Environment<'static>,
    /// `env.NAME` for templates: every visible variable, marked.
    visible: BTreeMap<String, String>,
    diags: Vec<Diag>,
}

impl<'a, 'c> Templates<'a, 'c> {
    fn new(cx: &'a Ctx<'c>) -> Self {
        let collected = Arc::new(Mutex::new(Collected::default()));
        Templates {
            cx,
            shell: environment(Quoting::Shell, &collected),
            plain: environment(Quoting::Plain, &collected),
            collected,
            visible: cx
                .vars
                .visible(cx.step_env)
                .iter()
                .map(|(k, v)| (k.clone(), mark(v)))
                .collect(),
            diags: Vec::new(),
        }
    }

    /// The template context: the parameters, `env`, `kubeconfig`, `step`.
    fn context(&self, params: &Params) -> Jinja {
        let step = self.cx.step();
        let mut ctx: BTreeMap<String, Jinja> =
            params.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        ctx.insert("env".into(), Jinja::from(self.visible.clone()));
        ctx.insert(
            "kubeconfig".into(),
            Jinja::from_safe_string("\"$KUBECONFIG\"".into()),
        );
        ctx.insert(
            "step".into(),
            minijinja::context! {
                name => step.name(),
                provider => self.cx.provider.name.clone(),
                index => self.cx.index,
            },
        );
        Jinja::from(ctx)
    }

    fn render(mut self, mut params: Params) -> Result<Rendered, Vec<Diag>> {
        self.render_command_params(&mut params);
        let ctx = self.context(&params);
        let commands = self.render_commands(&ctx);
        let cx = self.cx;
        let def = &cx.provider.def;
        let requires = self.render_plain_list("requires", &def.requires, &ctx);
        let warnings = self
            .render_plain_list("warnings", &def.warnings, &ctx)
            .into_iter()
            .map(|w| format!("step `{}`: {}", cx.step().name(), unmark_raw(&w)))
            .collect();
        let mut exports = IndexMap::new();
        for (name, t) in &def.exports {
            if let Some(v) = self.render_plain(&format!("exports.{name}"), t, &ctx) {
                exports.insert(name.clone(), unmark(&v));
            }
        }
        if !self.diags.is_empty() {
            return Err(self.diags);
        }
        let files = std::mem::take(&mut lock(&self.collected).tempfiles);
        let mut finished = Vec::new();
        let mut last_use: BTreeMap<String, usize> = BTreeMap::new();
        for (i, command) in commands.iter().enumerate() {
            let (text, used) = markers::take_tempfiles(command);
            for name in used {
                last_use.insert(name, i + 1);
            }
            finished.push(text);
        }
        let tempfiles = files
            .into_iter()
            .map(|(name, content)| TempFile {
                path: format!("$STACKHOOK_TMPDIR/{name}"),
                remove_after: last_use.get(&name).copied(),
                name,
                content,
            })
            .collect();
        Ok(Rendered {
            commands: finished,
            tempfiles,
            exports,
            requires,
            warnings,
        })
    }

    /// `type: templates` parameters come from the spec: rendered first,
    /// against the other parameters, and handed on as safe text.
    fn render_command_params(&mut self, params: &mut Params) {
        let cx = self.cx;
        for (name, param) in &cx.provider.def.params {
            if param.kind != ParamKind::Commands {
                continue;
            }
            let Some(list) = params.get(name).filter(|v| !v.is_none()).cloned() else {
                continue;
            };
            let ctx = self.context(params);
            let node = cx
                .step()
                .with
                .as_ref()
                .and_then(|w| w.value.iter().find(|(k, _)| k.value == *name))
                .map(|(_, v)| (cx.src(), cx.span(v)));
            let mut out = Vec::new();
            for (i, t) in list.try_iter().into_iter().flatten().enumerate() {
                let t = t.as_str().unwrap_or_default();
                match self.shell.render_str(t, ctx.clone()) {
                    Ok(s) => out.push(Jinja::from_safe_string(s)),
                    Err(e) => {
                        self.diags
                            .push(template_error(cx, &format!("`{name}[{i}]`"), node, &e))
                    }
                }
            }
            params.insert(name.clone(), Jinja::from(out));
        }
    }

    fn render_commands(&mut self, ctx: &Jinja) -> Vec<String> {
        let cx = self.cx;
        let mut commands = Vec::new();
        for (i, template) in cx.provider.def.commands.iter().enumerate() {
            match self.shell.render_str(&template.value, ctx.clone()) {
                Ok(text) => {
                    commands.append(&mut lock(&self.collected).extra_commands);
                    let text = text.trim();
                    if !text.is_empty() {
                        commands.push(text.to_string());
                    }
                }
                Err(e) => {
                    let source = &cx.provider.source;
                    let span = yaml::spanned(&source.text, template);
                    let what = format!("command {}", i + 1);
                    self.diags
                        .push(template_error(cx, &what, Some((source, span)), &e));
                }
            }
        }
        commands
    }

    fn render_plain(&mut self, what: &str, template: &str, ctx: &Jinja) -> Option<String> {
        match self.plain.render_str(template, ctx.clone()) {
            Ok(s) => Some(s.trim().to_string()).filter(|s| !s.is_empty()),
            Err(e) => {
                self.diags.push(template_error(self.cx, what, None, &e));
                None
            }
        }
    }

    /// Each template of a list; empty results are dropped.
    fn render_plain_list(&mut self, what: &str, templates: &[String], ctx: &Jinja) -> Vec<String> {
        templates
            .iter()
            .enumerate()
            .filter_map(|(i, t)| self.render_plain(&format!("{what}[{i}]"), t, ctx))
            .collect()
    }
}

fn template_error(
    cx: &Ctx,
    what: &str,
    node: Option<(&Source, miette::SourceSpan)>,
    e: &minijinja::Error,
) -> Diag {
    let mut detail = e
        .detail()
        .map_or_else(|| e.kind().to_string(), str::to_string);
    if let Some(line) = e.line() {
        detail = format!("{detail} (line {line} of the template)");
    }
    let d = Diag::new(
        Code::Template,
        format!(
            "step `{}`: {what} of provider `{}` failed to render: {detail}",
            cx.step().name(),
            cx.provider.name
        ),
    );
    let d = match node {
        Some((source, span)) => d.at(source, span, "this template"),
        None => d,
    };
    let in_spec = node.is_some_and(|(s, _)| std::ptr::eq(s, cx.src()));
    let origin = if in_spec {
        "the spec".to_string()
    } else {
        cx.provider.origin.to_string()
    };
    d.help(match e.kind() {
        ErrorKind::UndefinedError => format!(
            "the template uses a name that is not a parameter of `{}`, `env`, `kubeconfig` or `step`; check {origin}",
            cx.provider.name
        ),
        _ => format!(
            "check the template in {origin}; docs/providers.md describes what templates can use"
        ),
    })
}
