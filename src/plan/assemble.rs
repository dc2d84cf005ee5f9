//! The plan: every command a run executes, in order, with the temp files
//! and exports of each step. It is what `plan` prints (as JSON it is
//! serialised as is) and exactly what `run` executes.

use std::path::Path;
use std::time::{Duration, SystemTime};

use indexmap::IndexMap;
use miette::SourceSpan;
use schemars::JsonSchema;
use serde::Serialize;

use crate::base::diagnostic::{Code, Diag, finish};
use crate::base::kubeconfig_path;
use crate::base::secrets::{SecretNames, is_secret_name};
use crate::base::source_file;
use crate::base::value::{Part, Value};
use crate::base::which::find_on_path;
use crate::plan::provider::{Catalog, Provider};
use crate::plan::render::{self, Renderer, TempFile};
use crate::plan::resolve::{Env, EnvEntry, MissingVar, ProcessEnv, Vars};
use crate::plan::secret_set;
use crate::plan::step_context::Ctx;
use crate::plan::token_expiry::{self, Finding, Source};
use crate::spec::document::{Spec, Step};

/// The plan JSON's format version (`version`), raised when a field changes
/// meaning or goes away; a new field is not a new version.
pub const PLAN_VERSION: u32 = 1;

/// What `plan --format json` prints. Its JSON Schema (`stackhook schema
/// --plan`) is generated from these types, for policies that read it.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(title = "stackhook plan")]
pub struct Plan {
    /// The plan JSON's format version: 1.
    pub version: u32,
    /// The spec file, as given.
    pub spec: String,
    /// The files of the spec's `extends` chain, the spec first, when it
    /// extends a base.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub extends: Vec<String>,
    /// The kubeconfig a run writes (`$KUBECONFIG` in a plan made without the environment).
    pub kubeconfig: String,
    /// The spec's `env:`, exported to every step.
    #[schemars(with = "IndexMap<String, String>")]
    pub env: Env,
    /// The steps, in the order they run.
    pub steps: Vec<PlanStep>,
    /// Each CLI the steps need, and whether it is on PATH.
    pub tools: Vec<Tool>,
    /// Variables the spec reads that are not set (`plan --strict` fails on them).
    pub missing_env: Vec<MissingVar>,
    /// What a run would warn about.
    pub warnings: Vec<String>,
    /// OIDC tokens that have expired: a run stops in preflight.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub expired_tokens: Vec<String>,
    /// The spec's `env:` entries that `--env-file` exports too.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub export: Vec<String>,
    /// Variables whose values the runner masks in output, decided once.
    #[serde(skip)]
    pub secrets: SecretNames,
}

/// One step: what it runs, in order.
#[derive(Debug, Serialize, JsonSchema)]
pub struct PlanStep {
    /// The step's `name:`, or its provider's name.
    pub name: String,
    /// The provider the step uses.
    pub provider: String,
    /// The step's parameters with their bound values, for policies;
    /// secrets and unset variables as `${NAME}`.
    pub parameters: IndexMap<String, serde_json::Value>,
    /// The `sh` commands the step runs, byte for byte, in order.
    pub commands: Vec<String>,
    /// Files written for the step before its commands run.
    pub tempfiles: Vec<TempFile>,
    /// Variables the step exports to later steps.
    #[schemars(with = "IndexMap<String, String>")]
    pub exports: IndexMap<String, Value>,
    /// The step's own `env:`.
    #[schemars(with = "IndexMap<String, String>")]
    pub env: Env,
    /// The CLIs the step's commands run.
    pub requires: Vec<String>,
    /// The step's timeout, e.g. `10m`.
    #[serde(serialize_with = "as_duration_text")]
    #[schemars(with = "String")]
    pub timeout: Duration,
    /// How many times a failed step is run again.
    pub retries: u32,
    /// The file that defines the step: the spec, or a base it extends.
    pub source: String,
    /// Keys of the step set by another file than `source` (a spec over
    /// its base): `with.NAME`, `env.NAME`, `timeout`, `retries`.
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub overrides: IndexMap<String, String>,
    /// Where the step is in the spec, for run-time errors.
    #[serde(skip)]
    pub span: SourceSpan,
    /// The OIDC tokens the step uses, for the expiry check.
    #[serde(skip)]
    pub jwts: Vec<Value>,
    /// What the plan says about how the step's parameters were bound
    /// (`region` is empty, so it counts as not set).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

fn as_duration_text<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&humantime::format_duration(*d))
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Tool {
    pub name: String,
    pub found: bool,
    /// Where to get it, from the provider, when it is missing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

/// Whether the plan is for running (the real environment) or for checking
/// and documenting (no environment at all: every variable is unset, which
/// is not an error, and the kubeconfig is `$KUBECONFIG`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Live,
    Static,
}

pub struct Options<'a> {
    /// `--kubeconfig`.
    pub kubeconfig: Option<&'a Path>,
    /// `--templates`: a directory of providers.
    pub provider_dir: Option<&'a Path>,
    pub mode: Mode,
}

/// The providers a spec can use: built-ins, then its `templates:`
/// directory, then `--templates`.
pub fn catalog(spec: &Spec, flag: Option<&Path>) -> Result<Catalog, Vec<Diag>> {
    let mut catalog = Catalog::builtin();
    if let Some(dir) = &spec.provider_dir {
        let path = source_file::named_by(spec.path_of(dir), &dir.value).map_err(|why| {
            vec![
                Diag::new(Code::SpecPath, format!("`templates: {}` {why}", dir.value))
                    .at(spec.source(), spec.span(dir), "out of the repository")
                    .help("name a directory of the repository, relative to the spec; pass one from elsewhere with `--templates`"),
            ]
        })?;
        catalog.add_dir(&path).map_err(|mut d| {
            if let Some(first) = d.first_mut().filter(|d| !d.has_source()) {
                let located = Diag::new(first.code, first.message.clone())
                    .at(spec.source(), spec.span(dir), "this directory")
                    .help_opt(first.help.take());
                *first = located;
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
pub fn build(spec: &Spec, process: &ProcessEnv, opts: &Options) -> Result<Plan, Vec<Diag>> {
    let catalog = catalog(spec, opts.provider_dir)?;
    let mut vars = Vars::new(process, secret_set::decide(spec, &catalog));
    vars.env_known = opts.mode == Mode::Live;
    let mut missing = Vec::new();
    let mut diags = Vec::new();
    vars.load_spec(spec, &mut missing);
    let kubeconfig = match opts.mode {
        Mode::Live => {
            let path = vars
                .kubeconfig(spec, opts.kubeconfig, &mut missing)
                .map_err(|d| vec![d])?;
            kubeconfig_path::utf8(&path, "the kubeconfig path")
                .map_err(|d| vec![d])?
                .to_string()
        }
        Mode::Static => "$KUBECONFIG".to_string(),
    };
    let mut warnings = literal_secret_warnings(&vars.spec_env);

    let renderer = Renderer::default();
    let mut steps = Vec::new();
    for (index, step) in spec.steps.value.iter().enumerate() {
        let name = &step.value.provider;
        let Some(provider) = catalog.get(&name.value) else {
            let src = spec.source();
            let diag = catalog.unknown(&name.value);
            diags.push(diag.at(src, spec.span(name), "no such provider"));
            continue;
        };
        match plan_step(&renderer, spec, index, provider, &mut vars, &mut missing) {
            Ok((s, mut w)) => {
                warnings.append(&mut w);
                steps.push(s);
            }
            Err(d) => diags.extend(d),
        }
    }
    let mut expired_tokens = Vec::new();
    if opts.mode == Mode::Live {
        let lookup = |n: &str| process.get(n).cloned();
        for step in &steps {
            for jwt in &step.jwts {
                let Some(source) = Source::parse(jwt.clone(), &lookup) else {
                    continue;
                };
                match token_expiry::check(
                    &step.name,
                    &source,
                    step.timeout,
                    &lookup,
                    SystemTime::now(),
                ) {
                    Some(Finding::Expired(m)) => expired_tokens.push(m),
                    Some(Finding::Short(m) | Finding::Unreadable(m)) => warnings.push(m),
                    None => {}
                }
            }
        }
    }
    let tools = match opts.mode {
        Mode::Live => tools(&catalog, &steps, vars.process("PATH").unwrap_or_default()),
        Mode::Static => Vec::new(),
    };
    // A provider's `env:` entry built from a secret is masked like a
    // step's own.
    let env = vars.spec_env.clone();
    let mut secrets = vars.into_secrets();
    for (name, entry) in steps.iter().flat_map(|s| &s.env) {
        if entry.secret {
            secrets.insert(name);
        }
    }
    let plan = Plan {
        version: PLAN_VERSION,
        spec: spec.file.path.display().to_string(),
        extends: spec
            .file
            .chain
            .iter()
            .map(|(_, p)| p.display().to_string())
            .collect(),
        kubeconfig,
        env,
        steps,
        tools,
        missing_env: missing,
        warnings,
        expired_tokens,
        export: spec.export.iter().map(|n| n.value.clone()).collect(),
        secrets,
    };
    finish(plan, diags)
}

/// Renders one step; its exports become visible to later steps.
fn plan_step(
    renderer: &Renderer,
    spec: &Spec,
    index: usize,
    provider: &Provider,
    vars: &mut Vars,
    missing: &mut Vec<MissingVar>,
) -> Result<(PlanStep, Vec<String>), Vec<Diag>> {
    let step = &spec.steps.value[index].value;
    let step_env = vars.step_env(spec, index, missing);
    let cx = Ctx {
        spec,
        index,
        provider,
        vars,
        step_env: &step_env,
    };
    let mut notes = Vec::new();
    let rendered = render::step(renderer, &cx, missing, &mut notes)?;
    let env = with_provider_env(spec, index, provider, vars, step_env, &rendered)?;
    for (name, value) in &rendered.exports {
        let entry = EnvEntry {
            secret: value.has_secret() || vars.is_secret(name),
            value: value.clone(),
        };
        vars.exported.insert(name.clone(), entry);
    }
    let plan_step = PlanStep {
        name: step.name().to_string(),
        provider: provider.name.clone(),
        parameters: rendered.parameters,
        commands: rendered.commands,
        tempfiles: rendered.tempfiles,
        exports: rendered.exports,
        env,
        requires: rendered.requires,
        timeout: step.timeout(),
        retries: step.retries(),
        source: spec.file_of(&step.provider).to_string(),
        overrides: overrides(spec, step),
        span: spec.span(&step.provider),
        jwts: rendered.jwts,
        notes,
    };
    Ok((plan_step, rendered.warnings))
}

/// The keys of a step that come from another file than the step itself.
fn overrides(spec: &Spec, step: &Step) -> IndexMap<String, String> {
    let mut out = IndexMap::new();
    if !spec.extends() {
        return out;
    }
    let home = spec.file_of(&step.provider);
    let mut note = |key: String, file: &str| {
        if file != home {
            out.insert(key, file.to_string());
        }
    };
    for k in step.with.iter().flat_map(|w| w.value.keys()) {
        note(format!("with.{}", k.value), spec.file_of(k));
    }
    for k in step.env.keys() {
        note(format!("env.{}", k.value), spec.file_of(k));
    }
    if let Some(t) = &step.timeout {
        note("timeout".into(), spec.file_of(t));
    }
    if let Some(r) = &step.retries {
        note("retries".into(), spec.file_of(r));
    }
    out
}

/// The step's environment: its own `env:`, then the provider's. A value
/// of the provider's that reads an entry of the step's own is given that
/// entry's value (the runner resolves a step's entries against the run's
/// environment, not against each other). A name set by both is refused.
fn with_provider_env(
    spec: &Spec,
    index: usize,
    provider: &Provider,
    vars: &Vars,
    step_env: Env,
    rendered: &render::Rendered,
) -> Result<Env, Vec<Diag>> {
    let mut env = step_env.clone();
    let mut diags = Vec::new();
    for (name, value) in &rendered.env {
        let own = &spec.steps.value[index].value.env;
        if let Some((key, _)) = own.iter().find(|(k, _)| k.value == *name) {
            diags.push(
                Diag::new(
                    Code::SpecEnvConflict,
                    format!(
                        "`{name}` is set by provider `{}` for its commands",
                        provider.name
                    ),
                )
                .at(spec.source(), spec.span(key), "set here too")
                .help(format!(
                    "remove `{name}` from the step's `env:` (`stackhook providers {}` says what the provider sets)",
                    provider.name
                )),
            );
            continue;
        }
        let mut resolved = Value::default();
        let mut secret = vars.is_secret(name);
        for part in &value.0 {
            match part {
                Part::Ref { name: r, .. } if step_env.contains_key(r) => {
                    secret |= step_env[r].secret;
                    resolved.extend(step_env[r].value.clone());
                }
                other => resolved.push(other.clone()),
            }
        }
        let secret = secret || resolved.has_secret();
        env.insert(
            name.clone(),
            EnvEntry {
                value: resolved,
                secret,
            },
        );
    }
    finish(env, diags)
}

fn literal_secret_warnings(spec_env: &Env) -> Vec<String> {
    spec_env
        .iter()
        .filter(|(name, entry)| {
            is_secret_name(name) && entry.value.refs().next().is_none() && !entry.value.is_empty()
        })
        .map(|(name, _)| format!(
            "env `{name}` holds a literal secret committed in the spec: reference a variable instead (`{name}: ${{{name}}}` set in the stack's environment)"
        ))
        .collect()
}

/// Each CLI the steps need, once, and whether it is on PATH.
fn tools(catalog: &Catalog, steps: &[PlanStep], path_var: &str) -> Vec<Tool> {
    let mut tools: Vec<Tool> = Vec::new();
    for step in steps {
        // Each planned step's provider was found when it was rendered.
        let hint = catalog.get(&step.provider).and_then(|p| p.def.hint.clone());
        for name in &step.requires {
            if tools.iter().any(|t| t.name == *name) {
                continue;
            }
            let found = find_on_path(name, path_var).is_some();
            tools.push(Tool {
                name: name.clone(),
                found,
                hint: (!found).then(|| hint.clone()).flatten(),
            });
        }
    }
    tools
}
