//! YAML, for specs and provider files: source spans of parsed nodes, and
//! parser errors turned into diagnostics that point at the node and say how
//! to fix it.

use std::path::Path;

use miette::SourceSpan;
use serde_saphyr::{Error, Location, Spanned};

use crate::base::diagnostic::{Code, Diag, Source, did_you_mean};

/// The byte range of a located node in `src`.
pub fn span(src: &str, loc: &Location) -> SourceSpan {
    let s = loc.span();
    if let (Some(off), Some(len)) = (s.byte_offset(), s.byte_len()) {
        let off = (off as usize).min(src.len());
        let len = (len as usize).min(src.len() - off);
        return (off, len).into();
    }
    // Byte info is missing for some parser errors: count characters.
    let mut chars = src.char_indices().map(|(i, _)| i).chain([src.len()]);
    let start = chars.nth(s.offset() as usize).unwrap_or(src.len());
    let end = chars
        .nth((s.len() as usize).saturating_sub(1))
        .unwrap_or(src.len());
    (start, end.saturating_sub(start)).into()
}

/// A key left out: an empty value located nowhere.
pub fn absent<T: Default>() -> Spanned<T> {
    Spanned::new(T::default(), Location::UNKNOWN, Location::UNKNOWN)
}

/// Whether a node was written in a file (rather than left out).
pub fn given<T>(node: &Spanned<T>) -> bool {
    node.referenced != Location::UNKNOWN
}

pub fn spanned<T>(src: &str, node: &Spanned<T>) -> SourceSpan {
    span(src, &node.referenced)
}

/// Offset of text inside a scalar's source, for pointing at a `$VAR`. Exact
/// for plain and simply quoted scalars; falls back to the scalar itself.
pub fn offset_in_scalar(src: &str, scalar: SourceSpan, needle: &str) -> SourceSpan {
    let start = scalar.offset();
    let end = (start + scalar.len()).min(src.len());
    match src.get(start..end).and_then(|s| s.find(needle)) {
        Some(i) => (start + i, needle.len()).into(),
        None => scalar,
    }
}

/// Points at the first byte that is not UTF-8, showing the text before it.
pub fn not_utf8(path: &Path, e: std::string::FromUtf8Error) -> Diag {
    let at = e.utf8_error().valid_up_to();
    let valid = String::from_utf8_lossy(&e.as_bytes()[..at]).into_owned();
    let source = Source::new(path.display().to_string(), valid);
    let position = source.position(at);
    let byte = e.as_bytes()[at];
    Diag::new(
        Code::SpecEncoding,
        format!("{position}: the spec is not UTF-8 text (byte 0x{byte:02X} at offset {at})"),
    )
    .at(&source, (at, 0), "the next byte is not UTF-8")
    .help("save the spec as UTF-8 (a YAML file is UTF-8 text)")
}

/// Turns a YAML or shape error into a diagnostic pointing at the node.
/// `keys` are the keys the document knows, for "did you mean" on a typo.
pub fn error(source: &Source, err: &Error, keys: &[&str]) -> Diag {
    use serde_saphyr::MessageFormatter;
    let inner = err.without_snippet();
    let message = serde_saphyr::DefaultMessageFormatter
        .format_message(inner)
        .into_owned();
    let (code, message, help) = classify(source, inner, message, keys);
    let label = if code == Code::SpecUnknownKey {
        "unknown key"
    } else {
        "here"
    };
    let mut diag = Diag::new(code, message).help_opt(help);
    if let Some(loc) = err.location() {
        diag = diag.at(source, span(&source.text, &loc), label);
    }
    diag
}

/// The code, message and help for a parser error, by its kind.
fn classify(
    source: &Source,
    err: &Error,
    message: String,
    keys: &[&str],
) -> (Code, String, Option<String>) {
    let help = |s: &str| Some(s.to_string());
    match err {
        Error::SerdeUnknownField {
            field, expected, ..
        } => {
            let candidates: Vec<&str> = if expected.is_empty() {
                keys.to_vec()
            } else {
                expected.clone()
            };
            let help = match did_you_mean(field, candidates.iter().copied()) {
                Some(s) => format!("did you mean `{s}`?"),
                None => format!("remove `{field}`; allowed here: {}", expected.join(", ")),
            };
            (Code::SpecUnknownKey, message, Some(help))
        }
        Error::SerdeMissingField { .. } => (
            Code::SpecMissingKey,
            message,
            help(
                "a spec needs `version: 1` and `steps:`, and every step a `provider:`; `stackhook providers` lists them",
            ),
        ),
        Error::DuplicateMappingKey { key, .. } => (
            Code::SpecDuplicateKey,
            match key {
                Some(k) => format!("duplicate mapping key: {k}"),
                None => "duplicate mapping key".to_string(),
            },
            help("each key may appear only once in a mapping: remove one of them"),
        ),
        Error::Eof { .. }
            if source
                .text
                .lines()
                .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#')) =>
        {
            (
                Code::SpecEmpty,
                "the spec is empty".into(),
                help(
                    "start with `version: 1` and a `steps:` list; `stackhook providers` shows what a step can be",
                ),
            )
        }
        Error::InvalidScalar { ty, .. } if ty.starts_with('u') || ty.starts_with('i') => (
            Code::SpecYaml,
            message,
            help("this must be a whole number, 0 or more"),
        ),
        Error::Unexpected { expected, .. } if expected.contains("sequence") => (
            Code::SpecYaml,
            message,
            help("this must be a YAML list: start each item with `- `"),
        ),
        Error::Unexpected { expected, .. } if expected.contains("mapping") => (
            Code::SpecYaml,
            message,
            help("this must be a mapping of `key: value` lines"),
        ),
        // The parser's own errors carry only text; the snapshots of
        // tests/specs/invalid catch a change of wording.
        Error::ExternalMessage { msg, .. }
            if msg.contains("not allowed in this context")
                || msg.contains("indentation")
                || msg.contains("did not find expected") =>
        {
            (
                Code::SpecYaml,
                message,
                help(
                    "check the indentation: YAML uses spaces, and the keys of one mapping line up",
                ),
            )
        }
        _ => (Code::SpecYaml, message, None),
    }
}

/// Every string inside a JSON value.
pub fn collect_strings<'a>(value: &'a serde_json::Value, out: &mut Vec<&'a str>) {
    match value {
        serde_json::Value::String(s) => out.push(s),
        serde_json::Value::Array(items) => items.iter().for_each(|v| collect_strings(v, out)),
        serde_json::Value::Object(map) => map.values().for_each(|v| collect_strings(v, out)),
        _ => {}
    }
}
