//! `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}` and `$$`, with
//! docker-compose semantics, turning spec strings into [`Value`]s that keep
//! secret and missing variables as references.

use serde_saphyr::Spanned;

use crate::base::diagnostic::{Code, Diag, Source};
use crate::base::value::{Part, RefKind, Value};
use crate::spec::yaml::{self, spanned};

/// One piece of a parsed interpolation template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Piece {
    Lit(String),
    Var {
        name: String,
        /// Byte offset of the `$` within the template, for diagnostics.
        offset: usize,
        default: Option<Fallback>,
    },
}

/// The default of `${NAME:-default}` or `${NAME-default}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fallback {
    /// `:-` applies the default when the variable is unset or empty; `-`
    /// only when it is unset.
    pub when_empty: bool,
    pub pieces: Vec<Piece>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyntaxError {
    pub offset: usize,
    pub message: String,
}

/// What stackhook sets itself (Terraform's KUBE_CONFIG_PATH: in the env
/// file); a spec may not.
pub const RESERVED_ENV: [&str; 4] = [
    "KUBECONFIG",
    "KUBE_CONFIG_PATH",
    "STACKHOOK_TMPDIR",
    "STACKHOOK",
];

/// Names of an `env:`: valid, and not one stackhook sets itself.
pub fn check_env_names<'a>(
    src: &Source,
    keys: impl Iterator<Item = &'a Spanned<String>>,
    diags: &mut Vec<Diag>,
) {
    for key in keys {
        if !is_var_name(&key.value) {
            diags.push(bad_name(src, key, "env"));
        }
        if RESERVED_ENV.contains(&key.value.as_str()) {
            diags.push(
                Diag::new(
                    Code::SpecReservedEnv,
                    format!("`{}` is set by stackhook itself", key.value),
                )
                .at(src, spanned(&src.text, key), "reserved")
                .help(if matches!(key.value.as_str(), "KUBECONFIG" | "KUBE_CONFIG_PATH") {
                    "use the top-level `kubeconfig:` key (or `--kubeconfig`) to choose the kubeconfig path"
                } else {
                    "pick another name"
                }),
            );
        }
    }
}

pub fn bad_name(src: &Source, name: &Spanned<String>, what: &str) -> Diag {
    Diag::new(
        Code::SpecEnvName,
        format!("`{}` is not a valid variable name", name.value),
    )
    .at(src, spanned(&src.text, name), "invalid name")
    .help(format!(
        "names in `{what}` use letters, digits and `_`, and do not start with a digit"
    ))
}

/// A syntax error, pointed at in the spec.
pub fn error(src: &Source, s: &Spanned<String>, e: &SyntaxError) -> Diag {
    let span = spanned(&src.text, s);
    let tail = s.value.get(e.offset..).unwrap_or("");
    let needle: String = tail.chars().take(2).collect();
    let at = if needle.is_empty() {
        span
    } else {
        yaml::offset_in_scalar(&src.text, span, &needle)
    };
    Diag::new(Code::SpecInterpolation, e.message.clone()).at(src, at, "invalid interpolation")
}

pub fn parse(template: &str) -> Result<Vec<Piece>, SyntaxError> {
    let mut parser = Parser {
        src: template,
        pos: 0,
    };
    let pieces = parser.pieces(false)?;
    Ok(pieces)
}

struct Parser<'a> {
    src: &'a str,
    pos: usize,
}

/// Whether `name` is a valid variable name: letters, digits and `_`, not
/// starting with a digit.
pub fn is_var_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(is_name_start) && chars.all(is_name_char)
}

fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

impl Parser<'_> {
    fn rest(&self) -> &str {
        &self.src[self.pos..]
    }

    /// Parses until the end, or (inside a default) until the closing `}`.
    fn pieces(&mut self, in_default: bool) -> Result<Vec<Piece>, SyntaxError> {
        let mut pieces = Vec::new();
        let mut lit = String::new();
        let mut depth = 0usize;
        while let Some(c) = self.rest().chars().next() {
            if in_default && c == '}' && depth == 0 {
                break;
            }
            if c != '$' {
                if in_default {
                    // Braces inside a default are literal but must balance,
                    // so `${A:-{x}}` means the default `{x}`.
                    match c {
                        '{' => depth += 1,
                        '}' => depth -= 1,
                        _ => {}
                    }
                }
                lit.push(c);
                self.pos += c.len_utf8();
                continue;
            }
            let start = self.pos;
            let after = &self.src[start + 1..];
            match after.chars().next() {
                Some('$') => {
                    lit.push('$');
                    self.pos += 2;
                }
                Some('{') => {
                    if !lit.is_empty() {
                        pieces.push(Piece::Lit(std::mem::take(&mut lit)));
                    }
                    self.pos += 2;
                    pieces.push(self.braced(start)?);
                }
                Some(c) if is_name_start(c) => {
                    if !lit.is_empty() {
                        pieces.push(Piece::Lit(std::mem::take(&mut lit)));
                    }
                    self.pos += 1;
                    let name = self.name();
                    pieces.push(Piece::Var {
                        name,
                        offset: start,
                        default: None,
                    });
                }
                _ => {
                    // A `$` that starts nothing (`$1`, `a $ b`, a trailing
                    // `$`) stays literal, as it would in sh.
                    lit.push('$');
                    self.pos += 1;
                }
            }
        }
        if !lit.is_empty() {
            pieces.push(Piece::Lit(lit));
        }
        Ok(pieces)
    }

    fn name(&mut self) -> String {
        let len = self
            .rest()
            .find(|c: char| !is_name_char(c))
            .unwrap_or(self.rest().len());
        let name = self.rest()[..len].to_string();
        self.pos += len;
        name
    }

    fn braced(&mut self, start: usize) -> Result<Piece, SyntaxError> {
        let err = |offset: usize, message: String| SyntaxError { offset, message };
        if !self.rest().starts_with(is_name_start) {
            return Err(err(
                start,
                "`${` must be followed by a variable name (letters, digits, `_`); write `$$` for a literal `$`".into(),
            ));
        }
        let name = self.name();
        let default = if self.rest().starts_with(":-") {
            self.pos += 2;
            Some(true)
        } else if self.rest().starts_with('-') {
            self.pos += 1;
            Some(false)
        } else {
            None
        };
        let default = match default {
            Some(when_empty) => Some(Fallback {
                when_empty,
                pieces: self.pieces(true)?,
            }),
            None => None,
        };
        match self.rest().chars().next() {
            Some('}') => {
                self.pos += 1;
                Ok(Piece::Var {
                    name,
                    offset: start,
                    default,
                })
            }
            None => Err(err(start, format!("`${{{name}` is not closed: add `}}`"))),
            Some(c) => Err(err(
                self.pos,
                format!(
                    "unexpected `{c}` in `${{{name}...}}`: supported forms are `${{{name}}}`, `${{{name}:-default}}` and `${{{name}-default}}`"
                ),
            )),
        }
    }
}

/// Where interpolated variables come from and which of them are secret.
pub trait Lookup {
    /// The variable's value, and whether it is secret.
    fn get(&self, name: &str) -> Option<(Value, bool)>;
}

/// A variable reference that could not be resolved, by its offset in the
/// template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Missing {
    pub name: String,
    pub offset: usize,
}

/// Substitutes variables into parsed pieces. Missing variables become
/// references (so a preview can still show the command) and are reported.
pub fn substitute(pieces: &[Piece], lookup: &dyn Lookup, missing: &mut Vec<Missing>) -> Value {
    let mut out = Value::default();
    for piece in pieces {
        match piece {
            Piece::Lit(t) => out.push(Part::Text(t.clone())),
            Piece::Var {
                name,
                offset,
                default,
            } => {
                let found = lookup.get(name);
                let use_default = match (&found, default) {
                    (None, Some(_)) => true,
                    (Some((v, _)), Some(d)) => d.when_empty && v.is_empty(),
                    _ => false,
                };
                if use_default {
                    let d = default.as_ref().expect("checked above");
                    out.extend(substitute(&d.pieces, lookup, missing));
                    continue;
                }
                match found {
                    Some((_, true)) => out.push(Part::Ref {
                        name: name.clone(),
                        why: RefKind::Secret,
                    }),
                    Some((value, false)) => out.extend(value),
                    None => {
                        missing.push(Missing {
                            name: name.clone(),
                            offset: *offset,
                        });
                        out.push(Part::Ref {
                            name: name.clone(),
                            why: RefKind::Missing,
                        });
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    struct Env(BTreeMap<&'static str, (&'static str, bool)>);

    impl Lookup for Env {
        fn get(&self, name: &str) -> Option<(Value, bool)> {
            self.0.get(name).map(|(v, s)| (Value::text(*v), *s))
        }
    }

    fn env() -> Env {
        Env(BTreeMap::from([
            ("REGION", ("eu-west-1", false)),
            ("EMPTY", ("", false)),
            ("ARM_CLIENT_SECRET", ("hunter2", true)),
        ]))
    }

    fn run(template: &str) -> (String, Vec<String>) {
        let mut missing = Vec::new();
        let value = substitute(&parse(template).unwrap(), &env(), &mut missing);
        (
            value.to_string(),
            missing.into_iter().map(|m| m.name).collect(),
        )
    }

    #[test]
    fn plain_and_braced_variables() {
        assert_eq!(run("$REGION"), ("eu-west-1".into(), vec![]));
        assert_eq!(run("x-${REGION}-y"), ("x-eu-west-1-y".into(), vec![]));
        assert_eq!(run("$REGION.b"), ("eu-west-1.b".into(), vec![]));
    }

    #[test]
    fn defaults_follow_compose_semantics() {
        assert_eq!(run("${NOPE:-d}").0, "d");
        assert_eq!(run("${NOPE-d}").0, "d");
        assert_eq!(run("${EMPTY:-d}").0, "d");
        assert_eq!(run("${EMPTY-d}").0, "");
        assert_eq!(run("${REGION:-d}").0, "eu-west-1");
        assert_eq!(run("${NOPE:-}").0, "");
        assert_eq!(run("${NOPE:-${REGION}}").0, "eu-west-1");
        assert_eq!(run("${NOPE:-{a}}").0, "{a}");
        // The brace pair belongs to the default, so nothing is left over.
        assert_eq!(run("${REGION:-{a}}").0, "eu-west-1");
        assert_eq!(run("${REGION:-{{a}}}x").0, "eu-west-1x");
    }

    #[test]
    fn dollar_dollar_is_a_literal_dollar() {
        let mut missing = Vec::new();
        let v = substitute(&parse("a$$b$$$REGION").unwrap(), &env(), &mut missing);
        assert_eq!(v.as_text().unwrap(), "a$b$eu-west-1");
        assert!(missing.is_empty());
    }

    #[test]
    fn lone_dollar_stays_literal() {
        let mut missing = Vec::new();
        let v = substitute(&parse("$1 costs $ 5$").unwrap(), &env(), &mut missing);
        assert_eq!(v.as_text().unwrap(), "$1 costs $ 5$");
    }

    #[test]
    fn missing_variables_are_references_and_reported_with_offsets() {
        let mut missing = Vec::new();
        let v = substitute(&parse("a ${X} $Y").unwrap(), &env(), &mut missing);
        assert_eq!(v.to_string(), "a ${X} ${Y}");
        assert_eq!(
            missing,
            vec![
                Missing {
                    name: "X".into(),
                    offset: 2
                },
                Missing {
                    name: "Y".into(),
                    offset: 7
                }
            ]
        );
    }

    #[test]
    fn secrets_never_become_text() {
        let mut missing = Vec::new();
        let v = substitute(
            &parse("k=${ARM_CLIENT_SECRET}").unwrap(),
            &env(),
            &mut missing,
        );
        assert!(v.has_secret());
        assert_eq!(v.as_text(), None);
        assert!(!format!("{v:?}{v}").contains("hunter2"));
    }

    #[test]
    fn syntax_errors_say_where_and_how() {
        let e = parse("ab ${X").unwrap_err();
        assert_eq!(e.offset, 3);
        assert!(e.message.contains("not closed"), "{}", e.message);
        let e = parse("${1X}").unwrap_err();
        assert!(e.message.contains("$$"), "{}", e.message);
        let e = parse("${X:?boom}").unwrap_err();
        assert!(e.message.contains("supported forms"), "{}", e.message);
    }
}
