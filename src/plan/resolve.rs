//! The environment a spec is resolved against: the process environment,
//! read once, plus the spec's `env:` and `secrets:`; which variables exist,
//! which are secret, and which are missing (with where they were asked
//! for). Knows the environment, not templates.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use miette::SourceSpan;
use schemars::JsonSchema;
use serde::Serialize;
use serde_saphyr::Spanned;

use crate::base::diagnostic::{Code, Diag, Source};
use crate::base::kubeconfig_path::{self, Given};
use crate::base::secrets::SecretNames;
use crate::base::value::{Part, RefKind, Value};
use crate::spec::document::{Map, Spec};
use crate::spec::interpolate::{self, Lookup};
use crate::spec::yaml;

/// The process environment, read once per command; variables whose name or
/// value is not UTF-8 are left out.
pub type ProcessEnv = BTreeMap<String, String>;

/// The variables of the process environment whose name or value is not
/// UTF-8: stackhook cannot interpolate them, but passes them on to every
/// command untouched.
pub fn raw_env() -> Vec<(std::ffi::OsString, std::ffi::OsString)> {
    std::env::vars_os()
        .filter(|(k, v)| k.to_str().is_none() || v.to_str().is_none())
        .collect()
}

pub fn process_env() -> ProcessEnv {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect()
}

/// A variable the spec needs but the environment does not have.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct MissingVar {
    pub name: String,
    /// `file:line:column`
    pub location: String,
    #[schemars(with = "String")]
    pub key: SpecKey,
    #[serde(skip)]
    pub span: SourceSpan,
}

/// The spec key a value comes from, e.g. `steps[0].with.cluster`, and the
/// provider default it was taken from, if any.
#[derive(Clone, Debug)]
pub struct SpecKey {
    pub path: String,
    pub default: Option<String>,
}

impl SpecKey {
    pub fn new(path: impl Into<String>) -> Self {
        SpecKey {
            path: path.into(),
            default: None,
        }
    }
}

impl fmt::Display for SpecKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.default {
            Some(d) => write!(f, "{} (default {d})", self.path),
            None => f.write_str(&self.path),
        }
    }
}

impl Serialize for SpecKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// An `env:` entry (of the spec, a step, or an export), resolved.
#[derive(Clone, Debug)]
pub struct EnvEntry {
    pub value: Value,
    pub secret: bool,
}

impl EnvEntry {
    /// How a preview shows it: references by name; literal text of a
    /// secret entry masked.
    pub fn display(&self) -> String {
        if !self.secret {
            return self.value.to_string();
        }
        self.value
            .0
            .iter()
            .map(|p| match p {
                Part::Text(_) => "***".to_string(),
                Part::Ref { name, .. } => format!("${{{name}}}"),
            })
            .collect()
    }
}

impl Serialize for EnvEntry {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.display())
    }
}

pub type Env = IndexMap<String, EnvEntry>;

/// The variables a spec is resolved against. Resolution reads only this,
/// so a plan is a pure function of the spec and the process environment.
pub struct Vars<'a> {
    process: &'a ProcessEnv,
    /// Spec `env:`, resolved against the process environment.
    pub spec_env: Env,
    /// Exports of the steps rendered so far, which later steps see.
    pub exported: Env,
    /// The secret names, decided before anything is resolved.
    secrets: SecretNames,
    /// False when there is no environment to resolve against (`validate`,
    /// provider pages): a value that is empty because a variable is unset
    /// may then be set in a run.
    pub env_known: bool,
    process_view: std::cell::OnceCell<BTreeMap<String, Value>>,
}

impl<'a> Vars<'a> {
    pub fn new(process: &'a ProcessEnv, secrets: SecretNames) -> Self {
        Vars {
            process,
            spec_env: IndexMap::new(),
            exported: IndexMap::new(),
            secrets,
            env_known: true,
            process_view: std::cell::OnceCell::new(),
        }
    }

    pub fn process(&self, name: &str) -> Option<&'a str> {
        self.process.get(name).map(String::as_str)
    }

    pub fn is_secret(&self, name: &str) -> bool {
        self.secrets.contains(name)
            || self.spec_env.get(name).is_some_and(|e| e.secret)
            || self.exported.get(name).is_some_and(|e| e.secret)
    }

    /// Reads the spec's `env:`. Spec env values see only the process
    /// environment, as in docker-compose.
    pub fn load_spec(&mut self, spec: &Spec, missing: &mut Vec<MissingVar>) {
        self.spec_env = self.resolve_env(spec, &spec.env, "env", missing);
    }

    /// An `env:` map (keys under `at`) resolved against the process
    /// environment; an entry is secret by its name or by what it reads.
    fn resolve_env(
        &self,
        spec: &Spec,
        env: &Map<String>,
        at: &str,
        missing: &mut Vec<MissingVar>,
    ) -> Env {
        let mut out = IndexMap::new();
        for (key, value) in env {
            let key_path = SpecKey::new(format!("{at}.{}", key.value));
            let scope = self.scope(None, false);
            let v = interpolate_spanned(spec.source(), value, &scope, key_path, missing);
            let secret = self.is_secret(&key.value) || v.has_secret();
            out.insert(key.value.clone(), EnvEntry { value: v, secret });
        }
        out
    }

    /// The kubeconfig path (see [`kubeconfig_path::locate`]); the spec's
    /// `kubeconfig:` is interpolated like any spec value.
    pub fn kubeconfig(
        &self,
        spec: &Spec,
        flag: Option<&Path>,
        missing: &mut Vec<MissingVar>,
    ) -> Result<PathBuf, Diag> {
        let given = match (flag, &spec.kubeconfig) {
            (Some(p), _) => Given::Flag(p),
            (None, Some(k)) => {
                let src = spec.source();
                let key = SpecKey::new("kubeconfig");
                let value = interpolate_spanned(src, k, &self.scope(None, false), key, missing);
                if value.has_secret() {
                    return Err(Diag::new(
                        Code::SpecKubeconfig,
                        "the kubeconfig path uses a secret variable",
                    )
                    .at(src, spec.span(k), "secret in a path")
                    .help("a path is printed in previews and logs: use a non-secret variable"));
                }
                Given::Spec {
                    text: value.to_string(),
                    dir: spec.dir_of(k),
                }
            }
            (None, None) => Given::Env,
        };
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
        kubeconfig_path::locate(given, |k| self.process(k).map(Into::into), &cwd)
    }

    /// A step's `env:`, which sees the process and the spec env.
    pub fn step_env(&self, spec: &Spec, index: usize, missing: &mut Vec<MissingVar>) -> Env {
        let step = &spec.steps.value[index].value;
        self.resolve_env(spec, &step.env, &format!("steps[{index}].env"), missing)
    }

    pub fn scope<'s>(&'s self, step_env: Option<&'s Env>, force_secret: bool) -> Scope<'s> {
        Scope {
            vars: self,
            step_env,
            force_secret,
        }
    }

    /// The process environment as templates see it (`env.NAME`), secret
    /// variables as references: computed once, shared by every step.
    pub fn process_view(&self) -> &BTreeMap<String, Value> {
        self.process_view.get_or_init(|| {
            self.process
                .iter()
                .map(|(name, value)| {
                    let v = if self.secrets.contains(name) {
                        Value::reference(name, RefKind::Secret)
                    } else {
                        Value::text(value.clone())
                    };
                    (name.clone(), v)
                })
                .collect()
        })
    }

    /// What a step's templates see above the process environment: the
    /// spec's env, earlier exports, the step's env (each over the one
    /// before); secret entries as references.
    pub fn overlay(&self, step_env: &Env) -> BTreeMap<String, Value> {
        let mut out = BTreeMap::new();
        for (name, e) in self.spec_env.iter().chain(&self.exported).chain(step_env) {
            let v = if e.secret {
                Value::reference(name, RefKind::Secret)
            } else {
                e.value.clone()
            };
            out.insert(name.clone(), v);
        }
        out
    }

    /// The run's secret names so far: those decided before resolution,
    /// and the entries and exports that resolved to secrets.
    pub fn secret_names(&self) -> SecretNames {
        let mut names = self.secrets.clone();
        for (name, entry) in self.spec_env.iter().chain(&self.exported) {
            if entry.secret {
                names.insert(name);
            }
        }
        names
    }

    /// The run's secret names, once every step is rendered.
    pub fn into_secrets(self) -> SecretNames {
        self.secret_names()
    }
}

/// A lookup for one place in the spec.
pub struct Scope<'a> {
    vars: &'a Vars<'a>,
    step_env: Option<&'a Env>,
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
    key: SpecKey,
    missing: &mut Vec<MissingVar>,
) -> Value {
    // Syntax errors were reported when the spec was parsed; here a broken
    // string is taken literally so that resolution can go on.
    let pieces = interpolate::parse(&s.value)
        .unwrap_or_else(|_| vec![interpolate::Piece::Lit(s.value.clone())]);
    let mut found = Vec::new();
    let value = interpolate::substitute(&pieces, lookup, &mut found);
    let scalar = yaml::spanned(&src.text, s);
    for m in found {
        let rest = &s.value[m.offset..];
        let needle_len = rest[1..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '{'))
            .map_or(rest.len(), |i| i + 1);
        let span = yaml::offset_in_scalar(&src.text, scalar, &rest[..needle_len]);
        missing.push(MissingVar {
            location: src.position(span.offset()),
            name: m.name,
            key: key.clone(),
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
    let mut diag = Diag::new(Code::EnvMissing, message);
    for (i, m) in missing.iter().enumerate() {
        let label = match &m.key.default {
            Some(_) => format!(
                "{} is not set (the default of `{}`)",
                m.name,
                m.key.path.rsplit('.').next().unwrap_or(&m.key.path)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(secret: bool) -> EnvEntry {
        EnvEntry {
            value: Value::text("v"),
            secret,
        }
    }

    /// A name is secret where it is secret anywhere: listed, or a secret
    /// entry of the spec's `env:`, or a secret export of an earlier step.
    #[test]
    fn a_name_is_secret_where_any_source_says_so() {
        let process = ProcessEnv::new();
        let mut listed = SecretNames::default();
        listed.insert("LISTED");
        let mut vars = Vars::new(&process, listed);
        vars.spec_env.insert("IN_SPEC".into(), entry(true));
        vars.spec_env.insert("PLAIN".into(), entry(false));
        vars.exported.insert("EXPORTED".into(), entry(true));
        vars.exported.insert("PLAIN_EXPORT".into(), entry(false));
        for name in ["LISTED", "IN_SPEC", "EXPORTED"] {
            assert!(vars.is_secret(name), "{name}");
        }
        for name in ["PLAIN", "PLAIN_EXPORT", "UNKNOWN"] {
            assert!(!vars.is_secret(name), "{name}");
        }
    }
}
