//! Rendering one step: the provider's minijinja templates run against its
//! bound parameters. Pure: it reads the environment snapshot in `Vars` and
//! nothing else. Commands are rendered with shell quoting, and no `{{ }}`
//! of a command may hold a secret (see `jinja`); the provider's `env:`
//! (how secrets reach commands), exports, warnings and CLI names are
//! values, not shell text.

use std::cell::OnceCell;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use indexmap::IndexMap;
use minijinja::{Environment, Value as Jinja};
use schemars::JsonSchema;
use serde::Serialize;

use crate::base::diagnostic::{Code, Diag};
use crate::base::value::Value;
use crate::plan::bind::{self, Params};
use crate::plan::env_view::{EnvView, marked};
use crate::plan::jinja::{self, Collected, Quoting, Syntax, lock};
use crate::plan::markers::{self, unmark, unmark_raw};
use crate::plan::parameters;
use crate::plan::provider::ParamKind;
use crate::plan::render_error::template_error;
use crate::plan::resolve::{MissingVar, SpecKey};
use crate::plan::step_context::Ctx;
use crate::spec::yaml;

/// Everything a step renders to.
pub struct Rendered {
    pub commands: Vec<String>,
    pub tempfiles: Vec<TempFile>,
    pub exports: IndexMap<String, Value>,
    /// The provider's `env:` for the step's commands.
    pub env: IndexMap<String, Value>,
    pub requires: Vec<String>,
    pub warnings: Vec<String>,
    /// The OIDC tokens the step uses (see `Definition::jwts`).
    pub jwts: Vec<Value>,
    /// The bound parameters, for policies (see `parameters`).
    pub parameters: IndexMap<String, serde_json::Value>,
}

/// A file the runner writes for a step, in the run's private directory.
#[derive(Debug, Serialize, JsonSchema, PartialEq, Eq)]
pub struct TempFile {
    pub name: String,
    /// Under the run's private directory.
    pub path: String,
    /// What the runner writes (mode 0600) before the step; none when a
    /// command creates the file.
    #[schemars(with = "Option<String>")]
    pub content: Option<Value>,
    /// 1-based index of the last command that uses the file: the runner
    /// deletes it right after that command, whatever its outcome.
    pub remove_after: Option<usize>,
}

/// What every step of a plan renders with: the minijinja environments,
/// made once, and the process environment as templates see it, marked
/// once (a plan of many steps with a big environment does that work once).
pub struct Renderer {
    jinja: &'static Environments,
    base: OnceCell<Arc<BTreeMap<String, String>>>,
}

/// The template environments. One set per thread, kept for the life of
/// the process: each keeps what it compiled, so a provider's template is
/// compiled once however many steps and specs (`validate` of a thousand)
/// render it.
struct Environments {
    collected: Arc<Mutex<Collected>>,
    shell: Environment<'static>,
    /// For command templates written in the spec.
    shell_text: Environment<'static>,
    plain: Environment<'static>,
    /// For the provider's `env:` values.
    env_values: Environment<'static>,
}

thread_local! {
    static JINJA: &'static Environments = {
        let collected = Arc::new(Mutex::new(Collected::default()));
        Box::leak(Box::new(Environments {
            shell: jinja::environment(Quoting::Shell, Syntax::Full, &collected),
            shell_text: jinja::environment(Quoting::Shell, Syntax::ShellText, &collected),
            plain: jinja::environment(Quoting::Plain, Syntax::Full, &collected),
            env_values: jinja::environment(Quoting::Env, Syntax::Full, &collected),
            collected,
        }))
    };
}

impl Default for Renderer {
    fn default() -> Self {
        Renderer {
            jinja: JINJA.with(|j| *j),
            base: OnceCell::new(),
        }
    }
}

/// Binds and renders one step. A variable a template reads through `env`
/// that is not set is reported as missing (and rendered as a reference),
/// unless the template itself handles its absence (`default`, `is defined`).
/// What binding notes about the parameters goes to `notes`.
pub fn step(
    renderer: &Renderer,
    cx: &Ctx,
    missing: &mut Vec<MissingVar>,
    notes: &mut Vec<String>,
) -> Result<Rendered, Vec<Diag>> {
    let params = bind::bind(cx, missing, notes)?;
    let parameters = parameters::shown(&params);
    let base = renderer
        .base
        .get_or_init(|| Arc::new(marked(cx.vars.process_view())))
        .clone();
    let overlay = cx.vars.overlay(cx.step_env);
    let mut as_missing = BTreeSet::new();
    loop {
        let env = EnvView::new(base.clone(), &overlay, as_missing.clone());
        let result = Templates::new(renderer, cx, env.clone()).render(params.clone());
        let unseen: BTreeSet<String> = env.misses().difference(&as_missing).cloned().collect();
        match result {
            Err(_) if !unseen.is_empty() => as_missing.extend(unseen),
            result => {
                for name in as_missing {
                    missing.push(read_by_template(cx, name));
                }
                return result.map(|r| Rendered { parameters, ..r });
            }
        }
    }
}

/// A variable a template of the step reads, located at the step.
fn read_by_template(cx: &Ctx, name: String) -> MissingVar {
    let step = cx.step();
    let span = step
        .with
        .as_ref()
        .map_or_else(|| cx.span(&step.provider), |w| cx.span(w));
    MissingVar {
        location: cx.src().position(span.offset()),
        key: SpecKey::new(format!(
            "steps[{}], read by a template as env.{name}",
            cx.index
        )),
        name,
        span,
    }
}

/// One rendering of a step, and what its templates collect.
struct Templates<'a, 'c> {
    cx: &'a Ctx<'c>,
    collected: &'a Mutex<Collected>,
    shell: &'a Environment<'static>,
    shell_text: &'a Environment<'static>,
    plain: &'a Environment<'static>,
    env_values: &'a Environment<'static>,
    /// `env.NAME` for templates.
    env: Arc<EnvView>,
    diags: Vec<Diag>,
}

impl<'a, 'c> Templates<'a, 'c> {
    fn new(renderer: &'a Renderer, cx: &'a Ctx<'c>, env: Arc<EnvView>) -> Self {
        // What an earlier step (or rendering) declared is not this one's.
        let j = renderer.jinja;
        *lock(&j.collected) = Collected {
            secret_names: cx.vars.secret_names(),
            ..Collected::default()
        };
        Templates {
            cx,
            collected: &j.collected,
            shell: &j.shell,
            shell_text: &j.shell_text,
            plain: &j.plain,
            env_values: &j.env_values,
            env,
            diags: Vec::new(),
        }
    }

    /// The template context: the parameters, `env`, `kubeconfig`, `step`.
    fn context(&self, params: &Params) -> Jinja {
        let step = self.cx.step();
        let mut ctx: BTreeMap<String, Jinja> =
            params.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        ctx.insert("env".into(), Jinja::from_dyn_object(self.env.clone()));
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
        // Each word is one CLI: `{{ requires }}` of a list writes them
        // space-separated.
        let mut requires: Vec<String> = Vec::new();
        for result in self.render_plain_list("requires", &def.requires, &ctx) {
            for word in result.split_whitespace() {
                if !requires.iter().any(|r| r == word) {
                    requires.push(word.to_string());
                }
            }
        }
        let jwts = self
            .render_plain_list("jwts", &def.jwts, &ctx)
            .iter()
            .map(|j| unmark(j))
            .collect();
        let warnings = self
            .render_plain_list("warnings", &def.warnings, &ctx)
            .into_iter()
            .map(|w| format!("step `{}`: {}", cx.step().name(), unmark_raw(&w)))
            .collect();
        let mut exports = IndexMap::new();
        for (name, t) in &def.exports {
            // An export is a value: kept exactly, spaces and all; one that
            // renders empty is not exported.
            let what = format!("exports.{name}");
            if let Some(v) = self
                .render_exact(&what, &t.value, &ctx)
                .filter(|v| !v.is_empty())
            {
                exports.insert(name.clone(), unmark(&v));
            }
        }
        let (env, env_files) = self.render_env(&ctx);
        if !self.diags.is_empty() {
            return Err(self.diags);
        }
        let files = std::mem::take(&mut lock(self.collected).tempfiles);
        // A file the environment names is used by every command.
        let mut for_step = std::mem::take(&mut lock(self.collected).for_step);
        for_step.extend(env_files);
        let mut finished = Vec::new();
        let mut last_use: BTreeMap<String, usize> = BTreeMap::new();
        for (i, command) in commands.iter().enumerate() {
            let (text, used) = markers::take_tempfiles(command);
            for name in used.into_iter().filter(|n| !for_step.contains(n)) {
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
            env,
            requires,
            warnings,
            jwts,
            parameters: IndexMap::new(),
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
            let items: Vec<String> = list
                .try_iter()
                .into_iter()
                .flatten()
                .map(|t| t.as_str().unwrap_or_default().to_string())
                .collect();
            let mut out = Vec::new();
            for (i, t) in items.iter().enumerate() {
                // Rendered once each, so not kept compiled: a spec of thousands
                // of steps would keep thousands of templates.
                match self.shell_text.render_str(t, ctx.clone()) {
                    Ok(s) => out.push(Jinja::from_safe_string(s)),
                    Err(e) => {
                        let at =
                            node.map(|(src, list)| (src, item_span(&src.text, list, &items, i)));
                        let what = format!("`{name}[{i}]`");
                        self.diags.push(template_error(cx, &what, at, &e));
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
            match jinja::render(self.shell, &template.value, ctx.clone()) {
                Ok(text) => {
                    commands.append(&mut lock(self.collected).extra_commands);
                    let text = text.trim();
                    if !text.is_empty() {
                        commands.push(text.to_string());
                    }
                }
                Err(e) => {
                    let source = &cx.provider.source;
                    let span = yaml::spanned(&source.text, template);
                    let what = format!("command {}", i + 1);
                    let d = template_error(cx, &what, Some((source, span)), &e);
                    // One secret parameter in several commands: said once.
                    let said = self
                        .diags
                        .iter()
                        .any(|o| o.code == Code::TemplateSecret && o.labels == d.labels);
                    if !(said && d.code == Code::TemplateSecret) {
                        self.diags.push(d);
                    }
                }
            }
        }
        commands
    }

    /// The provider's `env:`: values kept exactly (an entry that renders
    /// empty is not set), temp files as their paths; and the temp files
    /// named.
    fn render_env(&mut self, ctx: &Jinja) -> (IndexMap<String, Value>, Vec<String>) {
        let cx = self.cx;
        let source = &cx.provider.source;
        let mut env = IndexMap::new();
        let mut files = Vec::new();
        for (name, template) in &cx.provider.def.env {
            match jinja::render(self.env_values, &template.value, ctx.clone()) {
                Ok(v) if v.is_empty() => {}
                Ok(v) if v.contains('\0') => {
                    let span = yaml::spanned(&source.text, template);
                    self.diags.push(
                        Diag::new(
                            Code::Template,
                            format!(
                                "step `{}`: env `{name}` of provider `{}` holds a NUL byte, which no environment variable can",
                                cx.step().name(),
                                cx.provider.name
                            ),
                        )
                        .at(source, span, "this template")
                        .help(format!("fix {}", cx.provider.origin)),
                    );
                }
                Ok(v) => {
                    let (value, used) = markers::unmark_with_paths(&v);
                    files.extend(used);
                    env.insert(name.clone(), value);
                }
                Err(e) => {
                    let span = yaml::spanned(&source.text, template);
                    let what = format!("env `{name}`");
                    self.diags
                        .push(template_error(cx, &what, Some((source, span)), &e));
                }
            }
        }
        (env, files)
    }

    /// A plain template's text, trimmed; none when empty.
    fn render_plain(&mut self, what: &str, template: &str, ctx: &Jinja) -> Option<String> {
        self.render_exact(what, template, ctx)
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    }

    fn render_exact(&mut self, what: &str, template: &str, ctx: &Jinja) -> Option<String> {
        match jinja::render(self.plain, template, ctx.clone()) {
            Ok(s) => Some(s),
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

/// Where item `i` of a list of templates is in the spec: the list's items
/// have no spans of their own, so each is looked for, in order, from the
/// list's start; the list itself when an item is not written as is (a
/// quoted scalar with escapes).
fn item_span(
    text: &str,
    list: miette::SourceSpan,
    items: &[String],
    i: usize,
) -> miette::SourceSpan {
    let mut from = list.offset();
    for (j, item) in items.iter().enumerate().take(i + 1) {
        let Some(found) = text.get(from..).and_then(|t| t.find(item.as_str())) else {
            return list;
        };
        let start = from + found;
        if j == i {
            return (start, item.len()).into();
        }
        from = start + item.len();
    }
    list
}
