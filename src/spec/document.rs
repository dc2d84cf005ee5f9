//! The spec file (version 1): its types, with source spans, parsing, and the
//! checks that need neither providers nor an environment.

use std::path::{Path, PathBuf};
use std::time::Duration;

use indexmap::IndexMap;
use miette::SourceSpan;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::base::diagnostic::{Code, Diag, Source, finish};
use crate::base::paint::hidden;
use crate::base::source_file;
use crate::spec::interpolate;
use crate::spec::yaml::{self, spanned};

pub type Map<V> = IndexMap<Spanned<String>, Spanned<V>>;

/// A stackhook spec: the provider steps that log kubectl in to a cluster.
/// The JSON Schema (`stackhook schema`) is generated from these types.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "stackhook spec")]
pub struct Spec {
    /// The spec format version: 1.
    #[schemars(with = "Version")]
    pub version: Spanned<u32>,
    /// The kubeconfig to write; relative to the spec file. Unless --kubeconfig is given, this is the path; without either, the first entry of $KUBECONFIG, else ~/.kube/config.
    #[schemars(with = "Option<String>")]
    pub kubeconfig: Option<Spanned<String>>,
    /// Variables exported to every step. Values may use ${VAR}, ${VAR:-default}, ${VAR-default} and $$.
    #[serde(default)]
    #[schemars(with = "std::collections::BTreeMap<EnvName, String>")]
    pub env: Map<String>,
    /// Further variable names to treat as secret (names containing SECRET, TOKEN, PASSWORD, ... already are).
    #[serde(default)]
    #[schemars(with = "Vec<EnvName>")]
    pub secrets: Vec<Spanned<String>>,
    /// Names of `env:` entries that `run --env-file` exports to the caller's shell too.
    #[serde(default)]
    #[schemars(with = "Vec<EnvName>")]
    pub export: Vec<Spanned<String>>,
    /// A directory of custom provider files, relative to the spec file.
    #[serde(rename = "templates")]
    #[schemars(with = "Option<String>")]
    pub provider_dir: Option<Spanned<String>>,
    /// The steps, run in order.
    #[schemars(with = "Vec<Step>", length(min = 1))]
    pub steps: Spanned<Vec<Spanned<Step>>>,
    /// Filled in after parsing.
    #[serde(skip)]
    pub file: SpecFile,
}

/// One provider step.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// A built-in provider (aws-eks, azure-aks, gke, kubeconfig, run, verify) or one from `templates:`.
    #[schemars(with = "String")]
    pub provider: Spanned<String>,
    /// The step's name in logs; default: the provider name. Unique.
    #[schemars(with = "Option<String>")]
    pub name: Option<Spanned<String>>,
    /// The provider's parameters (`stackhook providers NAME`).
    #[serde(default)]
    #[schemars(with = "Option<std::collections::BTreeMap<String, serde_json::Value>>")]
    pub with: Option<Spanned<Map<serde_json::Value>>>,
    /// Variables for this step only.
    #[serde(default)]
    #[schemars(with = "std::collections::BTreeMap<EnvName, String>")]
    pub env: Map<String>,
    /// How long the step may take (e.g. 30s, 5m, 1h); default 10m.
    #[schemars(with = "Option<String>")]
    pub timeout: Option<Spanned<String>>,
    /// How many times to re-run the step after a failure (backoff 1s, 2s, 4s ... 30s); at most 100.
    #[schemars(with = "Option<u32>", range(max = MAX_RETRIES))]
    pub retries: Option<Spanned<u32>>,
}

/// The spec format version: 1.
#[derive(JsonSchema)]
#[schemars(extend("const" = 1))]
#[allow(dead_code)]
struct Version(u32);

/// An environment variable name.
#[derive(JsonSchema)]
#[schemars(extend("pattern" = "^[A-Za-z_][A-Za-z0-9_]*$"))]
#[allow(dead_code)]
struct EnvName(String);

#[derive(Debug, Default)]
pub struct SpecFile {
    pub path: PathBuf,
    pub source: Option<Source>,
}

pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);
/// No hook waits a day for one step.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(24 * 3600);

/// Past a hundred retries (about 50 minutes of backoff alone) a step is
/// not flaky but broken; the bound also keeps `retries + 1` attempts far
/// from overflowing.
pub const MAX_RETRIES: u32 = 100;

const TF_KUBECONFIG: &str = "KUBE_CONFIG_PATH";
/// What stackhook sets itself (Terraform's KUBE_CONFIG_PATH: in the env file); a spec may not.
pub const RESERVED_ENV: [&str; 4] = ["KUBECONFIG", TF_KUBECONFIG, "STACKHOOK_TMPDIR", "STACKHOOK"];

impl Spec {
    pub fn source(&self) -> &Source {
        self.file.source.as_ref().expect("set by parse")
    }

    /// The directory relative paths in the spec are resolved against.
    pub fn dir(&self) -> &Path {
        self.file.path.parent().unwrap_or(Path::new("."))
    }

    pub fn span<T>(&self, node: &Spanned<T>) -> SourceSpan {
        spanned(&self.source().text, node)
    }
}

impl Step {
    pub fn name(&self) -> &str {
        self.name
            .as_ref()
            .map_or(self.provider.value.as_str(), |n| n.value.as_str())
    }

    /// The step's timeout; a spec that parsed has a valid one.
    pub fn timeout(&self) -> Duration {
        self.timeout
            .as_ref()
            .and_then(|t| humantime::parse_duration(&t.value).ok())
            .unwrap_or(DEFAULT_TIMEOUT)
    }

    pub fn retries(&self) -> u32 {
        self.retries.as_ref().map_or(0, |r| r.value)
    }
}

/// Reads and parses a spec, then checks what can be checked without
/// providers or an environment.
pub fn load(path: &Path) -> Result<Spec, Vec<Diag>> {
    let bytes = source_file::read(path).map_err(|e| {
        vec![
            Diag::new(
                Code::SpecRead,
                format!("cannot read spec {}: {e}", path.display()),
            )
            .help("pass the path of a spec file, e.g. `stackhook plan specs/gke-region.yaml`"),
        ]
    })?;
    let text = String::from_utf8(bytes).map_err(|e| vec![not_utf8(path, e)])?;
    parse(path, &text)
}

/// Points at the first byte that is not UTF-8, showing the text before it.
fn not_utf8(path: &Path, e: std::string::FromUtf8Error) -> Diag {
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

pub fn parse(path: &Path, text: &str) -> Result<Spec, Vec<Diag>> {
    let source = Source::new(path.display().to_string(), text);
    let mut spec: Spec =
        serde_saphyr::from_str(text).map_err(|e| vec![yaml::error(&source, &e, SPEC_KEYS)])?;
    spec.file = SpecFile {
        path: path.to_path_buf(),
        source: Some(source),
    };
    let mut diags = Vec::new();
    check_nul(&spec, &mut diags);
    check_top(&spec, &mut diags);
    check_steps(&spec, &mut diags);
    check_interpolation(&spec, &mut diags);
    finish(spec, diags)
}

/// Every key the spec knows, for "did you mean" on a typo.
const SPEC_KEYS: &[&str] = &[
    "version",
    "kubeconfig",
    "env",
    "secrets",
    "export",
    "templates",
    "steps",
    "provider",
    "name",
    "with",
    "timeout",
    "retries",
];

fn check_top(spec: &Spec, diags: &mut Vec<Diag>) {
    let src = spec.source();
    if spec.version.value != 1 {
        diags.push(
            Diag::new(
                Code::SpecVersion,
                format!("unsupported spec version {}", spec.version.value),
            )
            .at(src, spec.span(&spec.version), "must be 1")
            .help("this stackhook reads `version: 1` specs"),
        );
    }
    check_env_names(src, &spec.env, diags);
    for name in &spec.secrets {
        if !interpolate::is_var_name(&name.value) {
            diags.push(bad_name(src, name, "secrets"));
        }
    }
    for name in &spec.export {
        if !spec.env.keys().any(|k| k.value == name.value) {
            diags.push(
                Diag::new(
                    Code::SpecExport,
                    format!(
                        "`export` names `{}`, which is not an `env:` entry",
                        name.value
                    ),
                )
                .at(src, spec.span(name), "not in env")
                .help("`export` lists entries of the spec's `env:` to write to the env file"),
            );
        }
    }
    if spec.steps.value.is_empty() {
        diags.push(
            Diag::new(Code::SpecNoSteps, "the spec has no steps")
                .at(src, spec.span(&spec.steps), "empty")
                .help("add at least one step, e.g. `- provider: verify`; `stackhook providers` lists them"),
        );
    }
}

/// A NUL byte cannot reach a command (argv and environment are C strings):
/// refuse it here, where it can be pointed at, rather than at run time.
fn check_nul(spec: &Spec, diags: &mut Vec<Diag>) {
    let mut strings: Vec<&Spanned<String>> = Vec::new();
    strings.extend(spec.kubeconfig.iter().chain(&spec.provider_dir));
    strings.extend(spec.secrets.iter().chain(&spec.export));
    let env_strings = |env: &'_ Map<String>| -> Vec<(SourceSpan, bool)> {
        env.iter()
            .flat_map(|(k, v)| {
                [
                    (spec.span(k), k.value.contains('\0')),
                    (spec.span(v), v.value.contains('\0')),
                ]
            })
            .collect()
    };
    let mut spans: Vec<(SourceSpan, bool)> = env_strings(&spec.env);
    for step in &spec.steps.value {
        let step = &step.value;
        strings.push(&step.provider);
        strings.extend(step.name.iter().chain(&step.timeout));
        spans.extend(env_strings(&step.env));
        for (k, v) in step.with.iter().flat_map(|w| w.value.iter()) {
            let mut nested = Vec::new();
            collect_strings(&v.value, &mut nested);
            spans.push((spec.span(k), k.value.contains('\0')));
            spans.push((spec.span(v), nested.iter().any(|s| s.contains('\0'))));
        }
    }
    spans.extend(
        strings
            .iter()
            .map(|s| (spec.span(s), s.value.contains('\0'))),
    );
    for (span, _) in spans.into_iter().filter(|(_, nul)| *nul) {
        diags.push(
            Diag::new(
                Code::SpecNul,
                "a value holds a NUL byte, which no command can receive",
            )
            .at(spec.source(), span, "NUL byte in here")
            .help("remove the `\\0` (or `\\x00`, `\\u0000`) escape"),
        );
    }
}

fn check_steps(spec: &Spec, diags: &mut Vec<Diag>) {
    let src = spec.source();
    let mut seen: IndexMap<&str, SourceSpan> = IndexMap::new();
    for step in &spec.steps.value {
        let step = &step.value;
        let step_span = step
            .name
            .as_ref()
            .map_or_else(|| spec.span(&step.provider), |n| spec.span(n));
        let name = step.name();
        if let Some(first) = seen.get(name) {
            diags.push(
                Diag::new(
                    Code::SpecDuplicateStep,
                    format!("two steps are named `{name}`"),
                )
                .at(src, step_span, "second step with this name")
                .and(*first, "first one here")
                .help("step names must be unique: give one of them `name: <something else>`"),
            );
        } else {
            seen.insert(name, step_span);
        }
        // A name prefixes each line of the step's output: a separator or a
        // bidi control would break or reorder the line it is shown in.
        if let Some(n) = &step.name
            && (n.value.is_empty() || n.value.chars().any(|c| c.is_control() || hidden(c)))
        {
            diags.push(
                Diag::new(
                    Code::SpecStepName,
                    "a step name must be a non-empty single line of visible characters",
                )
                .at(src, spec.span(n), "invalid name")
                .help("remove control, bidi and zero-width characters and line separators from the name"),
            );
        }
        if let Some(t) = &step.timeout {
            diags.extend(check_timeout(spec, t));
        }
        if let Some(r) = step.retries.as_ref().filter(|r| r.value > MAX_RETRIES) {
            diags.push(
                Diag::new(
                    Code::SpecRetries,
                    format!("`retries: {}` is more than a hook can wait for", r.value),
                )
                .at(src, spec.span(r), "too many")
                .help(format!("a step may be retried at most {MAX_RETRIES} times")),
            );
        }
        check_env_names(src, &step.env, diags);
    }
}

fn check_timeout(spec: &Spec, t: &Spanned<String>) -> Option<Diag> {
    let diag = match humantime::parse_duration(&t.value) {
        Ok(d) if d.is_zero() => {
            Diag::new(Code::SpecTimeout, "a timeout of zero would fail every run")
                .at(spec.source(), spec.span(t), "zero")
                .help("use a duration such as `30s`, `5m` or `1h`")
        }
        Ok(d) if d > MAX_TIMEOUT => Diag::new(
            Code::SpecTimeout,
            format!("a timeout of `{}` is longer than a hook can wait", t.value),
        )
        .at(spec.source(), spec.span(t), "too long")
        .help("a step may take at most 24h"),
        Ok(_) => return None,
        Err(e) => Diag::new(
            Code::SpecTimeout,
            format!("invalid timeout `{}`: {e}", t.value),
        )
        .at(spec.source(), spec.span(t), "not a duration")
        .help("use a duration such as `30s`, `5m` or `1h 30m`"),
    };
    Some(diag)
}

/// Interpolation syntax of every string of the spec itself, so one run
/// shows every typo. (`with:` values are checked where their parameter's
/// kind is known: command templates are shell text, not interpolated.)
fn check_interpolation(spec: &Spec, diags: &mut Vec<Diag>) {
    let src = spec.source();
    let mut strings: Vec<&Spanned<String>> = Vec::new();
    strings.extend(spec.kubeconfig.as_ref());
    strings.extend(spec.env.values());
    for step in &spec.steps.value {
        strings.extend(step.value.env.values());
    }
    for s in strings {
        if let Err(e) = interpolate::parse(&s.value) {
            diags.push(interpolation_error(src, s, &e));
        }
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

fn interpolation_error(src: &Source, s: &Spanned<String>, e: &interpolate::SyntaxError) -> Diag {
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

fn check_env_names(src: &Source, env: &Map<String>, diags: &mut Vec<Diag>) {
    for key in env.keys() {
        if !interpolate::is_var_name(&key.value) {
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

fn bad_name(src: &Source, name: &Spanned<String>, what: &str) -> Diag {
    Diag::new(
        Code::SpecEnvName,
        format!("`{}` is not a valid variable name", name.value),
    )
    .at(src, spanned(&src.text, name), "invalid name")
    .help(format!(
        "names in `{what}` use letters, digits and `_`, and do not start with a digit"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_full_spec() {
        let text = "version: 1\nkubeconfig: /tmp/k\nenv:\n  A: b\nsecrets: [X]\nsteps:\n  - provider: gke\n    name: one\n    with:\n      cluster: c\n    timeout: 5m\n    retries: 2\n";
        let spec = parse(Path::new("s.yaml"), text).unwrap();
        assert_eq!(spec.steps.value.len(), 1);
        let step = &spec.steps.value[0].value;
        assert_eq!(step.name(), "one");
        assert_eq!(step.timeout(), Duration::from_secs(300));
        assert_eq!(step.retries(), 2);
        let span = spanned(
            text,
            step.with.as_ref().unwrap().value.values().next().unwrap(),
        );
        assert_eq!(&text[span.offset()..span.offset() + span.len()], "c");
    }

    #[test]
    fn retries_are_bounded() {
        let spec = |n: u64| format!("version: 1\nsteps:\n  - provider: verify\n    retries: {n}\n");
        assert!(parse(Path::new("s.yaml"), &spec(MAX_RETRIES.into())).is_ok());
        for n in [u64::from(MAX_RETRIES) + 1, u64::from(u32::MAX)] {
            let err = parse(Path::new("s.yaml"), &spec(n)).unwrap_err();
            assert_eq!(err[0].code, Code::SpecRetries, "{n}");
        }
    }

    #[test]
    fn every_reserved_name_is_refused_in_env() {
        for name in RESERVED_ENV {
            let text = format!("version: 1\nenv:\n  {name}: x\nsteps:\n  - provider: verify\n");
            let err = parse(Path::new("s.yaml"), &text).unwrap_err();
            assert_eq!(err[0].code, Code::SpecReservedEnv, "{name}");
        }
    }
}
