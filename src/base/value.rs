//! A string after interpolation: literal text and references to variables
//! whose value must not (secret) or cannot (missing) be written down.
//!
//! Nothing downstream can print a secret's value by accident: a secret is a
//! reference by name until the shell expands it at run time. Only the shell
//! quoter (and, at run time, [`Value::materialize`]) turns references into
//! text.

use std::fmt;

use serde::Serialize;

use crate::base::diagnostic::{Code, Diag};

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Value(pub Vec<Part>);

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Part {
    Text(String),
    /// Expanded by the shell at run time from the command's environment.
    Ref {
        name: String,
        why: RefKind,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefKind {
    Secret,
    Missing,
}

impl Value {
    pub fn text(s: impl Into<String>) -> Self {
        let s = s.into();
        if s.is_empty() {
            Value(Vec::new())
        } else {
            Value(vec![Part::Text(s)])
        }
    }

    pub fn reference(name: impl Into<String>, why: RefKind) -> Self {
        Value(vec![Part::Ref {
            name: name.into(),
            why,
        }])
    }

    pub fn push(&mut self, part: Part) {
        match (self.0.last_mut(), part) {
            (_, Part::Text(t)) if t.is_empty() => {}
            (Some(Part::Text(prev)), Part::Text(t)) => prev.push_str(&t),
            (_, part) => self.0.push(part),
        }
    }

    pub fn extend(&mut self, other: Value) {
        for part in other.0 {
            self.push(part);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The literal text, when the value holds no reference.
    pub fn as_text(&self) -> Option<String> {
        let mut out = String::new();
        for part in &self.0 {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Ref { .. } => return None,
            }
        }
        Some(out)
    }

    pub fn refs(&self) -> impl Iterator<Item = (&str, RefKind)> {
        self.0.iter().filter_map(|p| match p {
            Part::Ref { name, why } => Some((name.as_str(), *why)),
            Part::Text(_) => None,
        })
    }

    pub fn has_secret(&self) -> bool {
        self.refs().any(|(_, why)| why == RefKind::Secret)
    }

    /// The value with every reference looked up. Used by the runner only.
    pub fn materialize(&self, lookup: impl Fn(&str) -> Option<String>) -> Result<String, Diag> {
        let mut out = String::new();
        for part in &self.0 {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Ref { name, .. } => match lookup(name) {
                    Some(v) => out.push_str(&v),
                    None => {
                        return Err(Diag::new(
                            Code::RunUnset,
                            format!("{name} is not set at run time"),
                        ));
                    }
                },
            }
        }
        Ok(out)
    }
}

/// Displays in the spec's own interpolation syntax, so a preview shows
/// `${ARM_CLIENT_SECRET}` where the secret goes and `$$` for a literal `$`.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for part in &self.0 {
            match part {
                Part::Text(t) => f.write_str(&t.replace('$', "$$"))?,
                Part::Ref { name, .. } => write!(f, "${{{name}}}")?,
            }
        }
        Ok(())
    }
}

impl Serialize for Value {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_parts_merge_and_empty_text_vanishes() {
        let mut v = Value::text("a");
        v.push(Part::Text(String::new()));
        v.push(Part::Text("b".into()));
        assert_eq!(v, Value::text("ab"));
        assert!(Value::text("").is_empty());
    }

    #[test]
    fn materialize_names_the_unset_reference() {
        let mut v = Value::text("x=");
        v.push(Part::Ref {
            name: "NOPE".into(),
            why: RefKind::Missing,
        });
        let err = v.materialize(|_| None).unwrap_err();
        assert_eq!(err.message, "NOPE is not set at run time");
        assert_eq!(v.materialize(|_| Some("1".into())).unwrap(), "x=1");
    }
}
