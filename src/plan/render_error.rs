//! Why a step's templates did not render, as a diagnostic that points at
//! what to change: the step's `with:` (a `fail()` of the provider, or a
//! parameter holding a secret that a command would write), the spec's
//! command template, or the provider's file.

use miette::SourceSpan;
use minijinja::ErrorKind;

use crate::base::diagnostic::{Code, Diag, Source};
use crate::base::secrets::is_secret_name;
use crate::plan::jinja::{FAIL, FUEL, SECRET_IN_COMMAND};
use crate::plan::provider::Origin;
use crate::plan::step_context::{Ctx, with_anchor};
use crate::spec::interpolate::{self, Piece};
use crate::spec::yaml::collect_strings;

/// A template of step `cx` (`what`, e.g. "command 2") failed; `node` is
/// where the template is written, when that is known.
pub fn template_error(
    cx: &Ctx,
    what: &str,
    node: Option<(&Source, SourceSpan)>,
    e: &minijinja::Error,
) -> Diag {
    let mut detail = e
        .detail()
        .map_or_else(|| e.kind().to_string(), str::to_string);
    if let Some(msg) = detail.strip_prefix(FAIL) {
        let step = cx.step();
        return Diag::new(
            Code::SpecParamValue,
            format!("step `{}`: {msg}", step.name()),
        )
        .at(cx.src(), with_anchor(cx), "these parameters")
        .help(format!(
            "change the step's `with:` (`stackhook providers {}` documents it)",
            cx.provider.name
        ));
    }
    if let Some(name) = detail.strip_prefix(SECRET_IN_COMMAND) {
        return secret_in_command(cx, what, node, name);
    }
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
    let origin = origin(cx, node);
    d.help(match e.kind() {
        ErrorKind::OutOfFuel => format!(
            "the template runs more than {FUEL} instructions: a loop too long or nested too deep? check {origin}"
        ),
        ErrorKind::UndefinedError => format!(
            "the template uses a name that is not a parameter of `{}`, `env`, `kubeconfig` or `step`; check {origin}",
            cx.provider.name
        ),
        _ => format!(
            "check the template in {origin}; docs/providers.md describes what templates can use"
        ),
    })
}

/// Whether the template is written in the spec (a `run` command).
fn in_spec(cx: &Ctx, node: Option<(&Source, SourceSpan)>) -> bool {
    node.is_some_and(|(s, _)| std::ptr::eq(s, cx.src()))
}

fn origin(cx: &Ctx, node: Option<(&Source, SourceSpan)>) -> String {
    if in_spec(cx, node) {
        "the spec".to_string()
    } else {
        cx.provider.origin.to_string()
    }
}

/// A command would hold secret `name`: every process on the machine can
/// read a command line (`/proc/PID/cmdline`). Points at the spec where
/// the secret comes in: the parameter that reads it, else the `secrets:`
/// entry that made it one, else the template.
fn secret_in_command(
    cx: &Ctx,
    what: &str,
    node: Option<(&Source, SourceSpan)>,
    name: &str,
) -> Diag {
    let step = cx.step();
    let d = Diag::new(
        Code::TemplateSecret,
        format!(
            "step `{}`: {what} of provider `{}` would write the secret {name} on a command line",
            step.name(),
            cx.provider.name
        ),
    );
    let reading = reading_param(cx, name);
    let listed = cx.spec.secrets.iter().find(|s| s.value == name);
    let d = match (&reading, listed, node) {
        (Some((param, span)), _, _) => d.at(
            cx.src(),
            *span,
            format!("`{param}` reads {name}, a secret, and goes on a command line"),
        ),
        (None, _, Some((source, span))) if in_spec(cx, node) => {
            d.at(source, span, format!("writes {name} into the command"))
        }
        (None, Some(entry), _) => d.at(cx.src(), cx.span(entry), "made a secret here"),
        (None, None, Some((source, span))) => {
            d.at(source, span, format!("writes {name} into a command"))
        }
        (None, None, None) => d,
    };
    let how = "a command line is readable by every process on the machine";
    // Why the variable is a secret, and how to say it is not.
    let why = if listed.is_some() {
        format!("; if {name} is not a secret, remove it from `secrets:`")
    } else if is_secret_name(name) {
        format!(" ({name} is a secret because of its name)")
    } else {
        String::new()
    };
    d.help(match (&cx.provider.origin, &reading) {
        _ if in_spec(cx, node) => format!(
            "{how}, so `{{{{ }}}}` never writes a secret into one: let the command read it from a file \
             (`{{{{ tempfile(\"name\", env.{name}) }}}}`), on stdin (`< {{{{ tempfile(\"name\", env.{name}) }}}}`) \
             or from its environment, where {name} already is. (Writing \"${name}\" as shell text \
             yourself would put its value in the argv: your choice, not stackhook's.)"
        ),
        (Origin::BuiltIn, Some((param, _))) => format!(
            "{how}: give `{param}` a value that is not secret{why} (`stackhook providers {}` \
             says which parameters take a secret)",
            cx.provider.name
        ),
        (Origin::BuiltIn, None) => format!(
            "{how}: a parameter of `{}` that is written into a command reads {name}{why}",
            cx.provider.name
        ),
        (Origin::File(path), _) => format!(
            "{how}: hand the secret to the command in the provider's `env:` section, a \
             tempfile() or stdin, never in `{{{{ }}}}` of a command (fix {}; docs/providers.md, \
             \"Secrets\")",
            path.display()
        ),
    })
}

/// The `with:` parameter of the step that reads variable `name`, and
/// where its value is.
fn reading_param(cx: &Ctx, name: &str) -> Option<(String, SourceSpan)> {
    let with = cx.step().with.as_ref()?;
    with.value.iter().find_map(|(key, value)| {
        let mut strings = Vec::new();
        collect_strings(&value.value, &mut strings);
        strings
            .iter()
            .any(|s| reads(s, name))
            .then(|| (key.value.clone(), cx.span(value)))
    })
}

/// Whether an interpolated string reads variable `name` (defaults too).
fn reads(text: &str, name: &str) -> bool {
    fn walk(pieces: &[Piece], name: &str) -> bool {
        pieces.iter().any(|p| match p {
            Piece::Var {
                name: n, default, ..
            } => n == name || default.as_ref().is_some_and(|d| walk(&d.pieces, name)),
            Piece::Lit(_) => false,
        })
    }
    interpolate::parse(text).is_ok_and(|pieces| walk(&pieces, name))
}
