//! What a CLI does with an argument value besides taking it: az reads
//! `@FILE` from the file it names, the AWS CLI reads `file://` and
//! `fileb://` values from files and (v1) downloads `http(s)://` ones. A
//! value quoted as one argument is still read so; with a variable that
//! holds `@/path/to/token`, a CLI prints the token in an error. Each
//! provider says which CLIs read its parameters and what they interpret
//! (`cli_values`); a value that starts so is refused before anything runs.
//!
//! Values are known when the plan is made: a variable's value is read
//! from the environment (a secret's too, never shown); one that is not set
//! is checked in the plan made for the run, where it is set.

use miette::SourceSpan;

use crate::base::diagnostic::{Code, Diag, Source};
use crate::base::value::{Part, Value};
use crate::plan::provider::CliValues;
use crate::spec::interpolate::Lookup;

/// The rule and prefix `text` starts with, if any (ASCII case ignored:
/// refusing `FILE://` too costs nothing).
pub fn interpreted<'a>(rules: &'a [CliValues], text: &str) -> Option<(&'a CliValues, &'a str)> {
    rules.iter().find_map(|rule| {
        rule.prefixes
            .iter()
            .find(|p| {
                text.get(..p.len())
                    .is_some_and(|head| head.eq_ignore_ascii_case(p))
            })
            .map(|p| (rule, p.as_str()))
    })
}

/// How a value starts once its variables are read: at least `n`
/// characters where it has them, and whether a secret's value is among
/// them. None when a variable it starts with is not set.
fn leading(value: &Value, lookup: &dyn Lookup, n: usize, depth: u8) -> Option<(String, bool)> {
    let mut out = String::new();
    let mut secret = false;
    for part in &value.0 {
        if out.chars().count() >= n {
            break;
        }
        match part {
            Part::Text(t) => out.push_str(t),
            Part::Ref { name, .. } => {
                let (v, is_secret) = lookup.get(name)?;
                // An entry that reads itself (or a long chain) stops here.
                let (text, inner_secret) = if depth == 0 {
                    (v.as_text()?, false)
                } else {
                    leading(&v, lookup, n, depth - 1)?
                };
                secret |= is_secret || inner_secret;
                out.push_str(&text);
            }
        }
    }
    Some((out, secret))
}

/// Refuses a value that a CLI of `rules` would not take as it is. `what`
/// names it (a parameter, the variables it reads); `at` is where the value
/// (or, for a default, the step) is.
pub fn check(
    rules: &[CliValues],
    what: &str,
    value: &Value,
    lookup: &dyn Lookup,
    at: (&Source, SourceSpan),
) -> Result<(), Diag> {
    let longest = rules
        .iter()
        .flat_map(|r| r.prefixes.iter().map(|p| p.chars().count()))
        .max()
        .unwrap_or(0);
    if longest == 0 {
        return Ok(());
    }
    let Some((start, secret)) = leading(value, lookup, longest, 4) else {
        return Ok(());
    };
    let Some((rule, prefix)) = interpreted(rules, &start) else {
        return Ok(());
    };
    let secret = if secret { " (a secret: not shown)" } else { "" };
    Err(Diag::new(
        Code::SpecCliValue,
        format!(
            "{what} starts with `{prefix}`{secret}, which {} does not take as a value",
            rule.cli
        ),
    )
    .at(at.0, at.1, format!("starts with `{prefix}`"))
    .help(format!(
        "{}: give the value itself (a value that only contains `{prefix}` later on is fine)",
        rule.why.trim_end_matches('.')
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::value::RefKind;
    use std::collections::BTreeMap;

    struct Env(BTreeMap<&'static str, (Value, bool)>);

    impl Lookup for Env {
        fn get(&self, name: &str) -> Option<(Value, bool)> {
            self.0.get(name).cloned()
        }
    }

    fn rules() -> Vec<CliValues> {
        vec![
            CliValues {
                cli: "az".into(),
                prefixes: vec!["@".into()],
                why: "az reads a value that starts with @ from the file it names".into(),
            },
            CliValues {
                cli: "aws".into(),
                prefixes: vec!["file://".into(), "fileb://".into(), "https://".into()],
                why: "the AWS CLI reads file:// values from files".into(),
            },
        ]
    }

    #[test]
    fn prefixes_at_the_start_only_and_through_variables() {
        let src = Source::new("s.yaml", "x");
        let at = (&src, SourceSpan::from((0, 1)));
        let mut chain = Value::reference("INNER", RefKind::Secret);
        chain.push(Part::Text("/x".into()));
        let env = Env(BTreeMap::from([
            ("SUB", (Value::text("@/tmp/oidc"), false)),
            ("T", (Value::text("fileb:///etc/x"), true)),
            ("INNER", (Value::text("FILE:"), true)),
            ("OUTER", (chain, true)),
            ("SELF", (Value::reference("SELF", RefKind::Secret), false)),
        ]));
        let refused = |v: Value| check(&rules(), "`p`", &v, &env, at).err();
        assert!(refused(Value::text("@/tmp/oidc")).is_some());
        let e = refused(Value::reference("SUB", RefKind::Missing)).unwrap();
        assert_eq!(
            e.message,
            "`p` starts with `@`, which az does not take as a value"
        );
        let e = refused(Value::reference("T", RefKind::Secret)).unwrap();
        assert!(e.message.contains("(a secret: not shown)"), "{}", e.message);
        assert!(!e.message.contains("/etc/x"), "{}", e.message);
        let mut split = Value::text("fi");
        split.push(Part::Ref {
            name: "LE".into(),
            why: RefKind::Missing,
        });
        let env_le = Env(BTreeMap::from([("LE", (Value::text("le://x"), false))]));
        assert!(check(&rules(), "`p`", &split, &env_le, at).is_err());
        // Unset, self-referring: not known here; text further in: fine.
        for fine in [
            Value::reference("UNSET", RefKind::Missing),
            Value::reference("SELF", RefKind::Secret),
            Value::text("team@acme"),
            Value::text("prod-https://x"),
            Value::text(" @x"),
            Value::text(""),
        ] {
            assert!(refused(fine.clone()).is_none(), "{fine}");
        }
        // `FILE:` then `/x` is `FILE:/x`, not `file://`.
        assert!(refused(Value::reference("OUTER", RefKind::Secret)).is_none());
        assert!(interpreted(&rules(), "FILE://x").is_some());
    }
}
