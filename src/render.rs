//! Rendering one step: binding the spec's `with:` to the provider's
//! parameters, then running the provider's minijinja templates. Pure: it
//! reads the environment snapshot in [`Vars`] and nothing else.
//!
//! Values carry secret and missing references through minijinja as marker
//! characters (private-use code points), so that string operations in a
//! template keep them; the formatter turns each marker into `"$NAME"` when
//! it quotes a value for `sh`, which every `{{ }}` does unless `|safe`.

use std::sync::{Arc, Mutex};

use indexmap::IndexMap;
use minijinja::value::Value as Jv;
use minijinja::{AutoEscape, Environment, ErrorKind, UndefinedBehavior};
use serde_json::Value as Json;
use serde_saphyr::Spanned;

use crate::diagnostic::{Diag, Source, did_you_mean};
use crate::interpolate::{Part, RefKind, Value};
use crate::plan::{PlanStep, TempFile};
use crate::provider::{Param, ParamKind, Provider};
use crate::resolve::{EnvEntry, MissingVar, Vars, interpolate_spanned};
use crate::shell;
use crate::spec::{self, Spec};

const OPEN: char = '\u{E000}';
const CLOSE: char = '\u{E001}';

/// A value as a string minijinja can carry, references as markers.
pub fn mark(value: &Value) -> String {
    let mut out = String::new();
    for part in &value.0 {
        match part {
            // Text from the environment cannot forge a marker.
            Part::Text(t) => out.extend(t.chars().map(|c| {
                if c == OPEN || c == CLOSE {
                    '\u{FFFD}'
                } else {
                    c
                }
            })),
            Part::Ref { name, why } => {
                let tag = if *why == RefKind::Secret { 's' } else { 'm' };
                out.push(OPEN);
                out.push(tag);
                out.push_str(name);
                out.push(CLOSE);
            }
        }
    }
    out
}

pub fn unmark(s: &str) -> Value {
    let mut out = Value::default();
    let mut rest = s;
    while let Some(i) = rest.find(OPEN) {
        out.push(Part::Text(rest[..i].to_string()));
        let after = &rest[i + OPEN.len_utf8()..];
        let Some(j) = after.find(CLOSE) else {
            out.push(Part::Text(after.to_string()));
            return out;
        };
        let inner = &after[..j];
        let (why, name) = match inner.chars().next() {
            Some('s') => (RefKind::Secret, &inner[1..]),
            _ => (RefKind::Missing, inner.get(1..).unwrap_or("")),
        };
        out.push(Part::Ref {
            name: name.to_string(),
            why,
        });
        rest = &after[j + CLOSE.len_utf8()..];
    }
    out.push(Part::Text(rest.to_string()));
    out
}

/// Markers left in text a template marked safe: the reference is written
/// for sh to expand in place.
fn unmark_raw(s: &str) -> String {
    if !s.contains(OPEN) {
        return s.to_string();
    }
    unmark(s)
        .0
        .iter()
        .map(|p| match p {
            Part::Text(t) => t.clone(),
            Part::Ref { name, .. } => format!("${{{name}}}"),
        })
        .collect()
}

/// Commands are quoted for sh; everything else (exports, warnings, CLI
/// names) is rendered as plain text with markers kept.
const SH: &str = "sh";

fn format_value(
    out: &mut minijinja::Output,
    state: &mut minijinja::State,
    value: &Jv,
) -> Result<(), minijinja::Error> {
    let quoting = matches!(state.auto_escape(), AutoEscape::Custom(n) if n == SH);
    let text = to_text(quoting, value)?;
    out.write_str(&text)
        .map_err(|_| minijinja::Error::new(ErrorKind::WriteFailure, "write failed"))
}

fn to_text(quoting: bool, value: &Jv) -> Result<String, minijinja::Error> {
    if value.is_undefined() || value.is_none() {
        return Err(minijinja::Error::new(
            ErrorKind::InvalidOperation,
            "a value is none: guard an optional parameter with `{% if name %}`",
        ));
    }
    let text = if value.is_safe() {
        if quoting {
            unmark_raw(value.as_str().unwrap_or_default())
        } else {
            value.to_string()
        }
    } else if let Some(s) = value.as_str() {
        if quoting {
            shell::word(&unmark(s))
        } else {
            s.to_string()
        }
    } else if value.kind() == minijinja::value::ValueKind::Seq {
        let mut words = Vec::new();
        for item in value.try_iter()? {
            words.push(to_text(quoting, &item)?);
        }
        words.join(" ")
    } else if matches!(value.kind(), minijinja::value::ValueKind::Map) {
        return Err(minijinja::Error::new(
            ErrorKind::InvalidOperation,
            "cannot write a map into a command: pick one of its values",
        ));
    } else {
        value.to_string()
    };
    Ok(text)
}

/// Everything a step renders to, before it is put into the plan.
pub struct Rendered {
    pub commands: Vec<String>,
    pub tempfiles: Vec<TempFile>,
    pub exports: IndexMap<String, Value>,
    pub requires: Vec<String>,
    pub warnings: Vec<String>,
}

struct Ctx<'a> {
    spec: &'a Spec,
    index: usize,
    provider: &'a Provider,
    vars: &'a Vars,
    step_env: &'a IndexMap<String, EnvEntry>,
}

impl Ctx<'_> {
    fn src(&self) -> &Source {
        self.spec.source()
    }

    fn step(&self) -> &Spanned<spec::Step> {
        &self.spec.steps.value[self.index]
    }

    fn key(&self, param: &str) -> String {
        format!("steps[{}].with.{param}", self.index)
    }

    fn span<T>(&self, node: &Spanned<T>) -> miette::SourceSpan {
        spec::spanned(&self.src().text, node)
    }
}

/// Renders step `index` of `spec` with `provider`.
pub fn render_step(
    spec: &Spec,
    index: usize,
    provider: &Provider,
    vars: &mut Vars,
    missing: &mut Vec<MissingVar>,
) -> Result<PlanStep, Vec<Diag>> {
    let step_env = vars.step_env(spec, index, missing);
    // Variables named by `type: var` parameters are secret everywhere, so
    // declare them before anything is resolved.
    let with = spec.steps.value[index].value.with.as_ref();
    for (key, value) in with.iter().flat_map(|w| w.value.iter()) {
        if let (Some(p), Json::String(s)) = (provider.def.params.get(&key.value), &value.value)
            && p.kind == ParamKind::Var
        {
            vars.declare_secret(s);
        }
    }
    let vars = &*vars;
    let cx = Ctx {
        spec,
        index,
        provider,
        vars,
        step_env: &step_env,
    };
    let params = bind(&cx, missing)?;
    let rendered = run_templates(&cx, params)?;
    let step = &cx.step().value;
    Ok(PlanStep {
        name: step.name().to_string(),
        provider: provider.name.clone(),
        commands: rendered.commands,
        tempfiles: rendered.tempfiles,
        exports: rendered.exports,
        env: step_env
            .iter()
            .map(|(k, e)| (k.clone(), e.clone().into()))
            .collect(),
        requires: rendered.requires,
        timeout: humantime::format_duration(step.timeout()).to_string(),
        retries: step.retries.as_ref().map_or(0, |r| r.value),
        warnings: rendered.warnings,
        span: cx.span(&cx.step().value.provider),
    })
}

/// The parameters' values: given, defaulted, or none.
type Params = IndexMap<String, Jv>;

fn bind(cx: &Ctx, missing: &mut Vec<MissingVar>) -> Result<Params, Vec<Diag>> {
    let def = &cx.provider.def;
    let src = cx.src();
    let step = &cx.step().value;
    let mut diags = Vec::new();
    let mut given: IndexMap<String, (Jv, miette::SourceSpan)> = IndexMap::new();
    // Parameters already reported (a bad value, or a typo of their name):
    // saying they are missing too would be noise.
    let mut reported: Vec<String> = Vec::new();

    for (key, value) in step.with.iter().flat_map(|w| w.value.iter()) {
        let Some(param) = def.params.get(&key.value) else {
            let names = def.params.keys().map(String::as_str);
            let help = match did_you_mean(&key.value, names) {
                Some(s) => {
                    reported.push(s.to_string());
                    format!("did you mean `{s}`?")
                }
                None if def.params.is_empty() => {
                    format!("`{}` takes no parameters", cx.provider.name)
                }
                None => format!(
                    "`{}` takes: {}",
                    cx.provider.name,
                    def.params.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
            };
            diags.push(
                Diag::new(
                    "stackhook::spec::unknown_param",
                    format!("`{}` has no parameter `{}`", cx.provider.name, key.value),
                )
                .at(src, cx.span(key), "unknown parameter")
                .help(help),
            );
            continue;
        };
        match convert(cx, &key.value, cx.key(&key.value), param, value, missing) {
            Ok(v) => {
                given.insert(key.value.clone(), (v, cx.span(key)));
            }
            Err(d) => {
                reported.push(key.value.clone());
                diags.push(d);
            }
        }
    }

    // Defaults and `when` conditions see the given values.
    let mut params: Params = def
        .params
        .keys()
        .map(|k| (k.clone(), Jv::from(())))
        .collect();
    for (k, (v, _)) in &given {
        params.insert(k.clone(), v.clone());
    }
    let expr_env = Environment::new();
    let holds = |expr: &str, params: &Params| -> Result<bool, String> {
        let compiled = expr_env
            .compile_expression(expr)
            .map_err(|e| e.to_string())?;
        let ctx: std::collections::BTreeMap<&str, Jv> = params
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect();
        compiled
            .eval(ctx)
            .map(|v| v.is_true())
            .map_err(|e| e.to_string())
    };
    for (name, param) in &def.params {
        if given.contains_key(name) {
            if let Some(when) = &param.when {
                match holds(when, &params) {
                    Ok(true) => {}
                    Ok(false) => diags.push(
                        Diag::new(
                            "stackhook::spec::param_not_applicable",
                            format!("`{name}` only applies when {when}"),
                        )
                        .at(src, given[name].1, "not used here")
                        .help(format!(
                            "remove `{name}`, or change the step so that {when}"
                        )),
                    ),
                    Err(e) => diags.push(provider_bug(cx, &format!("`when` of `{name}`: {e}"))),
                }
            }
            continue;
        }
        let Some(default) = &param.default else {
            continue;
        };
        let applies = match &param.default_when {
            None => Ok(true),
            Some(expr) => holds(expr, &params),
        };
        match applies {
            Ok(true) => {
                let node = Spanned::new(
                    default.clone(),
                    step.provider.referenced,
                    step.provider.defined,
                );
                let key = format!("{} (default {})", cx.key(name), json_text(default));
                match convert(cx, name, key, param, &node, missing) {
                    Ok(v) => {
                        params.insert(name.clone(), v);
                    }
                    Err(d) => diags.push(d),
                }
            }
            Ok(false) => {}
            Err(e) => diags.push(provider_bug(
                cx,
                &format!("`default_when` of `{name}`: {e}"),
            )),
        }
    }

    let anchor = step
        .with
        .as_ref()
        .map_or_else(|| cx.span(&step.provider), |w| cx.span(w));
    for (name, param) in &def.params {
        if param.required && !given.contains_key(name) && !reported.contains(name) {
            let mut help = format!("add `{name}:` under `with:`");
            if !param.description.is_empty() {
                help = format!("{help} ({})", param.description.trim_end_matches('.'));
            }
            diags.push(
                Diag::new(
                    "stackhook::spec::missing_param",
                    format!("`{}` needs the parameter `{name}`", cx.provider.name),
                )
                .at(src, anchor, format!("`{name}` missing"))
                .help(help),
            );
        }
    }
    for group in &def.exactly_one_of {
        if group.iter().any(|p| reported.contains(p)) {
            continue;
        }
        let set: Vec<&String> = group.iter().filter(|p| given.contains_key(*p)).collect();
        let list = group
            .iter()
            .map(|p| format!("`{p}`"))
            .collect::<Vec<_>>()
            .join(" or ");
        match set.as_slice() {
            [_] => {}
            [] => diags.push(
                Diag::new(
                    "stackhook::spec::one_of",
                    format!("`{}` needs {list}", cx.provider.name),
                )
                .at(src, anchor, "none given")
                .help(format!("set exactly one of {list}")),
            ),
            [first, rest @ ..] => {
                let mut d = Diag::new(
                    "stackhook::spec::one_of",
                    format!("{list}: set only one, not {}", set.len()),
                )
                .at(src, given[first.as_str()].1, format!("`{first}` set"));
                for other in rest {
                    d = d.and(given[other.as_str()].1, format!("and `{other}` set"));
                }
                diags.push(d.help(format!(
                    "a step takes exactly one of {list}: remove the others"
                )));
            }
        }
    }
    if diags.is_empty() {
        Ok(params)
    } else {
        Err(diags)
    }
}

fn provider_bug(cx: &Ctx, msg: &str) -> Diag {
    Diag::new(
        "stackhook::provider::invalid",
        format!("provider `{}` is broken: {msg}", cx.provider.name),
    )
    .help(format!("fix {}", cx.provider.origin))
}

fn type_error(cx: &Ctx, name: &str, param: &Param, node: &Spanned<Json>, got: &str) -> Diag {
    Diag::new(
        "stackhook::spec::param_type",
        format!("`{name}` must be a {}, not {got}", param.kind.describe()),
    )
    .at(
        cx.src(),
        cx.span(node),
        format!("expected a {}", param.kind.describe()),
    )
    .help_opt((!param.description.is_empty()).then(|| param.description.clone()))
}

fn json_text(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn json_kind(v: &Json) -> &'static str {
    match v {
        Json::Null => "null",
        Json::Bool(_) => "a bool",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "a list",
        Json::Object(_) => "a map",
    }
}

/// One given (or default) parameter value, checked and interpolated.
fn convert(
    cx: &Ctx,
    name: &str,
    key: String,
    param: &Param,
    node: &Spanned<Json>,
    missing: &mut Vec<MissingVar>,
) -> Result<Jv, Diag> {
    let src = cx.src();
    let scope = cx.vars.scope(Some(cx.step_env), param.secret);
    let interp = |s: &str, missing: &mut Vec<MissingVar>| {
        let s = Spanned::new(s.to_string(), node.referenced, node.defined);
        interpolate_spanned(src, &s, &scope, &key, missing)
    };
    match (param.kind, &node.value) {
        (ParamKind::String, Json::String(_) | Json::Number(_) | Json::Bool(_)) => {
            let raw = match &node.value {
                Json::String(s) => s.clone(),
                other => other.to_string(),
            };
            let v = interp(&raw, missing);
            if param.secret && !v.is_empty() && v.refs().next().is_none() {
                return Err(Diag::new(
                    "stackhook::spec::literal_secret",
                    format!("`{name}` is a secret and must not be written in the spec"),
                )
                .at(src, cx.span(node), "literal secret")
                .help(format!(
                    "reference an environment variable instead, e.g. `{name}: ${{MY_SECRET_VAR}}`, and set it in the stack's environment"
                )));
            }
            if !param.values.is_empty()
                && let Some(text) = v.as_text()
                && !param.values.contains(&text)
            {
                let help = match did_you_mean(&text, param.values.iter().map(String::as_str)) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!("use one of: {}", param.values.join(", ")),
                };
                return Err(Diag::new(
                    "stackhook::spec::param_value",
                    format!("`{name}` cannot be `{text}`"),
                )
                .at(
                    src,
                    cx.span(node),
                    format!("one of: {}", param.values.join(", ")),
                )
                .help(help));
            }
            Ok(Jv::from(mark(&v)))
        }
        (ParamKind::Bool, Json::Bool(b)) => Ok(Jv::from(*b)),
        (ParamKind::Bool, Json::String(s)) => {
            let v = interp(s, missing);
            match v.as_text().as_deref() {
                Some("true") => Ok(Jv::from(true)),
                Some("false") | Some("") => Ok(Jv::from(false)),
                // Missing (already reported): render as false.
                None if !v.has_secret() => Ok(Jv::from(false)),
                _ => Err(type_error(cx, name, param, node, &format!("`{s}`"))),
            }
        }
        (ParamKind::Args, Json::String(s)) => {
            let words = shlex::split(s).ok_or_else(|| {
                Diag::new(
                    "stackhook::spec::param_value",
                    format!("`{name}` has unbalanced quotes"),
                )
                .at(src, cx.span(node), "cannot split into words")
                .help("write the words as a YAML list instead")
            })?;
            Ok(Jv::from(
                words
                    .iter()
                    .map(|w| mark(&interp(w, missing)))
                    .collect::<Vec<_>>(),
            ))
        }
        (ParamKind::Args, Json::Array(items)) => {
            let mut words = Vec::new();
            for item in items {
                match item {
                    Json::String(s) => words.push(mark(&interp(s, missing))),
                    Json::Number(_) | Json::Bool(_) => words.push(item.to_string()),
                    other => {
                        return Err(type_error(
                            cx,
                            name,
                            param,
                            node,
                            &format!("a list holding {}", json_kind(other)),
                        ));
                    }
                }
            }
            Ok(Jv::from(words))
        }
        (ParamKind::Var, Json::String(s)) => {
            if !crate::interpolate::is_var_name(s) {
                return Err(Diag::new(
                    "stackhook::spec::param_value",
                    format!("`{name}` must name an environment variable, not `{s}`"),
                )
                .at(src, cx.span(node), "not a variable name")
                .help(format!(
                    "write the variable's name without `$`, e.g. `{name}: KUBECONFIG_CONTENT`"
                )));
            }
            if crate::interpolate::Lookup::get(&scope, s).is_none() {
                let span = cx.span(node);
                missing.push(MissingVar {
                    name: s.clone(),
                    location: src.position(span.offset()),
                    key,
                    span,
                });
            }
            Ok(Jv::from(s.clone()))
        }
        (ParamKind::Templates, Json::String(s)) => Ok(Jv::from(vec![s.clone()])),
        (ParamKind::Templates, Json::Array(items)) if items.iter().all(Json::is_string) => {
            Ok(Jv::from(
                items
                    .iter()
                    .map(|i| i.as_str().unwrap_or_default().to_string())
                    .collect::<Vec<_>>(),
            ))
        }
        (_, other) => Err(type_error(cx, name, param, node, json_kind(other))),
    }
}

/// The temp files and extra commands a render declares through functions.
#[derive(Default)]
struct Collected {
    tempfiles: Vec<(String, Option<Value>)>,
    extra_commands: Vec<String>,
}

fn environment(collected: Arc<Mutex<Collected>>) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_syntax(
        minijinja::syntax::SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .build()
            .expect("valid syntax config"),
    );
    env.set_auto_escape_callback(|name| {
        if name.starts_with("command") {
            AutoEscape::Custom(SH.into())
        } else {
            AutoEscape::None
        }
    });
    env.set_formatter(format_value);
    let files = collected.clone();
    env.add_function(
        "tempfile",
        move |name: String, content: Option<Jv>| -> Result<Jv, minijinja::Error> {
            let valid = !name.is_empty()
                && !name.starts_with('.')
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
            if !valid {
                return Err(minijinja::Error::new(
                    ErrorKind::InvalidOperation,
                    format!(
                        "tempfile name `{name}` must use only letters, digits, `.`, `_` and `-`"
                    ),
                ));
            }
            let content = match content {
                None => None,
                Some(c) if c.is_none() || c.is_undefined() => {
                    return Err(minijinja::Error::new(
                        ErrorKind::InvalidOperation,
                        format!("the content of tempfile `{name}` is none"),
                    ));
                }
                Some(c) => Some(unmark(&c.to_string())),
            };
            let mut files = files.lock().expect("render is single-threaded");
            match files.tempfiles.iter().find(|(n, _)| *n == name) {
                Some((_, prev)) if *prev != content => {
                    return Err(minijinja::Error::new(
                        ErrorKind::InvalidOperation,
                        format!("tempfile `{name}` is declared twice with different content"),
                    ));
                }
                Some(_) => {}
                None => files.tempfiles.push((name.clone(), content)),
            }
            Ok(Jv::from_safe_string(format!(
                "\"$STACKHOOK_TMPDIR/{name}\""
            )))
        },
    );
    let extra = collected;
    env.add_function("command", move |text: Jv| -> Result<Jv, minijinja::Error> {
        if !text.is_safe() {
            return Err(minijinja::Error::new(
                ErrorKind::InvalidOperation,
                "command() takes a rendered command template (a `type: templates` parameter)",
            ));
        }
        let text = unmark_raw(text.as_str().unwrap_or_default())
            .trim()
            .to_string();
        if !text.is_empty() {
            extra
                .lock()
                .expect("single-threaded")
                .extra_commands
                .push(text);
        }
        Ok(Jv::from_safe_string(String::new()))
    });
    env
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
    let origin = &cx.provider.origin;
    let d = Diag::new(
        "stackhook::template",
        format!(
            "step `{}`: {what} of provider `{}` failed to render: {detail}",
            cx.step().value.name(),
            cx.provider.name
        ),
    );
    let d = match node {
        Some((source, span)) => d.at(source, span, "this template"),
        None => d,
    };
    let in_spec = node.is_some_and(|(s, _)| std::ptr::eq(s, cx.src()));
    let origin = if in_spec { "the spec" } else { origin.as_str() };
    d.help(match e.kind() {
        ErrorKind::UndefinedError => format!(
            "the template uses a name that is not a parameter of `{}`, `env`, `kubeconfig` or `step`; check {origin}",
            cx.provider.name
        ),
        _ => format!("check the template in {origin}; docs/providers.md describes what templates can use"),
    })
}

fn run_templates(cx: &Ctx, mut params: Params) -> Result<Rendered, Vec<Diag>> {
    let collected = Arc::new(Mutex::new(Collected::default()));
    let env = environment(collected.clone());
    let def = &cx.provider.def;
    let step = &cx.step().value;
    let visible: std::collections::BTreeMap<String, String> = cx
        .vars
        .visible(cx.step_env)
        .iter()
        .map(|(k, v)| (k.clone(), mark(v)))
        .collect();

    let base = |params: &Params| {
        let mut ctx: std::collections::BTreeMap<String, Jv> =
            params.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        ctx.insert("env".into(), Jv::from(visible.clone()));
        ctx.insert(
            "kubeconfig".into(),
            Jv::from_safe_string("\"$KUBECONFIG\"".into()),
        );
        ctx.insert(
            "step".into(),
            minijinja::context! { name => step.name(), provider => cx.provider.name.clone(), index => cx.index },
        );
        Jv::from(ctx)
    };

    let mut diags = Vec::new();
    // `type: templates` parameters come from the spec: render them first,
    // against the other parameters, and hand them on as safe text.
    for (name, param) in &def.params {
        if param.kind != ParamKind::Templates {
            continue;
        }
        let Some(list) = params.get(name).filter(|v| !v.is_none()).cloned() else {
            continue;
        };
        let ctx = base(&params);
        let node = step
            .with
            .as_ref()
            .and_then(|w| w.value.iter().find(|(k, _)| k.value == *name))
            .map(|(_, v)| v);
        let mut out = Vec::new();
        for (i, t) in list.try_iter().into_iter().flatten().enumerate() {
            let t = t.as_str().unwrap_or_default().to_string();
            match env.render_named_str(&format!("command:{name}[{i}]"), &t, ctx.clone()) {
                Ok(s) => out.push(Jv::from_safe_string(s)),
                Err(e) => diags.push(template_error(
                    cx,
                    &format!("`{name}[{i}]`"),
                    node.map(|n| (cx.src(), cx.span(n))),
                    &e,
                )),
            }
        }
        params.insert(name.clone(), Jv::from(out));
    }
    let ctx = base(&params);

    let mut commands = Vec::new();
    for (i, template) in def.commands.iter().enumerate() {
        let span = spec::spanned(&cx.provider.source.text, template);
        match env.render_named_str(&format!("command[{i}]"), &template.value, ctx.clone()) {
            Ok(text) => {
                commands.append(&mut collected.lock().expect("single-threaded").extra_commands);
                let text = text.trim();
                if !text.is_empty() {
                    commands.push(text.to_string());
                }
            }
            Err(e) => diags.push(template_error(
                cx,
                &format!("command {}", i + 1),
                Some((&cx.provider.source, span)),
                &e,
            )),
        }
    }

    let mut plain = |what: &str, template: &str| -> Option<String> {
        match env.render_named_str(what, template, ctx.clone()) {
            Ok(s) => Some(s.trim().to_string()),
            Err(e) => {
                diags.push(template_error(cx, what, None, &e));
                None
            }
        }
    };
    let mut requires = Vec::new();
    for (i, t) in def.requires.iter().enumerate() {
        if let Some(r) = plain(&format!("requires[{i}]"), t).filter(|r| !r.is_empty()) {
            requires.push(r);
        }
    }
    let mut warnings = Vec::new();
    for (i, t) in def.warnings.iter().enumerate() {
        if let Some(w) = plain(&format!("warnings[{i}]"), t).filter(|w| !w.is_empty()) {
            warnings.push(format!("step `{}`: {}", step.name(), unmark_raw(&w)));
        }
    }
    let mut exports = IndexMap::new();
    for (name, t) in &def.exports {
        if let Some(v) = plain(&format!("exports.{name}"), t).filter(|v| !v.is_empty()) {
            exports.insert(name.clone(), unmark(&v));
        }
    }
    if !diags.is_empty() {
        return Err(diags);
    }

    let files = std::mem::take(&mut collected.lock().expect("single-threaded").tempfiles);
    let tempfiles = files
        .into_iter()
        .map(|(name, content)| {
            let path = format!("$STACKHOOK_TMPDIR/{name}");
            let remove_after = commands
                .iter()
                .rposition(|c| c.contains(&path))
                .map(|i| i + 1);
            TempFile {
                name,
                path,
                content,
                remove_after,
            }
        })
        .collect();
    Ok(Rendered {
        commands,
        tempfiles,
        exports,
        requires,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_round_trip() {
        let mut v = Value::text("a");
        v.push(Part::Ref {
            name: "X_TOKEN".into(),
            why: RefKind::Secret,
        });
        v.push(Part::Text("b".into()));
        v.push(Part::Ref {
            name: "Y".into(),
            why: RefKind::Missing,
        });
        assert_eq!(unmark(&mark(&v)), v);
    }

    #[test]
    fn environment_text_cannot_forge_a_reference() {
        let forged = format!("{OPEN}sARM_CLIENT_SECRET{CLOSE}");
        let v = unmark(&mark(&Value::text(forged)));
        assert!(!v.has_secret());
        assert_eq!(v.refs().count(), 0);
    }
}
