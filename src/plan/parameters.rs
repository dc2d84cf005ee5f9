//! A step's bound parameters as a policy reads them (`parameters` in the
//! plan JSON): every parameter that has a value, given or defaulted, by
//! name, in the provider's order. Strings are shown in the spec's own
//! syntax, so a secret stays the reference `${NAME}` it is everywhere
//! else in a plan, and so does a variable that is not set.

use indexmap::IndexMap;
use minijinja::value::{Value as Jinja, ValueKind};
use serde_json::Value as Json;

use crate::plan::bind::Params;
use crate::plan::markers::unmark;

/// The parameters that have a value; a parameter that is not set is left
/// out rather than shown as null, as it is in the spec.
pub fn shown(params: &Params) -> IndexMap<String, Json> {
    params
        .iter()
        .filter(|(_, v)| !v.is_undefined() && !v.is_none())
        .map(|(name, v)| (name.clone(), json(v)))
        .collect()
}

/// A bound value as JSON, its markers turned back into references.
fn json(value: &Jinja) -> Json {
    match value.kind() {
        ValueKind::Bool => Json::Bool(value.is_true()),
        ValueKind::Number => i64::try_from(value.clone())
            .map(Json::from)
            .or_else(|_| f64::try_from(value.clone()).map(Json::from))
            .unwrap_or(Json::Null),
        ValueKind::String => Json::String(unmark(value.as_str().unwrap_or_default()).to_string()),
        ValueKind::Seq | ValueKind::Iterable => Json::Array(
            value
                .try_iter()
                .into_iter()
                .flatten()
                .map(|v| json(&v))
                .collect(),
        ),
        ValueKind::Map => Json::Object(
            value
                .try_iter()
                .into_iter()
                .flatten()
                .map(|k| {
                    let v = value.get_item(&k).unwrap_or_default();
                    (unmark(&k.to_string()).to_string(), json(&v))
                })
                .collect(),
        ),
        _ => Json::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::value::{RefKind, Value};
    use crate::plan::markers::mark;

    #[test]
    fn secrets_stay_references_and_unset_parameters_are_left_out() {
        let mut secret = Value::text("a-");
        secret.extend(Value::reference("CLIENT_SECRET", RefKind::Secret));
        let mut params = Params::new();
        params.insert("cluster".into(), Jinja::from("prod"));
        params.insert("secret".into(), Jinja::from(mark(&secret)));
        params.insert("admin".into(), Jinja::from(true));
        params.insert("zone".into(), Jinja::from(()));
        params.insert("list".into(), Jinja::from(vec![mark(&secret)]));
        params.insert("n".into(), Jinja::from(3));
        let shown = shown(&params);
        assert_eq!(
            serde_json::to_string(&shown).unwrap(),
            r#"{"cluster":"prod","secret":"a-${CLIENT_SECRET}","admin":true,"list":["a-${CLIENT_SECRET}"],"n":3}"#
        );
    }

    #[test]
    fn a_literal_dollar_is_shown_as_the_spec_writes_it() {
        let mut params = Params::new();
        params.insert("x".into(), Jinja::from("$HOME"));
        assert_eq!(shown(&params)["x"], "$$HOME");
    }
}
