//! Which parameters a step sets. A value that interpolates to nothing
//! counts as not set (`region: "${R:-}"` in a spec shared by regional and
//! zonal clusters), and the plan notes it; required and exactly-one-of
//! parameters are checked against what is set.

use indexmap::IndexMap;
use miette::SourceSpan;
use minijinja::Value as Jinja;
use serde_json::Value as Json;
use serde_saphyr::Spanned;

use crate::base::diagnostic::{Code, Diag, did_you_mean};
use crate::plan::step_context::{Ctx, with_anchor};
use crate::spec::interpolate;
use crate::spec::yaml::collect_strings;

/// The first variable a value reads (`${R:-}` reads R; `""` none).
pub fn first_variable(value: &Spanned<Json>) -> Option<String> {
    let mut strings = Vec::new();
    collect_strings(&value.value, &mut strings);
    strings.iter().find_map(|s| {
        interpolate::parse(s)
            .ok()?
            .into_iter()
            .find_map(|piece| match piece {
                interpolate::Piece::Var { name, .. } => Some(name),
                _ => None,
            })
    })
}

/// What the plan notes about a parameter that counts as not set.
pub fn empty_note(name: &str, raw: &Json) -> String {
    match raw {
        Json::String(s) if s.contains('$') => {
            format!("`{name}` (`{s}`) is empty, so it counts as not set")
        }
        _ => format!("`{name}` is empty, so it counts as not set"),
    }
}

/// Each required parameter that is not set (nor already reported, nor
/// unknown for want of an environment) is missing.
pub fn check_required(
    cx: &Ctx,
    given: &IndexMap<String, (Jinja, SourceSpan)>,
    reported: &[String],
    diags: &mut Vec<Diag>,
) {
    for (name, param) in &cx.provider.def.params {
        if param.required && !given.contains_key(name) && !reported.contains(name) {
            let mut help = format!("add `{name}:` under `with:`");
            if !param.description.is_empty() {
                help = format!("{help} ({})", param.description.trim_end_matches('.'));
            }
            diags.push(
                Diag::new(
                    Code::SpecMissingParam,
                    format!("`{}` needs the parameter `{name}`", cx.provider.name),
                )
                .at(cx.src(), with_anchor(cx), format!("`{name}` missing"))
                .help(help),
            );
        }
    }
}

/// Each exactly-one-of group with none or several set; a group with an
/// unknown member and none set may be fine in a run.
pub fn check_exactly_one(
    cx: &Ctx,
    given: &IndexMap<String, (Jinja, SourceSpan)>,
    reported: &[String],
    unknown: &[String],
    diags: &mut Vec<Diag>,
) {
    for group in &cx.provider.def.exactly_one_of {
        if group.iter().any(|p| reported.contains(p)) {
            continue;
        }
        let set: Vec<&String> = group.iter().filter(|p| given.contains_key(*p)).collect();
        if set.is_empty() && group.iter().any(|p| unknown.contains(p)) {
            continue;
        }
        let list = group
            .iter()
            .map(|p| format!("`{p}`"))
            .collect::<Vec<_>>()
            .join(" or ");
        match set.as_slice() {
            [_] => {}
            [] => diags.push(
                Diag::new(
                    Code::SpecOneOf,
                    format!("`{}` needs {list}", cx.provider.name),
                )
                .at(cx.src(), with_anchor(cx), "none given")
                .help(format!("set exactly one of {list}")),
            ),
            [first, rest @ ..] => {
                let mut d = Diag::new(
                    Code::SpecOneOf,
                    format!("{list}: set only one, not {}", set.len()),
                )
                .at(cx.src(), given[first.as_str()].1, format!("`{first}` set"));
                for other in rest {
                    d = d.and(given[other.as_str()].1, format!("and `{other}` set"));
                }
                diags.push(d.help(format!(
                    "a step takes exactly one of {list}: remove the others"
                )));
            }
        }
    }
}

/// A `with:` key the provider does not have: removed, or a typo.
pub fn unknown_param(cx: &Ctx, key: &Spanned<String>, reported: &mut Vec<String>) -> Diag {
    let def = &cx.provider.def;
    if let Some(instead) = def.removed.get(&key.value) {
        return Diag::new(
            Code::SpecRemovedParam,
            format!("`{}` no longer has `{}`", cx.provider.name, key.value),
        )
        .at(cx.src(), cx.span(key), "removed")
        .help(instead.trim().to_string());
    }
    let names = def.params.keys().map(String::as_str);
    let help = match did_you_mean(&key.value, names) {
        Some(s) => {
            reported.push(s.to_string());
            format!("did you mean `{s}`?")
        }
        None if def.params.is_empty() => format!("`{}` takes no parameters", cx.provider.name),
        None => format!(
            "`{}` takes: {}",
            cx.provider.name,
            def.params.keys().cloned().collect::<Vec<_>>().join(", ")
        ),
    };
    Diag::new(
        Code::SpecUnknownParam,
        format!("`{}` has no parameter `{}`", cx.provider.name, key.value),
    )
    .at(cx.src(), cx.span(key), "unknown parameter")
    .help(help)
}
