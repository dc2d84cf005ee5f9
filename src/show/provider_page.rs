//! Documenting providers: the list, one provider's page (`stackhook
//! providers NAME`), and the facts about a parameter that the page, `init`
//! and the schema all show.

use std::fmt::Write;
use std::path::Path;

use crate::base::diagnostic::Diag;
use crate::plan::assemble::{self, Mode};
use crate::plan::provider::{Catalog, Definition, Origin, Param, ParamKind, Provider, json_text};
use crate::plan::resolve::ProcessEnv;
use crate::spec::document;

/// What there is to say about one parameter.
pub struct ParamFacts<'a> {
    pub kind: &'static str,
    pub required: bool,
    /// `default X`, or `default X when COND`.
    pub default: Option<String>,
    /// `one of: a, b`.
    pub values: Option<String>,
    /// The condition under which the parameter may be given.
    pub when: Option<&'a str>,
    pub secret: bool,
    pub bool: bool,
    /// `exactly one of: a, b`, for a member of such a group.
    pub exactly_one_of: Option<String>,
    pub description: &'a str,
}

pub fn facts<'a>(def: &'a Definition, name: &str, param: &'a Param) -> ParamFacts<'a> {
    let default = param.default.as_ref().map(|d| {
        let d = json_text(d);
        match &param.default_when {
            Some(w) => format!("default {d} when {w}"),
            None => format!("default {d}"),
        }
    });
    ParamFacts {
        kind: param.kind.describe(),
        required: param.required,
        default,
        values: (!param.values.is_empty()).then(|| format!("one of: {}", param.values.join(", "))),
        when: param.when.as_deref(),
        secret: param.secret || param.kind == ParamKind::Var,
        bool: param.kind == ParamKind::Bool,
        exactly_one_of: def
            .exactly_one_of
            .iter()
            .find(|g| g.iter().any(|p| p == name))
            .map(|g| format!("exactly one of: {}", g.join(", "))),
        description: param.description.trim_end(),
    }
}

/// A YAML scalar for a JSON value: plain words bare, anything else as JSON
/// (which YAML reads as a flow scalar).
pub fn yaml_value(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s)
            if !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
                && !matches!(s.as_str(), "true" | "false" | "null" | "yes" | "no") =>
        {
            s.clone()
        }
        other => other.to_string(),
    }
}

/// One line per provider: name, summary, and where it comes from unless
/// it is built in.
pub fn list(catalog: &Catalog, indent: &str) -> String {
    let width = catalog.names().map(str::len).max().unwrap_or(0);
    let mut out = String::new();
    for p in catalog.all() {
        let origin = match &p.origin {
            Origin::BuiltIn => String::new(),
            other => format!(" ({other})"),
        };
        let _ = writeln!(out, "{indent}{:width$}  {}{origin}", p.name, p.def.summary);
    }
    out
}

/// `stackhook providers NAME`: parameters, what it reads, needs and
/// exports, and what its example renders to.
pub fn page(p: &Provider, provider_dir: Option<&Path>) -> Result<String, Vec<Diag>> {
    let def = &p.def;
    let mut out = String::new();
    let _ = writeln!(out, "{} - {}", p.name, def.summary);
    if p.origin != Origin::BuiltIn {
        let _ = writeln!(out, "from {}", p.origin);
    }
    if !def.description.is_empty() {
        let _ = writeln!(out, "\n{}", def.description.trim_end());
    }
    parameters(&mut out, def);
    if !def.reads.is_empty() {
        let _ = writeln!(
            out,
            "\nReads from the environment: {}",
            def.reads.join(", ")
        );
    }
    if !def.requires.is_empty() {
        let needs: Vec<String> = def.requires.iter().map(|r| describe_template(r)).collect();
        let _ = writeln!(out, "\nNeeds on PATH: {}", needs.join(", "));
    }
    if let Some(h) = &def.hint {
        let _ = writeln!(out, "  {}", h.trim_end());
    }
    if !def.env.is_empty() {
        let names: Vec<&str> = def.env.keys().map(String::as_str).collect();
        let _ = writeln!(
            out,
            "\nSets in its commands' environment (how secrets reach them, never in an argv): {}",
            names.join(", ")
        );
    }
    for rule in &def.cli_values {
        let _ = writeln!(
            out,
            "\nRefuses parameter values that start with {}: {}.",
            rule.prefixes
                .iter()
                .map(|p| format!("`{p}`"))
                .collect::<Vec<_>>()
                .join(", "),
            rule.why.trim_end_matches('.')
        );
    }
    if !def.exports.is_empty() {
        let names: Vec<&str> = def.exports.keys().map(String::as_str).collect();
        let _ = writeln!(
            out,
            "\nExports to later steps and the caller: {}",
            names.join(", ")
        );
    }
    if !def.example.is_empty() {
        example(&mut out, p, provider_dir)?;
    }
    Ok(out)
}

fn parameters(out: &mut String, def: &Definition) {
    let _ = writeln!(out, "\nParameters (under `with:`):");
    if def.params.is_empty() {
        let _ = writeln!(out, "  (none)");
    }
    for (name, param) in &def.params {
        let f = facts(def, name, param);
        let mut shown = vec![f.kind.to_string()];
        if f.required {
            shown.push("required".into());
        }
        shown.extend(f.default);
        shown.extend(f.values);
        shown.extend(f.when.map(|w| format!("only when {w}")));
        if f.secret {
            shown.push("secret".into());
        }
        let _ = writeln!(out, "  {name} ({})", shown.join("; "));
        if !f.description.is_empty() {
            let _ = writeln!(out, "      {}", f.description);
        }
    }
    for group in &def.exactly_one_of {
        let _ = writeln!(
            out,
            "  Exactly one of: {} (a value that interpolates to nothing counts as not set)",
            group.join(", ")
        );
    }
}

/// The example `with:` and the commands it renders to, with no environment.
fn example(out: &mut String, p: &Provider, provider_dir: Option<&Path>) -> Result<(), Vec<Diag>> {
    let def = &p.def;
    let _ = writeln!(
        out,
        "\nExample:\n  steps:\n    - provider: {}\n      with:",
        p.name
    );
    for (k, v) in &def.example {
        let _ = writeln!(out, "        {k}: {}", yaml_value(v));
    }
    let with = serde_json::to_string(&def.example).expect("json");
    let text = format!(
        "version: 1\nsteps:\n  - provider: {}\n    with: {with}\n",
        p.name
    );
    let spec = document::parse(Path::new("example.yaml"), &text)?;
    let opts = assemble::Options {
        kubeconfig: None,
        provider_dir,
        mode: Mode::Static,
    };
    let plan = assemble::build(&spec, &ProcessEnv::new(), &opts)?;
    let _ = writeln!(out, "\nRenders to:");
    for step in &plan.steps {
        for (k, v) in &step.env {
            let _ = writeln!(out, "  env: {k}={}", v.display());
        }
        for c in &step.commands {
            let mut lines = c.lines();
            let _ = writeln!(out, "  $ {}", lines.next().unwrap_or_default());
            for l in lines {
                let _ = writeln!(out, "    {l}");
            }
        }
    }
    Ok(())
}

/// `{% if cond %}name{% endif %}` as `name (when cond)`, for docs.
fn describe_template(t: &str) -> String {
    if !t.contains("{%") && !t.contains("{{") {
        return t.to_string();
    }
    let mut text = String::new();
    let mut conditions = Vec::new();
    let mut rest = t;
    while let Some(i) = rest.find("{%") {
        text.push_str(&rest[..i]);
        let Some(j) = rest[i..].find("%}") else { break };
        let tag = rest[i + 2..i + j].trim().trim_matches('-').trim();
        if let Some(cond) = tag.strip_prefix("if ") {
            conditions.push(cond.trim().to_string());
        }
        rest = &rest[i + j + 2..];
    }
    text.push_str(rest);
    if let Some((_, expr)) = text.split_once("{{") {
        let name = expr.split("}}").next().unwrap_or("").trim();
        return format!("the CLIs named in `{name}`");
    }
    match conditions.as_slice() {
        [] => text.trim().to_string(),
        c => format!("{} (when {})", text.trim(), c.join(" and ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_are_described_in_words() {
        assert_eq!(describe_template("gcloud"), "gcloud");
        assert_eq!(
            describe_template("{% if token_credentials %}kubectl{% endif %}"),
            "kubectl (when token_credentials)"
        );
        assert_eq!(
            describe_template("{% if requires %}{{ requires }}{% endif %}"),
            "the CLIs named in `requires`"
        );
    }
}
