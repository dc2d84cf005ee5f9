//! Resolving spec strings against the environment: which variables exist,
//! which are secret, and which are missing (with where they were asked for).
//! Knows the environment, not templates.

use std::collections::{BTreeMap, BTreeSet};

use indexmap::IndexMap;
use miette::SourceSpan;
use serde::Serialize;
use serde_saphyr::Spanned;

use crate::diagnostic::{Diag, Source};
use crate::interpolate::{self, Lookup, Value};
use crate::secrets::is_secret_name;
use crate::spec::{self, Spec};

/// A variable the spec needs but the environment does not have.
#[derive(Clone, Debug, Serialize)]
pub struct MissingVar {
    pub name: String,
    /// `file:line:column`
    pub location: String,
    /// The spec key that asked for it, e.g. `steps[0].with.cluster`.
    pub key: String,
    #[serde(skip)]
    pub span: SourceSpan,
}

/// The process environment as seen once, plus the spec's `env:` and
/// `secrets:`. Resolution reads only this snapshot, so a plan is a pure
/// function of the spec and the snapshot.
pub struct Vars {
    process: BTreeMap<String, String>,
    /// Spec `env:`, resolved against the process environment.
    pub spec_env: IndexMap<String, EnvEntry>,
    /// Exports of the steps rendered so far, which later steps see.
    pub exported: IndexMap<String, EnvEntry>,
    /// Names the spec or a provider declared secret.
    declared: BTreeSet<String>,
}

#[derive(Clone, Debug)]
pub struct EnvEntry {
    pub value: Value,
    pub secret: bool,
}

impl Vars {
    pub fn new(process: BTreeMap<String, String>) -> Self {
        Vars {
            process,
            spec_env: IndexMap::new(),
            exported: IndexMap::new(),
            declared: BTreeSet::new(),
        }
    }

    pub fn from_process() -> Self {
        Vars::new(
            std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .collect(),
        )
    }

    pub fn process(&self, name: &str) -> Option<&str> {
        self.process.get(name).map(String::as_str)
    }

    pub fn declare_secret(&mut self, name: &str) {
        self.declared.insert(name.to_string());
    }

    pub fn is_secret(&self, name: &str) -> bool {
        is_secret_name(name)
            || self.declared.contains(name)
            || self.spec_env.get(name).is_some_and(|e| e.secret)
            || self.exported.get(name).is_some_and(|e| e.secret)
    }

    /// Reads the spec's `secrets:` and `env:`. Spec env values see only the
    /// process environment, as in docker-compose.
    pub fn load_spec(&mut self, spec: &Spec, missing: &mut Vec<MissingVar>) {
        for name in &spec.secrets {
            self.declare_secret(&name.value);
        }
        let src = spec.source();
        let mut entries = IndexMap::new();
        for (key, value) in &spec.env {
            let lookup = Scope {
                vars: self,
                step_env: None,
                force_secret: false,
            };
            let v =
                interpolate_spanned(src, value, &lookup, &format!("env.{}", key.value), missing);
            let secret = self.is_secret(&key.value) || v.has_secret();
            entries.insert(key.value.clone(), EnvEntry { value: v, secret });
        }
        self.spec_env = entries;
    }

    /// A step's `env:`, which sees the process and the spec env.
    pub fn step_env(
        &self,
        spec: &Spec,
        index: usize,
        missing: &mut Vec<MissingVar>,
    ) -> IndexMap<String, EnvEntry> {
        let step = &spec.steps.value[index].value;
        let mut out = IndexMap::new();
        for (key, value) in &step.env {
            let lookup = self.scope(None, false);
            let v = interpolate_spanned(
                spec.source(),
                value,
                &lookup,
                &format!("steps[{index}].env.{}", key.value),
                missing,
            );
            let secret = self.is_secret(&key.value) || v.has_secret();
            out.insert(key.value.clone(), EnvEntry { value: v, secret });
        }
        out
    }

    pub fn scope<'a>(
        &'a self,
        step_env: Option<&'a IndexMap<String, EnvEntry>>,
        force_secret: bool,
    ) -> Scope<'a> {
        Scope {
            vars: self,
            step_env,
            force_secret,
        }
    }

    /// Every variable a template may read as `env.NAME`: process, then
    /// spec env, then step env; secret ones as references.
    pub fn visible(&self, step_env: &IndexMap<String, EnvEntry>) -> BTreeMap<String, Value> {
        let scope = self.scope(Some(step_env), false);
        let mut names: BTreeSet<&str> = self.process.keys().map(String::as_str).collect();
        names.extend(self.spec_env.keys().map(String::as_str));
        names.extend(self.exported.keys().map(String::as_str));
        names.extend(step_env.keys().map(String::as_str));
        names
            .into_iter()
            .filter_map(|n| {
                let (v, secret) = scope.get(n)?;
                let v = if secret {
                    Value::reference(n, interpolate::RefKind::Secret)
                } else {
                    v
                };
                Some((n.to_string(), v))
            })
            .collect()
    }

    /// Names of every secret variable that has a value, for masking at run time.
    pub fn secret_names(&self) -> BTreeSet<String> {
        let mut out: BTreeSet<String> = self
            .process
            .keys()
            .filter(|k| self.is_secret(k))
            .cloned()
            .collect();
        out.extend(self.declared.iter().cloned());
        out.extend(
            self.spec_env
                .iter()
                .filter(|(_, e)| e.secret)
                .map(|(k, _)| k.clone()),
        );
        out
    }
}

/// A lookup for one place in the spec.
pub struct Scope<'a> {
    vars: &'a Vars,
    step_env: Option<&'a IndexMap<String, EnvEntry>>,
    /// Set for a provider's secret parameters (a token), whose variables
    /// are secret whatever their name.
    force_secret: bool,
}

impl Lookup for Scope<'_> {
    fn get(&self, name: &str) -> Option<(Value, bool)> {
        let entry = self
            .step_env
            .and_then(|e| e.get(name))
            .or_else(|| self.vars.exported.get(name))
            .or_else(|| self.vars.spec_env.get(name));
        if let Some(e) = entry {
            return Some((e.value.clone(), e.secret || self.force_secret));
        }
        let v = self.vars.process.get(name)?;
        Some((
            Value::text(v.clone()),
            self.force_secret || self.vars.is_secret(name),
        ))
    }
}

/// Interpolates one spec string, recording missing variables at the exact
/// `$NAME` in the file where possible.
pub fn interpolate_spanned(
    src: &Source,
    s: &Spanned<String>,
    lookup: &dyn Lookup,
    key: &str,
    missing: &mut Vec<MissingVar>,
) -> Value {
    // Syntax errors were reported by spec::check; here a broken string is
    // taken literally so that resolution can go on.
    let pieces = interpolate::parse(&s.value)
        .unwrap_or_else(|_| vec![interpolate::Piece::Lit(s.value.clone())]);
    let mut found = Vec::new();
    let value = interpolate::resolve(&pieces, lookup, &mut found);
    let scalar = spec::spanned(&src.text, s);
    for m in found {
        let rest = &s.value[m.offset..];
        let needle_len = rest[1..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '{'))
            .map_or(rest.len(), |i| i + 1);
        let span = spec::offset_in_scalar(&src.text, scalar, &rest[..needle_len]);
        missing.push(MissingVar {
            location: src.position(span.offset()),
            name: m.name,
            key: key.to_string(),
            span,
        });
    }
    value
}

/// One diagnostic for every missing variable at once, each occurrence
/// labelled in the spec.
pub fn missing_diag(src: &Source, missing: &[MissingVar]) -> Diag {
    let mut names: Vec<&str> = missing.iter().map(|m| m.name.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    let message = match names.as_slice() {
        [one] => format!("environment variable {one} is not set"),
        many => format!(
            "{} environment variables are not set: {}",
            many.len(),
            many.join(", ")
        ),
    };
    let mut diag = Diag::new("stackhook::env::missing", message);
    for (i, m) in missing.iter().enumerate() {
        let label = match m.key.split_once(" (default") {
            Some((key, _)) => format!(
                "{} is not set (the default of `{}`)",
                m.name,
                key.rsplit('.').next().unwrap_or(key)
            ),
            None => format!("{} is not set", m.name),
        };
        diag = if i == 0 {
            diag.at(src, m.span, label)
        } else {
            diag.and(m.span, label)
        };
    }
    diag.help(
        "export them before stackhook runs (in Spacelift: the stack's environment or an attached context), or give a default: ${NAME:-value}",
    )
}
