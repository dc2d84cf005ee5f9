//! `stackhook init`: a commented starter spec for one provider.

/// The schema `init` points at by default, relative to the spec: `init`
/// writes it beside the spec, since a user's repository has none (and a
/// published URL would not match the stackhook that runs).
pub const SCHEMA_FILE: &str = "stackhook.schema.json";

use std::fmt::Write;

use crate::plan::provider::{ParamKind, Provider};
use crate::show::provider_page::{facts, yaml_value};

/// The spec text. Parameters of the provider's example are set; other
/// required ones read a variable; the rest are shown commented out.
pub fn starter(p: &Provider, schema: &str) -> String {
    let def = &p.def;
    let mut out = String::new();
    let _ = writeln!(out, "# yaml-language-server: $schema={schema}");
    let _ = writeln!(out, "# stackhook spec: {}", def.summary);
    let _ = writeln!(out, "#");
    let _ = writeln!(out, "# Preview:   stackhook plan THIS_FILE");
    let _ = writeln!(out, "# Hook line: stackhook run THIS_FILE");
    let _ = writeln!(
        out,
        "# Editors:   the schema above gives completion and checks; `stackhook schema` prints it"
    );
    let _ = writeln!(
        out,
        "#            (write it there again after upgrading stackhook)."
    );
    let _ = writeln!(out, "# Reference: `stackhook providers {}`", p.name);
    let _ = writeln!(out, "version: 1");
    let _ = writeln!(out, "steps:");
    let _ = writeln!(out, "  - provider: {}", p.name);
    if !def.params.is_empty() {
        let _ = writeln!(out, "    with:");
    }
    // Of each exactly-one-of group, the first member set in the example
    // is kept; the others are shown commented out.
    let chosen: Vec<&str> = def
        .exactly_one_of
        .iter()
        .filter_map(|g| {
            g.iter()
                .find(|n| def.example.contains_key(*n))
                .or(g.first())
                .map(String::as_str)
        })
        .collect();
    for (name, param) in &def.params {
        let f = facts(def, name, param);
        let mut notes = Vec::new();
        if f.required {
            notes.push("required".to_string());
        }
        notes.extend(f.when.map(|w| format!("only when {w}")));
        notes.extend(f.values);
        if f.bool {
            notes.push("true or false".into());
        }
        let in_group = f.exactly_one_of.is_some();
        notes.extend(f.exactly_one_of);
        let note = if notes.is_empty() {
            String::new()
        } else {
            format!(" ({})", notes.join("; "))
        };
        let _ = writeln!(out, "      # {}{note}", f.description.trim_end_matches('.'));
        let active = if in_group {
            chosen.contains(&name.as_str())
        } else {
            param.required || def.example.contains_key(name)
        };
        let value = match (def.example.get(name), &param.default) {
            (Some(v), _) => yaml_value(v),
            (None, Some(d)) => yaml_value(d),
            (None, None) if param.kind == ParamKind::Var => "MY_VARIABLE".into(),
            (None, None) if !param.values.is_empty() => param.values[0].clone(),
            (None, None) => format!("${{{}}}", name.to_uppercase()),
        };
        if active {
            let _ = writeln!(out, "      {name}: {value}");
        } else {
            let _ = writeln!(out, "      # {name}: {value}");
        }
    }
    if p.name != "verify" {
        let _ = writeln!(
            out,
            "  # Fail fast when the kubeconfig cannot reach the cluster."
        );
        let _ = writeln!(out, "  - provider: verify");
    }
    out
}
