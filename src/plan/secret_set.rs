//! The secret names of a run, decided once, before any value is resolved:
//! a name is never shown as text in one place and masked in another.
//!
//! Sources: names secret by themselves (SECRET, TOKEN, ...), the spec's
//! `secrets:`, the variables a `type: var` parameter names, every variable
//! a `secret: true` parameter and its default read, and `env:` entries
//! (of the spec or of any step) whose value reads a secret; what the text
//! of a secret export can be made of (a variable read only by an `{% if %}`
//! condition picks a branch and stays plain). Exports derived from secrets
//! join the set when their step is rendered, before any later step is.

use serde_json::Value as Json;

use crate::base::secrets::SecretNames;
use crate::plan::provider::{Catalog, ParamKind};
use crate::spec::document::{Map, Spec, Step};
use crate::spec::interpolate::{self, Piece};

pub fn decide(spec: &Spec, catalog: &Catalog) -> SecretNames {
    let mut names = SecretNames::default();
    for name in &spec.secrets {
        names.insert(&name.value);
    }
    for step in &spec.steps.value {
        let step = &step.value;
        let Some(provider) = catalog.get(&step.provider.value) else {
            continue;
        };
        let given = |param: &str| {
            step.with
                .iter()
                .flat_map(|w| w.value.iter())
                .find(|(k, _)| k.value == param)
                .map(|(_, v)| &v.value)
        };
        for (pname, param) in &provider.def.params {
            let value = given(pname).or(param.default.as_ref());
            match (param.kind, value) {
                (ParamKind::Var, Some(Json::String(var))) if param.base64 => {
                    names.insert_decoded(var);
                }
                (ParamKind::Var, Some(Json::String(var))) => {
                    names.insert(var);
                }
                // A given value that is empty counts as not set, and the
                // default applies: both may be read.
                (_, Some(_)) if param.secret => {
                    for value in given(pname).into_iter().chain(&param.default) {
                        for var in read_by_json(value) {
                            names.insert(&var);
                        }
                    }
                }
                _ => {}
            }
        }
    }
    let envs: Vec<&Map<String>> = std::iter::once(&spec.env)
        .chain(spec.steps.value.iter().map(|s| &s.value.env))
        .collect();
    // What a secret entry is made of is secret: `AZ_SECRET: ${SP_PW}` read
    // by a secret parameter makes SP_PW secret, or its value would show
    // wherever SP_PW is used. Step entries may read spec entries, so this
    // runs until nothing changes.
    // The same for exports: a secret export (read by a later secret
    // parameter, or secret by name) makes what its template reads secret,
    // or its value would show in the step that exports it.
    let mut grew = true;
    while grew {
        grew = false;
        for env in envs.iter().rev() {
            for (key, value) in env.iter() {
                if names.contains(&key.value) {
                    for var in read_by(&value.value) {
                        grew |= names.insert(&var);
                    }
                }
            }
        }
        for step in &spec.steps.value {
            for var in read_by_secret_exports(&step.value, catalog, &names) {
                grew |= names.insert(&var);
            }
        }
    }
    // An entry built from a secret is secret (spec env first: step
    // entries may read it). Its other parts are not: `Bearer ${TOKEN}
    // ${REGION}` does not hide the region everywhere.
    for env in envs {
        for (key, value) in env {
            if read_by(&value.value).iter().any(|v| names.contains(v)) {
                names.insert(&key.value);
            }
        }
    }
    names
}

/// The variables read by the exports of `step` that are secret: through the
/// parameters their templates use (given or default) and `env.NAME`, where
/// their values may reach the exported text. One read only by the condition
/// of an `{% if %}` picks what is exported, not its text (`login:
/// ${AKS_LOGIN}` picks whether ARM_CLIENT_SECRET is exported): it is not
/// secret for that.
fn read_by_secret_exports(step: &Step, catalog: &Catalog, names: &SecretNames) -> Vec<String> {
    let Some(provider) = catalog.get(&step.provider.value) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let env = minijinja::Environment::new();
    for (export, template) in &provider.def.exports {
        if !names.contains(export) {
            continue;
        }
        // A template the rewriting breaks is taken whole: more secret, not
        // less.
        let blanked = conditions_blanked(&template.value);
        let Ok(t) = env
            .template_from_str(&blanked)
            .or_else(|_| env.template_from_str(&template.value))
        else {
            continue;
        };
        for used in t.undeclared_variables(true) {
            if let Some(var) = used.strip_prefix("env.") {
                out.push(var.to_string());
                continue;
            }
            let param = used.split('.').next().unwrap_or(&used);
            let given = step
                .with
                .iter()
                .flat_map(|w| w.value.iter())
                .find(|(k, _)| k.value == param)
                .map(|(_, v)| &v.value);
            let default = provider
                .def
                .params
                .get(param)
                .and_then(|p| p.default.as_ref());
            for value in given.into_iter().chain(default) {
                out.extend(read_by_json(value));
            }
        }
    }
    out
}

/// `template` with the condition of every `{% if %}` and `{% elif %}` tag
/// replaced by `true`: what it still reads is what may reach its text. Tags
/// are found as minijinja's lexer finds them (strings inside a tag are
/// skipped, comments and `raw` blocks copied); anything else is copied, and
/// so is everything after a tag that does not end.
fn conditions_blanked(template: &str) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(at) = rest.find('{') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        let close = match tail.get(..2) {
            Some("{{") => "}}",
            Some("{%") => "%}",
            Some("{#") => "#}",
            _ => {
                out.push('{');
                rest = &tail[1..];
                continue;
            }
        };
        let Some(end) = tag_end(tail, close) else {
            rest = tail;
            break;
        };
        let (tag, after) = tail.split_at(end);
        rest = after;
        if close != "%}" {
            out.push_str(tag);
            continue;
        }
        // `{%-` and `-%}` (or `+`) control whitespace: kept.
        let inner = &tag[2..tag.len() - 2];
        let lead = if inner.starts_with(['-', '+']) { 1 } else { 0 };
        let trail = if inner.len() > lead && inner.ends_with(['-', '+']) {
            1
        } else {
            0
        };
        let body = inner[lead..inner.len() - trail].trim();
        let word = body.split_whitespace().next().unwrap_or_default();
        match word {
            "if" | "elif" if body.len() > word.len() => {
                let (l, t) = (&inner[..lead], &inner[inner.len() - trail..]);
                out.push_str(&format!("{{%{l} {word} true {t}%}}"));
            }
            "raw" => {
                // Copied to its `endraw`, which is not looked inside.
                let stop = rest
                    .find("endraw")
                    .map_or(rest.len(), |i| i + "endraw".len());
                out.push_str(tag);
                out.push_str(&rest[..stop]);
                rest = &rest[stop..];
            }
            _ => out.push_str(tag),
        }
    }
    out.push_str(rest);
    out
}

/// Where the tag at the start of `text` ends (just past `close`), quoted
/// strings skipped; none when it does not end.
fn tag_end(text: &str, close: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut i = 2;
    while i < bytes.len() {
        match bytes[i] {
            q @ (b'"' | b'\'') => {
                i += 1;
                while i < bytes.len() && bytes[i] != q {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            _ if bytes[i..].starts_with(close.as_bytes()) => return Some(i + close.len()),
            _ => i += 1,
        }
    }
    None
}

/// Every variable an interpolated string may read, defaults included.
fn read_by(text: &str) -> Vec<String> {
    fn walk(pieces: &[Piece], out: &mut Vec<String>) {
        for piece in pieces {
            if let Piece::Var { name, default, .. } = piece {
                out.push(name.clone());
                if let Some(d) = default {
                    walk(&d.pieces, out);
                }
            }
        }
    }
    let mut out = Vec::new();
    if let Ok(pieces) = interpolate::parse(text) {
        walk(&pieces, &mut out);
    }
    out
}

fn read_by_json(value: &Json) -> Vec<String> {
    match value {
        Json::String(s) => read_by(s),
        Json::Array(items) => items.iter().flat_map(read_by_json).collect(),
        // No parameter takes a map (binding refuses one), nor reads
        // variables from a number or a bool.
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn decided(text: &str) -> SecretNames {
        let spec = crate::spec::document::parse(Path::new("s.yaml"), text).unwrap();
        decide(&spec, &Catalog::builtin())
    }

    /// An export read later as a secret makes its parameter's variable
    /// secret, and that variable, an `env:` entry, makes what it reads
    /// secret: two rounds.
    #[test]
    fn secrecy_flows_back_through_exports_and_env_entries() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("fetch.yaml"),
            "summary: s\nparams:\n  source: {}\nexports:\n  FETCHED: \"{{ source }}\"\ncommands: ['true']\n",
        )
        .unwrap();
        let mut catalog = Catalog::builtin();
        catalog.add_dir(dir.path()).unwrap();
        let text = r#"version: 1
env:
  SPEC_X: ${PART}
steps:
  - provider: fetch
    with: {source: "${SPEC_X}"}
  - provider: azure-aks
    with: {cluster: c, resource_group: g, login: spn, client_secret: "${FETCHED}"}
"#;
        let spec = crate::spec::document::parse(Path::new("s.yaml"), text).unwrap();
        let names = decide(&spec, &catalog);
        for name in ["FETCHED", "SPEC_X", "PART"] {
            assert!(names.contains(name), "{name}");
        }
    }

    /// A chain of `env:` entries read by a secret parameter is secret to
    /// its end, however many rounds it takes (each entry reads the one
    /// written after it).
    #[test]
    fn secrecy_flows_back_through_a_chain_of_env_entries() {
        let names = decided(
            r#"version: 1
env:
  LINK_A: ${LINK_B}
  LINK_B: ${ORIGIN}
  COPY: ${LINK_A}
steps:
  - provider: azure-aks
    with: {cluster: c, resource_group: g, login: spn, client_secret: "${COPY}"}
"#,
        );
        for name in ["COPY", "LINK_A", "LINK_B", "ORIGIN"] {
            assert!(names.contains(name), "{name}");
        }
    }

    /// A secret parameter that takes a list reads every item's variables.
    #[test]
    fn a_secret_list_parameter_makes_each_item_secret() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("words.yaml"),
            "summary: s\nparams:\n  words: {type: args, secret: true}\ncommands: ['true']\n",
        )
        .unwrap();
        let mut catalog = Catalog::builtin();
        catalog.add_dir(dir.path()).unwrap();
        let text = "version: 1\nsteps:\n  - provider: words\n    with: {words: [\"${FIRST}\", \"x-${SECOND}\"]}\n";
        let spec = crate::spec::document::parse(Path::new("s.yaml"), text).unwrap();
        let names = decide(&spec, &catalog);
        for name in ["FIRST", "SECOND"] {
            assert!(names.contains(name), "{name}");
        }
    }

    /// Issue 21: `login: ${AKS_LOGIN}` was refused ("picks what runs and
    /// cannot read a secret"): the ARM_CLIENT_SECRET export's template
    /// reads `login`, but only to choose whether to export. A variable read
    /// only by a condition is not secret; one whose value reaches the
    /// exported text is, however the template is written.
    #[test]
    fn a_variable_that_only_picks_a_branch_of_a_secret_export_is_not_secret() {
        let names = decided(
            r#"version: 1
steps:
  - provider: azure-aks
    with: {cluster: c, resource_group: g, login: "${AKS_LOGIN}", client_secret: "${SP_PW}"}
"#,
        );
        assert!(!names.contains("AKS_LOGIN"));
        assert!(names.contains("SP_PW"));

        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("pick.yaml"),
            r#"summary: s
params:
  pick: {values: [a, b, c]}
  shown: {}
  value: {}
  other: {}
exports:
  PICKED_SECRET: >-
    {%- if pick == 'a' and other == '%}' -%}{{ value }}
    {%+ elif pick == "b" %}{{ shown ~ '{% if' }}{# {% if other %} #}
    {% else %}{% raw %}{% if other %}{% endraw %}{% endif %}
commands: ['true']
"#,
        )
        .unwrap();
        let mut catalog = Catalog::builtin();
        catalog.add_dir(dir.path()).unwrap();
        let text = r#"version: 1
steps:
  - provider: pick
    with: {pick: "${PICK}", shown: "${SHOWN}", value: "${VALUE}", other: "${OTHER}"}
"#;
        let spec = crate::spec::document::parse(Path::new("s.yaml"), text).unwrap();
        let names = decide(&spec, &catalog);
        for name in ["VALUE", "SHOWN"] {
            assert!(names.contains(name), "{name}");
        }
        for name in ["PICK", "OTHER"] {
            assert!(!names.contains(name), "{name}");
        }
    }

    #[test]
    fn conditions_are_blanked_and_nothing_else() {
        for (template, want) in [
            (
                "{% if a %}{{ b }}{% endif %}",
                "{% if true %}{{ b }}{% endif %}",
            ),
            ("{%- elif a == '%}' -%}", "{%- elif true -%}"),
            ("{{ a if b else c }}", "{{ a if b else c }}"),
            ("{# {% if a %} #}", "{# {% if a %} #}"),
            ("{% set x = a %}{% if x %}", "{% set x = a %}{% if true %}"),
            (
                "{% raw %}{% if a %}{% endraw %}",
                "{% raw %}{% if a %}{% endraw %}",
            ),
            ("{% iffy %}{% if(a) %}", "{% iffy %}{% if(a) %}"),
            ("{ {% if a", "{ {% if a"),
            ("é{%}{% ifé %}", "é{%}{% ifé %}"),
        ] {
            assert_eq!(conditions_blanked(template), want, "{template}");
        }
    }

    #[test]
    fn every_source_makes_a_name_secret() {
        let names = decided(
            r#"version: 1
secrets: [LISTED]
env:
  HEADER: "Bearer ${SP_PW} ${REGION}"
  PLAIN: ${REGION}
  AZ_SECRET: ${AZ_PARTS}
  DB_PASSWORD: "${DB_USER}:${DB_PW}"
steps:
  - provider: kubeconfig
    with: {from: env, var: KC_CONTENT}
  - provider: azure-aks
    with: {cluster: c, resource_group: g, login: spn, client_secret: "${SP_PW:-${FALLBACK}}"}
  - provider: azure-aks
    name: second
    with: {cluster: c, resource_group: g, login: spn, client_secret: "${AZ_SECRET}"}
    env:
      STEP_COPY: ${HEADER}
      STEP_PLAIN: x
  - provider: gke
    with: {cluster: c, project: p, zone: z}
"#,
        );
        for name in [
            "LISTED",
            "KC_CONTENT",
            "SP_PW",
            "FALLBACK",
            "HEADER",
            "STEP_COPY",
            "GOOGLE_OAUTH_ACCESS_TOKEN",
            "ARM_CLIENT_SECRET",
            "AZ_SECRET",
            "AZ_PARTS",
            "DB_USER",
            "DB_PW",
        ] {
            assert!(names.contains(name), "{name}");
        }
        for name in ["PLAIN", "REGION", "STEP_PLAIN", "ARM_CLIENT_ID"] {
            assert!(!names.contains(name), "{name}");
        }
    }
}
