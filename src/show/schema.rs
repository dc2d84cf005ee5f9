//! The spec's JSON Schema (draft 2020-12), for editors (yaml-language-server)
//! and CI. The shape comes from the same types that parse a spec; each
//! provider's `with:` comes from its definition.

use serde_json::{Map, Value as Json, json};

use crate::plan::assemble::Plan;
use crate::plan::provider::{Catalog, Definition, Param, ParamKind, Provider};
use crate::show::provider_page::facts;
use crate::spec::document::Spec;

/// The plan JSON's schema, from the types `plan --format json` prints: as
/// serialised, so a field left out when empty is not required.
pub fn plan() -> Json {
    schemars::generate::SchemaSettings::draft2020_12()
        .for_serialize()
        .into_generator()
        .into_root_schema_for::<Plan>()
        .to_value()
}

pub fn schema(catalog: &Catalog) -> Json {
    let mut root = schemars::schema_for!(Spec).to_value();
    let step = &mut root["$defs"]["Step"];
    let names: Vec<&str> = catalog.names().collect();
    step["properties"]["provider"] = json!({
        "description": step["properties"]["provider"]["description"],
        "anyOf": [
            {"enum": names},
            {"type": "string", "description": "a provider from the spec's `templates:` directory"}
        ]
    });
    let shapes: Vec<Json> = catalog.all().map(shape_rule).collect();
    step["allOf"] = Json::Array(shapes);
    // A spec that extends a base may leave out what the base gives: its
    // steps, a step's provider and required parameters. One that does not
    // is complete on its own.
    let complete: Vec<Json> = catalog.all().map(completeness_rule).collect();
    root["if"] = json!({"not": {"required": ["extends"]}});
    root["then"] = json!({
        "required": ["steps"],
        "properties": {"steps": {"items": {"required": ["provider"], "allOf": complete}}}
    });
    root
}

/// `if provider == NAME then with: <its parameters>`.
fn shape_rule(p: &Provider) -> Json {
    let def = &p.def;
    let mut properties = Map::new();
    for (name, param) in &def.params {
        properties.insert(name.clone(), param_schema(def, name, param));
    }
    let with = json!({
        "type": "object",
        "description": def.summary,
        "properties": properties,
        "additionalProperties": false,
    });
    json!({
        "if": {"properties": {"provider": {"const": p.name}}, "required": ["provider"]},
        "then": {"properties": {"with": with}},
    })
}

/// `if provider == NAME then with:` holds its required parameters.
fn completeness_rule(p: &Provider) -> Json {
    let def = &p.def;
    let required: Vec<&String> = def
        .params
        .iter()
        .filter(|(_, p)| p.required)
        .map(|(n, _)| n)
        .collect();
    let mut with = json!({});
    if !required.is_empty() {
        with["required"] = json!(required);
    }
    let one_of: Vec<Json> = def.exactly_one_of.iter().flat_map(|g| one_of(g)).collect();
    if !one_of.is_empty() {
        with["allOf"] = Json::Array(one_of);
    }
    let mut then = json!({"properties": {"with": with}});
    if !required.is_empty() || !def.exactly_one_of.is_empty() {
        then["required"] = json!(["with"]);
    }
    json!({
        "if": {"properties": {"provider": {"const": p.name}}, "required": ["provider"]},
        "then": then,
    })
}

/// Exactly one of `group`: at least one key, and no two with values that
/// are set for sure. A value that reads a variable, or is empty, may count
/// as not set (an empty value does), so `region: ${R:-}` beside `zone:
/// ${Z:-}` is not refused here; stackhook checks it with the values.
fn one_of(group: &[String]) -> Vec<Json> {
    let set = json!({"not": {"anyOf": [interpolated(), {"const": ""}]}});
    let mut rules =
        vec![json!({"anyOf": group.iter().map(|p| json!({"required": [p]})).collect::<Vec<_>>()})];
    for (i, a) in group.iter().enumerate() {
        for b in &group[i + 1..] {
            rules.push(json!({"not": {
                "required": [a, b],
                "properties": {a: set.clone(), b: set.clone()},
            }}));
        }
    }
    rules
}

/// A value that interpolates a variable, allowed wherever the type would
/// otherwise be checked strictly.
fn interpolated() -> Json {
    json!({"type": "string", "pattern": "\\$"})
}

fn param_schema(def: &Definition, name: &str, p: &Param) -> Json {
    let mut s = match p.kind {
        ParamKind::String if !p.values.is_empty() => {
            json!({"anyOf": [{"enum": p.values}, interpolated()]})
        }
        ParamKind::String => json!({"type": ["string", "number", "boolean"]}),
        ParamKind::Bool => json!({"anyOf": [{"type": "boolean"}, interpolated()]}),
        ParamKind::Args | ParamKind::Lines | ParamKind::Commands => {
            json!({"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]})
        }
        ParamKind::Var => json!({"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$"}),
    };
    let f = facts(def, name, p);
    let mut description = f.description.to_string();
    if let Some(w) = f.when {
        description = format!("{description} Only when {w}.").trim().to_string();
    }
    if !description.is_empty() {
        s["description"] = json!(description);
    }
    if let Some(d) = &p.default {
        s["default"] = d.clone();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn providers_get_their_parameters() {
        let s = schema(&Catalog::builtin());
        assert_eq!(s["$schema"], "https://json-schema.org/draft/2020-12/schema");
        let rules = s["$defs"]["Step"]["allOf"].as_array().unwrap();
        let gke = rules
            .iter()
            .find(|r| r["if"]["properties"]["provider"]["const"] == "gke")
            .unwrap();
        let with = &gke["then"]["properties"]["with"];
        assert_eq!(with["additionalProperties"], false);
        // Required parameters only when the spec extends no base, which
        // may give them.
        assert_eq!(s["if"], json!({"not": {"required": ["extends"]}}));
        let complete = s["then"]["properties"]["steps"]["items"]["allOf"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["if"]["properties"]["provider"]["const"] == "gke")
            .unwrap();
        assert_eq!(
            complete["then"]["properties"]["with"]["required"],
            json!(["project"])
        );
        assert_eq!(
            with["properties"]["token"]["default"],
            "${GOOGLE_OAUTH_ACCESS_TOKEN}"
        );
        // cluster or membership, and region, zone or location: one at
        // least of each group, and no two literal ones (a rule per pair).
        let groups = &complete["then"]["properties"]["with"]["allOf"];
        assert_eq!(groups.as_array().unwrap().len(), 2 + 1 + 3);
    }
}
