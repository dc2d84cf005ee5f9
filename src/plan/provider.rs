//! Provider definitions: one YAML file each, built in (embedded from
//! `templates/` at build time) or from a directory that adds providers and
//! overrides built-ins by name.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use crate::base::diagnostic::{Code, Diag, Source, did_you_mean, finish};
use crate::base::source_file;
use crate::plan::min_version::MinVersion;
use crate::spec::discover::yaml_files;
use crate::spec::document::RESERVED_ENV;
use crate::spec::interpolate::is_var_name;
use crate::spec::yaml;

/// The built-in providers, embedded so the binary needs no files.
pub const BUILTIN: &[(&str, &str)] = &[
    ("aws-eks", include_str!("../../templates/aws-eks.yaml")),
    ("azure-aks", include_str!("../../templates/azure-aks.yaml")),
    ("gke", include_str!("../../templates/gke.yaml")),
    (
        "kubeconfig",
        include_str!("../../templates/kubeconfig.yaml"),
    ),
    ("run", include_str!("../../templates/run.yaml")),
    ("verify", include_str!("../../templates/verify.yaml")),
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Definition {
    /// One line for `stackhook providers`.
    pub summary: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub params: IndexMap<String, Param>,
    /// Groups of parameters of which exactly one must be given.
    #[serde(default)]
    pub exactly_one_of: Vec<Vec<String>>,
    /// CLIs the commands run; templates, an empty result is dropped.
    #[serde(default)]
    pub requires: Vec<String>,
    /// Where to get the CLIs, shown when one is missing.
    #[serde(default)]
    pub hint: Option<String>,
    /// Environment variables the provider reads besides its parameters.
    #[serde(default)]
    pub reads: Vec<String>,
    /// Templates; an empty result is dropped.
    #[serde(default)]
    pub warnings: Vec<String>,
    /// Variables for later steps and the caller: NAME -> value template.
    /// An export whose value renders empty is not exported.
    #[serde(default)]
    pub exports: IndexMap<String, Spanned<String>>,
    /// The environment of the step's commands: NAME -> value template
    /// (`tempfile()` and `tempdir()` give paths). How a secret reaches a
    /// command: a `{{ }}` of a command cannot hold one. An entry that
    /// renders empty is not set.
    #[serde(default)]
    pub env: IndexMap<String, Spanned<String>>,
    /// What the CLIs the commands run read specially in an argument value
    /// (az reads `@FILE` from the file): a parameter value that starts so
    /// is refused.
    #[serde(default)]
    pub cli_values: Vec<CliValues>,
    /// Templates naming the OIDC tokens (JWTs) the step uses, whose expiry
    /// `plan` and `run` check: `file:PATH`, `google-credentials:PATH`, or
    /// the token itself; an empty result is dropped.
    #[serde(default)]
    pub jwts: Vec<String>,
    /// Command templates, one command each; an empty result is dropped.
    pub commands: Vec<Spanned<String>>,
    /// A `with:` that shows the provider off, for docs and `init`.
    #[serde(default)]
    pub example: IndexMap<String, serde_json::Value>,
    /// Parameters the provider no longer has: NAME -> what replaces it,
    /// so that a spec using one gets a clear error.
    #[serde(default)]
    pub removed: IndexMap<String, String>,
    /// The CLI versions that rendered flags need, for `doctor`.
    #[serde(default)]
    pub min_versions: Vec<MinVersion>,
}

#[derive(Debug, Deserialize, Serialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct Param {
    #[serde(default, rename = "type")]
    pub kind: ParamKind,
    #[serde(default)]
    pub required: bool,
    /// Interpolated like spec values: `${ARM_CLIENT_ID}` reads the variable.
    #[serde(default)]
    pub default: Option<serde_json::Value>,
    /// The default applies only when this expression over the other
    /// parameters holds (e.g. `login == "spn"`).
    #[serde(default)]
    pub default_when: Option<String>,
    /// The parameter may be given only when this expression holds.
    #[serde(default)]
    pub when: Option<String>,
    /// Allowed values.
    #[serde(default)]
    pub values: Vec<String>,
    /// Variables interpolated here are secret whatever their name, and a
    /// literal value is refused (it would be a secret committed to git).
    #[serde(default)]
    pub secret: bool,
    /// For a `type: var` parameter: the variable may hold base64 that a
    /// command decodes; the decoded form is masked too.
    #[serde(default)]
    pub base64: bool,
    /// Whether the value may be an argument of the CLIs of `cli_values`
    /// (checked against their prefixes); false for a value that never
    /// reaches them (one stackhook writes, or one set in the environment).
    #[serde(default = "yes")]
    pub cli_value: bool,
    #[serde(default)]
    pub description: String,
}

fn yes() -> bool {
    true
}

/// One CLI's rule for argument values: the prefixes it reads specially
/// (a file to read, a URL to fetch) instead of taking the value as it is.
#[derive(Debug, Deserialize, Serialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct CliValues {
    pub cli: String,
    pub prefixes: Vec<String>,
    /// What the CLI does with such a value, for the error.
    pub why: String,
}

#[derive(Debug, Deserialize, Serialize, Clone, Copy, Default, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ParamKind {
    /// Text, interpolated.
    #[default]
    String,
    /// `true` / `false`.
    Bool,
    /// Command-line words: a list, or a string split like sh does.
    Args,
    /// Several command lines: a list of strings, each split like sh does
    /// (a string is one line). In templates, a list of word lists.
    Lines,
    /// The name of an environment variable, which must be set and is
    /// secret (its value is read by the command, not by the template).
    Var,
    /// Command templates (the `run` provider): rendered, not interpolated.
    #[serde(rename = "templates")]
    Commands,
}

impl ParamKind {
    pub fn describe(self) -> &'static str {
        match self {
            ParamKind::String => "string",
            ParamKind::Bool => "bool",
            ParamKind::Args => "words",
            ParamKind::Lines => "list of command lines",
            ParamKind::Var => "variable name",
            ParamKind::Commands => "list of command templates",
        }
    }
}

#[derive(Debug)]
pub struct Provider {
    pub name: String,
    pub origin: Origin,
    pub source: Source,
    pub def: Definition,
}

/// Where a provider comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    BuiltIn,
    File(PathBuf),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::BuiltIn => f.write_str("built-in"),
            Origin::File(path) => write!(f, "{}", path.display()),
        }
    }
}

/// A parameter value or default as plain text: strings without quotes.
pub fn json_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// What kind of YAML value a parameter was given, for type errors.
pub fn json_kind(v: &serde_json::Value) -> &'static str {
    use serde_json::Value as Json;
    match v {
        Json::Null => "null",
        Json::Bool(_) => "a bool",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "a list",
        Json::Object(_) => "a map",
    }
}

/// All providers a spec can use, by name.
#[derive(Debug, Default)]
pub struct Catalog {
    providers: IndexMap<String, Entry>,
}

/// A provider of a catalog: a built-in one is parsed when first used.
#[derive(Debug)]
enum Entry {
    BuiltIn(usize),
    File(Box<Provider>),
}

/// Built-in provider `i`, parsed once per process and only if used: a
/// plan needs one or two of them, and `validate` of many specs would
/// otherwise spend most of its time re-parsing them.
fn builtin(i: usize) -> &'static Provider {
    static PARSED: [OnceLock<Provider>; BUILTIN.len()] = [const { OnceLock::new() }; BUILTIN.len()];
    PARSED[i].get_or_init(|| {
        let (name, text) = BUILTIN[i];
        let source = Source::new(format!("templates/{name}.yaml (built-in)"), text);
        parse(name, Origin::BuiltIn, source).expect("built-in providers parse (tested)")
    })
}

impl Catalog {
    pub fn builtin() -> Self {
        let providers = BUILTIN
            .iter()
            .enumerate()
            .map(|(i, (name, _))| (name.to_string(), Entry::BuiltIn(i)))
            .collect();
        Catalog { providers }
    }

    /// Every provider, in order: built-ins, then added ones.
    pub fn all(&self) -> impl Iterator<Item = &Provider> {
        self.providers.values().map(Self::resolve)
    }

    fn resolve(entry: &Entry) -> &Provider {
        match entry {
            Entry::BuiltIn(i) => builtin(*i),
            Entry::File(p) => p,
        }
    }

    /// Adds every `*.yaml` provider of `dir`, replacing built-ins of the
    /// same name.
    pub fn add_dir(&mut self, dir: &Path) -> Result<(), Vec<Diag>> {
        if let Err(e) = std::fs::read_dir(dir) {
            return Err(vec![
                Diag::new(
                    Code::ProviderDir,
                    format!("cannot read templates directory {}: {e}", dir.display()),
                )
                .help("`templates:` is relative to the spec file; `--templates` to the current directory"),
            ]);
        }
        let mut diags = Vec::new();
        for path in yaml_files(dir) {
            let name = path
                .file_stem()
                .unwrap_or_default()
                .to_string_lossy()
                .to_string();
            let read = source_file::read(&path)
                .and_then(|b| String::from_utf8(b).map_err(|_| "not UTF-8 text".to_string()));
            let text = match read {
                Ok(t) => t,
                Err(e) => {
                    diags.push(Diag::new(
                        Code::ProviderRead,
                        format!("cannot read provider {}: {e}", path.display()),
                    ));
                    continue;
                }
            };
            let source = Source::new(path.display().to_string(), text);
            match parse(&name, Origin::File(path), source) {
                Ok(p) => {
                    self.providers.insert(name, Entry::File(Box::new(p)));
                }
                Err(d) => diags.extend(d),
            }
        }
        finish((), diags)
    }

    pub fn get(&self, name: &str) -> Option<&Provider> {
        self.providers.get(name).map(Self::resolve)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.providers.keys().map(String::as_str)
    }

    /// The provider, or a diagnostic that names the close ones.
    pub fn require(&self, name: &str) -> Result<&Provider, Diag> {
        self.get(name).ok_or_else(|| self.unknown(name))
    }

    /// A provider name that is not here, with the close ones.
    pub fn unknown(&self, name: &str) -> Diag {
        let all = self.names().collect::<Vec<_>>().join(", ");
        let help = match did_you_mean(name, self.names()) {
            Some(s) => format!("did you mean `{s}`? Providers: {all}"),
            None => format!("providers: {all} (add your own in a `templates:` directory)"),
        };
        Diag::new(Code::ProviderUnknown, format!("unknown provider `{name}`")).help(help)
    }
}

const PROVIDER_KEYS: &[&str] = &[
    "summary",
    "description",
    "params",
    "exactly_one_of",
    "requires",
    "hint",
    "reads",
    "warnings",
    "exports",
    "env",
    "cli_values",
    "cli",
    "prefixes",
    "why",
    "cli_value",
    "jwts",
    "commands",
    "example",
    "removed",
    "type",
    "required",
    "default",
    "default_when",
    "when",
    "values",
    "secret",
    "base64",
];

pub fn parse(name: &str, origin: Origin, source: Source) -> Result<Provider, Vec<Diag>> {
    let def: Definition = serde_saphyr::from_str(&source.text)
        .map_err(|e| vec![yaml::error(&source, &e, PROVIDER_KEYS)])?;
    let mut diags = Vec::new();
    let bad = |msg: String| {
        Diag::new(Code::ProviderInvalid, format!("provider `{name}`: {msg}")).help(format!(
            "fix {origin}; the format is described in docs/providers.md"
        ))
    };
    for group in &def.exactly_one_of {
        for p in group {
            if !def.params.contains_key(p) {
                diags.push(bad(format!(
                    "`exactly_one_of` names `{p}`, which is not a parameter"
                )));
            }
        }
    }
    for (pname, p) in &def.params {
        if !p.values.is_empty() && p.kind != ParamKind::String {
            diags.push(bad(format!(
                "parameter `{pname}` has `values` but is not a string"
            )));
        }
        if p.base64 && p.kind != ParamKind::Var {
            diags.push(bad(format!(
                "parameter `{pname}` has `base64` but is not a `var`"
            )));
        }
        if p.required && p.default.is_some() {
            diags.push(bad(format!(
                "parameter `{pname}` is required and has a default"
            )));
        }
    }
    for old in def.removed.keys() {
        if def.params.contains_key(old) {
            diags.push(bad(format!("`{old}` is both a parameter and removed")));
        }
    }
    // An export reaches every later command as an env entry does: neither
    // may set what the run sets itself (the kubeconfig it locked and
    // recorded, its private directory, its own path).
    for (what, vars) in [("export", &def.exports), ("env", &def.env)] {
        for (name, value) in vars {
            if !is_var_name(name) {
                diags.push(bad(format!("{what} `{name}` is not a valid variable name")));
            } else if RESERVED_ENV.contains(&name.as_str()) {
                let span = yaml::spanned(&source.text, value);
                diags.push(
                    bad(format!("{what} `{name}` is set by stackhook itself")).at(
                        &source,
                        span,
                        format!("sets `{name}`"),
                    ),
                );
            }
        }
    }
    for rule in &def.cli_values {
        if rule.prefixes.iter().any(String::is_empty) {
            diags.push(bad(format!(
                "`cli_values` of {} has an empty prefix",
                rule.cli
            )));
        }
    }
    if def.commands.is_empty() {
        diags.push(bad("it has no `commands`".into()));
    }
    finish(
        Provider {
            name: name.to_string(),
            origin,
            source,
            def,
        },
        diags,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_file_is_built_in() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| {
                e.unwrap()
                    .path()
                    .file_stem()
                    .unwrap()
                    .to_string_lossy()
                    .to_string()
            })
            .collect();
        files.sort();
        let built: Vec<&str> = BUILTIN.iter().map(|(n, _)| *n).collect();
        assert_eq!(files, built);
        let catalog = Catalog::builtin();
        assert_eq!(catalog.all().count(), BUILTIN.len());
    }
}
