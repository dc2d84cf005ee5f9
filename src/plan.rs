//! The plan: every command a run executes, in order, with the temp files
//! and exports of each step. It is what `plan` prints (as JSON it is
//! serialised as is) and exactly what `run` executes.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use miette::SourceSpan;
use serde::Serialize;

use crate::diagnostic::Diag;
use crate::interpolate::{Part, Value};
use crate::kubeconfig;
use crate::provider::Catalog;
use crate::render;
use crate::resolve::{EnvEntry, MissingVar, Vars};
use crate::spec::{self, Spec};

#[derive(Debug, Serialize)]
pub struct Plan {
    pub spec: String,
    pub kubeconfig: String,
    /// The spec's `env:`, exported to every step.
    pub env: IndexMap<String, EnvValue>,
    pub steps: Vec<PlanStep>,
    /// Each CLI the steps need, and whether it is on PATH.
    pub tools: Vec<Tool>,
    pub missing_env: Vec<MissingVar>,
    pub warnings: Vec<String>,
    /// Variables whose values the runner masks in output.
    #[serde(skip)]
    pub secrets: BTreeSet<String>,
}

#[derive(Debug, Serialize)]
pub struct PlanStep {
    pub name: String,
    pub provider: String,
    pub commands: Vec<String>,
    pub tempfiles: Vec<TempFile>,
    pub exports: IndexMap<String, Value>,
    /// The step's own `env:`.
    pub env: IndexMap<String, EnvValue>,
    pub requires: Vec<String>,
    pub timeout: String,
    pub retries: u32,
    #[serde(skip)]
    pub warnings: Vec<String>,
    /// Where the step is in the spec, for run-time errors.
    #[serde(skip)]
    pub span: SourceSpan,
}

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct TempFile {
    pub name: String,
    /// Under the run's private directory.
    pub path: String,
    /// What the runner writes (mode 0600) before the step; none when a
    /// command creates the file.
    pub content: Option<Value>,
    /// 1-based index of the last command that uses the file: the runner
    /// deletes it right after that command, whatever its outcome.
    pub remove_after: Option<usize>,
}

#[derive(Clone, Debug)]
pub struct EnvValue {
    pub value: Value,
    pub secret: bool,
}

impl From<EnvEntry> for EnvValue {
    fn from(e: EnvEntry) -> Self {
        EnvValue {
            value: e.value,
            secret: e.secret,
        }
    }
}

impl EnvValue {
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

impl Serialize for EnvValue {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.display())
    }
}

#[derive(Debug, Serialize)]
pub struct Tool {
    pub name: String,
    pub found: bool,
    /// Where to get it, from the provider, when it is missing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

pub struct Options<'a> {
    pub kubeconfig: Option<&'a Path>,
    pub templates: Option<&'a Path>,
}

/// The providers a spec can use: built-ins, then its `templates:`
/// directory, then `--templates`.
pub fn catalog(spec: &Spec, flag: Option<&Path>) -> Result<Catalog, Vec<Diag>> {
    let mut catalog = Catalog::builtin();
    if let Some(dir) = &spec.templates {
        let path = spec.dir().join(&dir.value);
        catalog.add_dir(&path).map_err(|mut d| {
            if let Some(first) = d.first_mut().filter(|d| !d.has_source()) {
                let src = spec.source();
                *first = Diag::new(first.code, first.message.clone())
                    .at(src, spec::spanned(&src.text, dir), "this directory")
                    .help_opt(first.help.take());
            }
            d
        })?;
    }
    if let Some(dir) = flag {
        catalog.add_dir(dir)?;
    }
    Ok(catalog)
}

/// Renders every step. Errors of all steps are reported together.
pub fn build(spec: &Spec, vars: &mut Vars, opts: &Options) -> Result<Plan, Vec<Diag>> {
    let catalog = catalog(spec, opts.templates)?;
    let src = spec.source();
    let mut missing = Vec::new();
    let mut diags = Vec::new();
    let mut warnings = Vec::new();
    vars.load_spec(spec, &mut missing);

    let kubeconfig = kubeconfig::resolve_path(spec, opts.kubeconfig, vars, &mut missing)?;

    for (name, entry) in &vars.spec_env {
        if crate::secrets::is_secret_name(name)
            && entry.value.refs().next().is_none()
            && !entry.value.is_empty()
        {
            warnings.push(format!(
                "env `{name}` holds a literal secret committed in the spec: reference a variable instead (`{name}: ${{{name}}}` set in the stack's environment)"
            ));
        }
    }

    let mut steps = Vec::new();
    for (index, step) in spec.steps.value.iter().enumerate() {
        let name = &step.value.provider;
        let Some(provider) = catalog.get(&name.value) else {
            diags.push(
                Diag::new(
                    "stackhook::spec::unknown_provider",
                    format!("unknown provider `{}`", name.value),
                )
                .at(src, spec::spanned(&src.text, name), "no such provider")
                .help(catalog.suggest(&name.value)),
            );
            continue;
        };
        match render::render_step(spec, index, provider, vars, &mut missing) {
            Ok(mut s) => {
                warnings.append(&mut s.warnings);
                for (name, value) in &s.exports {
                    let entry = EnvEntry {
                        secret: value.has_secret() || crate::secrets::is_secret_name(name),
                        value: value.clone(),
                    };
                    vars.exported.insert(name.clone(), entry);
                }
                steps.push(s);
            }
            Err(d) => diags.extend(d),
        }
    }
    if !diags.is_empty() {
        return Err(diags);
    }

    let mut tools: Vec<Tool> = Vec::new();
    let path_var = vars.process("PATH").unwrap_or_default().to_string();
    for (step, spec_step) in steps.iter().zip(&spec.steps.value) {
        let provider = catalog
            .get(&spec_step.value.provider.value)
            .expect("rendered above");
        for name in &step.requires {
            if tools.iter().any(|t| t.name == *name) {
                continue;
            }
            let found = find_on_path(name, &path_var).is_some();
            tools.push(Tool {
                name: name.clone(),
                found,
                hint: (!found).then(|| provider.def.hint.clone()).flatten(),
            });
        }
    }

    Ok(Plan {
        spec: spec.file.path.display().to_string(),
        kubeconfig: kubeconfig.display().to_string(),
        env: vars
            .spec_env
            .iter()
            .map(|(k, e)| (k.clone(), e.clone().into()))
            .collect(),
        steps,
        tools,
        missing_env: missing,
        warnings,
        secrets: vars.secret_names(),
    })
}

/// The executable `name` resolves to on `path_var`, as `sh` would find it.
pub fn find_on_path(name: &str, path_var: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    if name.contains('/') {
        return Some(PathBuf::from(name)).filter(|p| p.is_file());
    }
    path_var
        .split(':')
        .filter(|d| !d.is_empty())
        .map(|d| Path::new(d).join(name))
        .find(|p| {
            p.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}
