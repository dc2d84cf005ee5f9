//! A step's `with:` bound to its provider's parameters: every given value
//! checked against its parameter's type and allowed values and
//! interpolated; defaults and `when` conditions applied; required and
//! exactly-one-of parameters enforced. A value that interpolates to nothing
//! counts as not set (`region: "${R:-}"` in a spec shared by regional and
//! zonal clusters), and the plan notes it. Every problem of a step is
//! reported at once, located in the spec.

use std::cell::RefCell;
use std::collections::HashMap;

use indexmap::IndexMap;
use miette::SourceSpan;
use minijinja::Value as Jinja;
use serde_json::Value as Json;
use serde_saphyr::Spanned;

use crate::base::diagnostic::{Code, Diag, did_you_mean, finish};
use crate::base::value::{RefKind, Value};
use crate::plan::cli_values;
use crate::plan::markers::mark;
use crate::plan::presence::{
    check_exactly_one, check_required, empty_note, first_variable, unknown_param,
};
use crate::plan::provider::{Param, ParamKind, json_kind, json_text};
use crate::plan::resolve::{MissingVar, SpecKey, interpolate_spanned};
use crate::plan::step_context::Ctx;
use crate::spec::interpolate::{self, Lookup, is_var_name};
use crate::spec::yaml::collect_strings;

/// The parameters' values for the templates: given, defaulted, or none.
pub type Params = IndexMap<String, Jinja>;

/// Binds the step's `with:` to the provider's parameters; what the plan
/// should say about it goes to `notes`.
pub fn bind(
    cx: &Ctx,
    missing: &mut Vec<MissingVar>,
    notes: &mut Vec<String>,
) -> Result<Params, Vec<Diag>> {
    let def = &cx.provider.def;
    let mut diags = Vec::new();
    let mut given: IndexMap<String, (Jinja, SourceSpan)> = IndexMap::new();
    // Parameters already reported (a bad value, or a typo of their name):
    // saying they are missing too would be noise.
    let mut reported: Vec<String> = Vec::new();
    // Parameters empty only for want of an environment (`validate`, which
    // has none): a run may set them, so they are neither set nor missing,
    // and templates see the variable they read, as if it were set.
    let mut unknown: IndexMap<String, Jinja> = IndexMap::new();

    for (key, value) in cx.step().with.iter().flat_map(|w| w.value.iter()) {
        let Some(param) = def.params.get(&key.value) else {
            diags.push(unknown_param(cx, key, &mut reported));
            continue;
        };
        match convert(cx, &key.value, cx.key(&key.value), param, value, missing) {
            Ok(Bound { empty: true, .. })
                if !cx.vars.env_known
                    && let Some(var) = first_variable(value) =>
            {
                let v = mark(&Value::reference(var, RefKind::Missing));
                let v = match param.kind {
                    ParamKind::Args => Jinja::from(vec![v]),
                    _ => Jinja::from(v),
                };
                unknown.insert(key.value.clone(), v);
            }
            Ok(Bound { empty: true, .. }) => notes.push(empty_note(&key.value, &value.value)),
            Ok(Bound { value: v, .. }) => {
                given.insert(key.value.clone(), (v, cx.span(key)));
            }
            Err(d) => {
                reported.push(key.value.clone());
                diags.push(d);
            }
        }
    }

    let mut params: Params = def
        .params
        .keys()
        .map(|k| (k.clone(), Jinja::from(())))
        .collect();
    for (k, (v, _)) in &given {
        params.insert(k.clone(), v.clone());
    }
    apply_defaults(cx, &given, &mut params, missing, &mut diags);
    params.extend(unknown.clone());
    let unknown: Vec<String> = unknown.into_keys().collect();
    let not_missing = [reported.as_slice(), &unknown].concat();
    check_required(cx, &given, &not_missing, &mut diags);
    check_exactly_one(cx, &given, &reported, &unknown, &mut diags);
    finish(params, diags)
}

/// A converted value; `empty` when a string interpolated to nothing, which
/// counts as not set.
struct Bound {
    value: Jinja,
    empty: bool,
}

impl From<Jinja> for Bound {
    fn from(value: Jinja) -> Self {
        Bound {
            value,
            empty: false,
        }
    }
}

/// Whether a provider's condition (`login == "spn"`) holds for the
/// parameters bound so far. Each condition is compiled once per thread (a
/// fresh environment and compile per check was a sixth of `validate`).
fn holds(expr: &str, params: &Params) -> Result<bool, String> {
    type Compiled = Result<minijinja::Expression<'static, 'static>, String>;
    static ENV: std::sync::OnceLock<minijinja::Environment<'static>> = std::sync::OnceLock::new();
    thread_local!(static COMPILED: RefCell<HashMap<String, Compiled>> = RefCell::default());
    let ctx: std::collections::BTreeMap<&str, Jinja> = params
        .iter()
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    COMPILED.with_borrow_mut(|compiled| {
        let env = ENV.get_or_init(minijinja::Environment::new);
        let entry = compiled.entry(expr.to_string()).or_insert_with(|| {
            let owned = env.compile_expression_owned(expr.to_string());
            owned.map_err(|e| e.to_string())
        });
        let value = entry.as_ref().map_err(Clone::clone)?.eval(ctx);
        value.map(|v| v.is_true()).map_err(|e| e.to_string())
    })
}

/// `when` conditions of given parameters, and defaults of the others;
/// both see the given values.
fn apply_defaults(
    cx: &Ctx,
    given: &IndexMap<String, (Jinja, SourceSpan)>,
    params: &mut Params,
    missing: &mut Vec<MissingVar>,
    diags: &mut Vec<Diag>,
) {
    for (name, param) in &cx.provider.def.params {
        if let Some((_, span)) = given.get(name) {
            if let Some(when) = &param.when {
                match holds(when, params) {
                    Ok(true) => {}
                    Ok(false) => diags.push(
                        Diag::new(
                            Code::SpecParamNotApplicable,
                            format!("`{name}` only applies when {when}"),
                        )
                        .at(cx.src(), *span, "not used here")
                        .help(format!(
                            "remove `{name}`, or change the step so that {when}"
                        )),
                    ),
                    Err(e) => diags.push(cx.provider_bug(&format!("`when` of `{name}`: {e}"))),
                }
            }
            continue;
        }
        let Some(default) = &param.default else {
            continue;
        };
        let applies = match &param.default_when {
            None => Ok(true),
            Some(expr) => holds(expr, params),
        };
        match applies {
            Ok(true) => {
                // A default has no place in the spec: point at the step.
                let provider = &cx.step().provider;
                let node = Spanned::new(default.clone(), provider.referenced, provider.defined);
                let mut key = cx.key(name);
                key.default = Some(json_text(default));
                match convert(cx, name, key, param, &node, missing) {
                    Ok(b) => {
                        params.insert(name.clone(), b.value);
                    }
                    Err(d) => diags.push(d),
                }
            }
            Ok(false) => {}
            Err(e) => diags.push(cx.provider_bug(&format!("`default_when` of `{name}`: {e}"))),
        }
    }
}

fn type_error(cx: &Ctx, name: &str, param: &Param, node: &Spanned<Json>, got: &str) -> Diag {
    Diag::new(
        Code::SpecParamType,
        format!("`{name}` must be a {}, not {got}", param.kind.describe()),
    )
    .at(
        cx.src(),
        cx.span(node),
        format!("expected a {}", param.kind.describe()),
    )
    .help_opt((!param.description.is_empty()).then(|| param.description.clone()))
}

/// One parameter value being converted.
struct Conv<'a, 'c> {
    cx: &'a Ctx<'c>,
    name: &'a str,
    key: SpecKey,
    param: &'a Param,
    node: &'a Spanned<Json>,
}

impl Conv<'_, '_> {
    /// Interpolates a string of this value; a secret parameter makes the
    /// variables it reads secret.
    fn interp(&self, s: &str, missing: &mut Vec<MissingVar>) -> Value {
        let scope = self
            .cx
            .vars
            .scope(Some(self.cx.step_env), self.param.secret);
        let s = Spanned::new(s.to_string(), self.node.referenced, self.node.defined);
        interpolate_spanned(self.cx.src(), &s, &scope, self.key.clone(), missing)
    }

    fn type_error(&self, got: &str) -> Diag {
        type_error(self.cx, self.name, self.param, self.node, got)
    }

    /// A value that a CLI of the provider would not take as it is (`@FILE`
    /// for az) is refused. A secret parameter's value never goes on a
    /// command line; one marked `cli_value: false` never reaches the CLI.
    fn cli_value(&self, v: Value) -> Result<Value, Diag> {
        let rules = &self.cx.provider.def.cli_values;
        if rules.is_empty() || self.param.secret || !self.param.cli_value {
            return Ok(v);
        }
        let scope = self.cx.vars.scope(Some(self.cx.step_env), false);
        let at = (self.cx.src(), self.cx.span(self.node));
        let mut what = format!("`{}`", self.name);
        if let Some(d) = &self.key.default {
            what.push_str(&format!(" (its default, {d})"));
        } else if let Json::String(raw) = &self.node.value
            && raw.contains('$')
        {
            what.push_str(&format!(" (`{raw}`)"));
        }
        cli_values::check(rules, &what, &v, &scope, at).map(|()| v)
    }

    fn value_error(&self, message: String, label: &str, help: String) -> Diag {
        Diag::new(Code::SpecParamValue, message)
            .at(self.cx.src(), self.cx.span(self.node), label)
            .help(help)
    }
}

/// One given (or default) parameter value, checked and interpolated.
fn convert(
    cx: &Ctx,
    name: &str,
    key: SpecKey,
    param: &Param,
    node: &Spanned<Json>,
    missing: &mut Vec<MissingVar>,
) -> Result<Bound, Diag> {
    let c = Conv {
        cx,
        name,
        key,
        param,
        node,
    };
    if param.kind != ParamKind::Commands {
        let mut strings = Vec::new();
        collect_strings(&node.value, &mut strings);
        if let Some(e) = strings.iter().find_map(|s| interpolate::parse(s).err()) {
            // Nested values have no spans of their own: point at the entry.
            return Err(Diag::new(Code::SpecInterpolation, e.message).at(
                cx.src(),
                cx.span(node),
                "in this value",
            ));
        }
    }
    match (param.kind, &node.value) {
        (ParamKind::String, Json::String(_) | Json::Number(_) | Json::Bool(_)) => {
            convert_string(&c, &json_text(&node.value), missing)
        }
        (ParamKind::Bool, Json::Bool(b)) => Ok(Jinja::from(*b).into()),
        (ParamKind::Bool, Json::String(s)) => {
            let v = c.interp(s, missing);
            match v.as_text().as_deref() {
                Some("true") => Ok(Jinja::from(true).into()),
                Some("false") => Ok(Jinja::from(false).into()),
                Some("") => Ok(Bound {
                    value: Jinja::from(false),
                    empty: true,
                }),
                // Missing (already reported): render as false.
                None if !v.has_secret() => Ok(Jinja::from(false).into()),
                _ => Err(c.type_error(&format!("`{s}`"))),
            }
        }
        (ParamKind::Args, Json::String(s)) => {
            let words = split_words(&c, s, missing)?;
            Ok(Bound {
                empty: words.is_empty(),
                value: Jinja::from(words),
            })
        }
        (ParamKind::Lines, Json::String(s)) => {
            Ok(Jinja::from(vec![split_words(&c, s, missing)?]).into())
        }
        (ParamKind::Lines, Json::Array(items)) => items
            .iter()
            .map(|item| match item {
                Json::String(s) => split_words(&c, s, missing),
                other => Err(c.type_error(&format!("a list holding {}", json_kind(other)))),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(|lines| Jinja::from(lines).into()),
        (ParamKind::Args, Json::Array(items)) => {
            let mut words = Vec::new();
            for item in items {
                match item {
                    Json::String(s) => words.push(mark(&c.cli_value(c.interp(s, missing))?)),
                    Json::Number(_) | Json::Bool(_) => words.push(item.to_string()),
                    other => {
                        return Err(c.type_error(&format!("a list holding {}", json_kind(other))));
                    }
                }
            }
            Ok(Jinja::from(words).into())
        }
        (ParamKind::Var, Json::String(s)) => convert_var(&c, s, missing).map(Bound::from),
        (ParamKind::Commands, Json::String(s)) => Ok(Jinja::from(vec![s.clone()]).into()),
        (ParamKind::Commands, Json::Array(items)) => match items.iter().find(|i| !i.is_string()) {
            None => Ok(Jinja::from(items.iter().map(json_text).collect::<Vec<_>>()).into()),
            // `- true` is a YAML bool: say so, not just "a list".
            Some(other) => Err(c.type_error(&format!("a list holding {}", json_kind(other)))),
        },
        (_, other) => Err(c.type_error(json_kind(other))),
    }
}

/// Words split like sh does, each interpolated and checked as an argument.
fn split_words(c: &Conv, s: &str, missing: &mut Vec<MissingVar>) -> Result<Vec<String>, Diag> {
    let words = shlex::split(s).ok_or_else(|| {
        c.value_error(
            format!("`{}` has unbalanced quotes", c.name),
            "cannot split into words",
            "write the words as a YAML list instead".into(),
        )
    })?;
    words
        .iter()
        .map(|w| c.cli_value(c.interp(w, missing)).map(|v| mark(&v)))
        .collect()
}

fn convert_string(c: &Conv, raw: &str, missing: &mut Vec<MissingVar>) -> Result<Bound, Diag> {
    let (name, param) = (c.name, c.param);
    let v = c.cli_value(c.interp(raw, missing))?;
    if v.is_empty() {
        return Ok(Bound {
            value: Jinja::from(""),
            empty: true,
        });
    }
    if param.secret && !v.is_empty() && v.refs().next().is_none() {
        return Err(Diag::new(
            Code::SpecLiteralSecret,
            format!("`{name}` is a secret and must not be written in the spec"),
        )
        .at(c.cx.src(), c.cx.span(c.node), "literal secret")
        .help(format!(
            "reference an environment variable instead, e.g. `{name}: ${{MY_SECRET_VAR}}`, and set it in the stack's environment"
        )));
    }
    if !param.values.is_empty() && v.has_secret() {
        // The value picks what the template does; a secret's value would
        // pick unseen (`auth: ${MY_TOKEN}` would silently plan the default).
        let label = format!("one of: {}", param.values.join(", "));
        return Err(c.value_error(
            format!("`{name}` picks what runs and cannot read a secret"),
            &label,
            format!("write the value, one of: {}", param.values.join(", ")),
        ));
    }
    if !param.values.is_empty()
        && let Some(text) = v.as_text()
        && !param.values.contains(&text)
    {
        let help = match did_you_mean(&text, param.values.iter().map(String::as_str)) {
            Some(s) => format!("did you mean `{s}`?"),
            None => format!("use one of: {}", param.values.join(", ")),
        };
        let label = format!("one of: {}", param.values.join(", "));
        return Err(c.value_error(format!("`{name}` cannot be `{text}`"), &label, help));
    }
    Ok(Jinja::from(mark(&v)).into())
}

fn convert_var(c: &Conv, s: &str, missing: &mut Vec<MissingVar>) -> Result<Jinja, Diag> {
    let name = c.name;
    if !is_var_name(s) {
        return Err(c.value_error(
            format!("`{name}` must name an environment variable, not `{s}`"),
            "not a variable name",
            format!("write the variable's name without `$`, e.g. `{name}: KUBECONFIG_CONTENT`"),
        ));
    }
    let scope = c.cx.vars.scope(Some(c.cx.step_env), false);
    if scope.get(s).is_none() {
        let span = c.cx.span(c.node);
        missing.push(MissingVar {
            name: s.to_string(),
            location: c.cx.src().position(span.offset()),
            key: c.key.clone(),
            span,
        });
    }
    Ok(Jinja::from(s.to_string()))
}
