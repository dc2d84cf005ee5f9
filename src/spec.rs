//! The spec file (version 1): its types, with source spans, and parsing.
//! Parsing knows YAML and the spec's own rules, not providers.

use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use miette::SourceSpan;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_saphyr::{Location, Spanned};

use crate::diagnostic::{Diag, Source, did_you_mean};
use crate::interpolate;

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
    /// The kubeconfig to write; relative to the spec file. Default: --kubeconfig, else the first entry of $KUBECONFIG, else ~/.kube/config.
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
    /// A directory of custom provider files, relative to the spec file.
    #[schemars(with = "Option<String>")]
    pub templates: Option<Spanned<String>>,
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
    /// How many times to re-run the step after a failure (backoff 1s, 2s, 4s ... 30s).
    #[schemars(with = "Option<u32>")]
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

pub const DEFAULT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(600);

impl Spec {
    pub fn source(&self) -> &Source {
        self.file.source.as_ref().expect("set by parse")
    }

    /// The directory relative paths in the spec are resolved against.
    pub fn dir(&self) -> &Path {
        self.file.path.parent().unwrap_or(Path::new("."))
    }
}

impl Step {
    pub fn name(&self) -> &str {
        self.name
            .as_ref()
            .map_or(self.provider.value.as_str(), |n| n.value.as_str())
    }

    pub fn timeout(&self) -> std::time::Duration {
        self.timeout
            .as_ref()
            .and_then(|t| humantime::parse_duration(&t.value).ok())
            .unwrap_or(DEFAULT_TIMEOUT)
    }
}

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

pub fn spanned<T>(src: &str, node: &Spanned<T>) -> SourceSpan {
    span(src, &node.referenced)
}

/// Reads and parses a spec, then checks what can be checked without
/// providers or an environment.
pub fn load(path: &Path) -> Result<Spec, Vec<Diag>> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        vec![
            Diag::new(
                "stackhook::spec::read",
                format!("cannot read spec {}: {e}", path.display()),
            )
            .help("pass the path of a spec file, e.g. `stackhook plan specs/gke-region.yaml`"),
        ]
    })?;
    parse(path, &text)
}

pub fn parse(path: &Path, text: &str) -> Result<Spec, Vec<Diag>> {
    let source = Source::new(path.display().to_string(), text);
    let mut spec: Spec =
        serde_saphyr::from_str(text).map_err(|e| vec![yaml_error(&source, &e, SPEC_KEYS)])?;
    spec.file = SpecFile {
        path: path.to_path_buf(),
        source: Some(source),
    };
    let diags = check(&spec);
    if diags.is_empty() {
        Ok(spec)
    } else {
        Err(diags)
    }
}

/// Every key the spec knows, for "did you mean" on a typo.
const SPEC_KEYS: &[&str] = &[
    "version",
    "kubeconfig",
    "env",
    "secrets",
    "templates",
    "steps",
    "provider",
    "name",
    "with",
    "timeout",
    "retries",
];

/// Turns a YAML or shape error into a diagnostic pointing at the node.
pub fn yaml_error(source: &Source, err: &serde_saphyr::Error, keys: &[&str]) -> Diag {
    use serde_saphyr::MessageFormatter;
    let inner = err.without_snippet();
    let message = serde_saphyr::DefaultMessageFormatter
        .format_message(inner)
        .into_owned();
    let mut message = message;
    let mut help = None;
    let mut code = "stackhook::spec::yaml";
    if let Some(rest) = message.strip_prefix("unknown field `") {
        code = "stackhook::spec::unknown_key";
        let field = rest.split('`').next().unwrap_or("");
        let expected: Vec<&str> = message
            .split_once("expected ")
            .map(|(_, e)| {
                e.split([',', ' ', '`'])
                    .filter(|w| !w.is_empty() && !["one", "of", "or"].contains(w))
                    .collect()
            })
            .unwrap_or_default();
        let candidates = if expected.is_empty() {
            keys.to_vec()
        } else {
            expected.clone()
        };
        help = Some(match did_you_mean(field, candidates.iter().copied()) {
            Some(s) => format!("did you mean `{s}`?"),
            None => format!("remove `{field}`; allowed here: {}", expected.join(", ")),
        });
    } else if message.starts_with("missing field") {
        code = "stackhook::spec::missing_key";
        help = Some("a spec needs `version: 1` and `steps:`, and every step a `provider:`; `stackhook providers` lists them".into());
    } else if let Some((head, _)) = message.split_once(", set DuplicateKeyPolicy") {
        code = "stackhook::spec::duplicate_key";
        message = head.to_string();
        help = Some("each key may appear only once in a mapping: remove one of them".into());
    } else if matches!(inner, serde_saphyr::Error::Eof { .. })
        && source
            .text
            .lines()
            .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
    {
        code = "stackhook::spec::empty";
        message = "the spec is empty".into();
        help = Some("start with `version: 1` and a `steps:` list; `stackhook providers` shows what a step can be".into());
    } else if message.starts_with("invalid u") || message.starts_with("invalid i") {
        help = Some("this must be a whole number, 0 or more".into());
    } else if message.contains("expected sequence") {
        help = Some("this must be a YAML list: start each item with `- `".into());
    } else if message.contains("expected mapping") {
        help = Some("this must be a mapping of `key: value` lines".into());
    } else if message.contains("not allowed in this context")
        || message.contains("indentation")
        || message.contains("did not find expected")
    {
        help = Some(
            "check the indentation: YAML uses spaces, and the keys of one mapping line up".into(),
        );
    }
    let mut diag = Diag::new(code, message.clone()).help_opt(help);
    if let Some(loc) = err.location() {
        diag = diag.at(source, span(&source.text, &loc), short_label(&message));
    }
    diag
}

fn short_label(message: &str) -> String {
    if message.starts_with("unknown field") {
        "unknown key".into()
    } else {
        "here".into()
    }
}

fn check(spec: &Spec) -> Vec<Diag> {
    let src = spec.source();
    let text = &src.text;
    let mut diags = Vec::new();

    if spec.version.value != 1 {
        diags.push(
            Diag::new(
                "stackhook::spec::version",
                format!("unsupported spec version {}", spec.version.value),
            )
            .at(src, spanned(text, &spec.version), "must be 1")
            .help("this stackhook reads `version: 1` specs"),
        );
    }

    check_env_names(src, &spec.env, "env", &mut diags);
    for name in &spec.secrets {
        if !interpolate::is_var_name(&name.value) {
            diags.push(bad_name(src, name, "secrets"));
        }
    }

    if spec.steps.value.is_empty() {
        diags.push(
            Diag::new("stackhook::spec::no_steps", "the spec has no steps")
                .at(src, spanned(text, &spec.steps), "empty")
                .help("add at least one step, e.g. `- provider: verify`; `stackhook providers` lists them"),
        );
    }

    let mut seen: IndexMap<&str, SourceSpan> = IndexMap::new();
    for step in &spec.steps.value {
        let step_span = step
            .value
            .name
            .as_ref()
            .map_or_else(|| spanned(text, &step.value.provider), |n| spanned(text, n));
        let name = step.value.name();
        if let Some(first) = seen.get(name) {
            diags.push(
                Diag::new(
                    "stackhook::spec::duplicate_step",
                    format!("two steps are named `{name}`"),
                )
                .at(src, step_span, "second step with this name")
                .and(*first, "first one here")
                .help("step names must be unique: give one of them `name: <something else>`"),
            );
        } else {
            seen.insert(name, step_span);
        }
        if let Some(n) = &step.value.name
            && (n.value.is_empty() || n.value.chars().any(|c| c.is_control()))
        {
            diags.push(
                Diag::new(
                    "stackhook::spec::step_name",
                    "a step name must be a non-empty single line",
                )
                .at(src, spanned(text, n), "invalid name"),
            );
        }
        if let Some(t) = &step.value.timeout {
            match humantime::parse_duration(&t.value) {
                Ok(d) if d.is_zero() => diags.push(
                    Diag::new(
                        "stackhook::spec::timeout",
                        "a timeout of zero would fail every run",
                    )
                    .at(src, spanned(text, t), "zero")
                    .help("use a duration such as `30s`, `5m` or `1h`"),
                ),
                Ok(_) => {}
                Err(e) => diags.push(
                    Diag::new(
                        "stackhook::spec::timeout",
                        format!("invalid timeout `{}`: {e}", t.value),
                    )
                    .at(src, spanned(text, t), "not a duration")
                    .help("use a duration such as `30s`, `5m` or `1h 30m`"),
                ),
            }
        }
        check_env_names(src, &step.value.env, "env", &mut diags);
    }

    // Interpolation syntax of every string, so one run shows every typo.
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
    for step in &spec.steps.value {
        for value in step.value.with.iter().flat_map(|w| w.value.values()) {
            check_json_strings(src, value, &mut diags);
        }
    }
    diags
}

fn check_json_strings(src: &Source, value: &Spanned<serde_json::Value>, diags: &mut Vec<Diag>) {
    let mut strings = Vec::new();
    collect_strings(&value.value, &mut strings);
    for s in strings {
        if let Err(e) = interpolate::parse(s) {
            // Nested values have no spans of their own: point at the entry.
            let span = spanned(&src.text, value);
            diags.push(
                Diag::new("stackhook::spec::interpolation", e.message.clone()).at(
                    src,
                    span,
                    "in this value",
                ),
            );
        }
    }
}

fn collect_strings<'a>(value: &'a serde_json::Value, out: &mut Vec<&'a str>) {
    match value {
        serde_json::Value::String(s) => out.push(s),
        serde_json::Value::Array(items) => items.iter().for_each(|v| collect_strings(v, out)),
        serde_json::Value::Object(map) => map.values().for_each(|v| collect_strings(v, out)),
        _ => {}
    }
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

pub fn interpolation_error(
    src: &Source,
    s: &Spanned<String>,
    e: &interpolate::SyntaxError,
) -> Diag {
    let span = spanned(&src.text, s);
    let tail = s.value.get(e.offset..).unwrap_or("");
    let needle: String = tail.chars().take(2).collect();
    let at = if needle.is_empty() {
        span
    } else {
        offset_in_scalar(&src.text, span, &needle)
    };
    Diag::new("stackhook::spec::interpolation", e.message.clone()).at(
        src,
        at,
        "invalid interpolation",
    )
}

fn check_env_names(src: &Source, env: &Map<String>, _what: &str, diags: &mut Vec<Diag>) {
    for key in env.keys() {
        if !interpolate::is_var_name(&key.value) {
            diags.push(bad_name(src, key, "env"));
        }
        if key.value == "KUBECONFIG" || key.value == "STACKHOOK_TMPDIR" || key.value == "STACKHOOK"
        {
            diags.push(
                Diag::new(
                    "stackhook::spec::reserved_env",
                    format!("`{}` is set by stackhook for every step", key.value),
                )
                .at(src, spanned(&src.text, key), "reserved")
                .help(if key.value == "KUBECONFIG" {
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
        "stackhook::spec::env_name",
        format!("`{}` is not a valid variable name", name.value),
    )
    .at(src, spanned(&src.text, name), "invalid name")
    .help(format!(
        "names in `{what}` use letters, digits and `_`, and do not start with a digit"
    ))
}

/// Finds the spec when none is given on the command line, so that one hook
/// line can serve many stacks.
pub fn discover(
    get: impl Fn(&str) -> Option<String>,
    exists: impl Fn(&Path) -> bool,
) -> Result<PathBuf, Diag> {
    let mut tried = Vec::new();
    if let Some(p) = get("STACKHOOK_SPEC").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    tried.push("$STACKHOOK_SPEC (not set)".to_string());
    for var in ["TF_VAR_spacelift_stack_id", "SPACELIFT_STACK_ID"] {
        match get(var).filter(|v| !v.is_empty()) {
            Some(id) => {
                let p = PathBuf::from(format!("specs/{id}.yaml"));
                if exists(&p) {
                    return Ok(p);
                }
                tried.push(format!("{} (from ${var}: not found)", p.display()));
            }
            None => tried.push(format!("specs/${var}.yaml (${var} not set)")),
        }
    }
    let p = PathBuf::from(".stackhook.yaml");
    if exists(&p) {
        return Ok(p);
    }
    tried.push(".stackhook.yaml (not found)".into());
    Err(
        Diag::new("stackhook::spec::not_found", "no spec given and none found").help(format!(
            "pass a spec path, or set STACKHOOK_SPEC. Tried, in order:\n  - {}",
            tried.join("\n  - ")
        )),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discover_order() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        let all = |_: &Path| true;
        assert_eq!(
            discover(
                env(&[("STACKHOOK_SPEC", "x.yaml"), ("SPACELIFT_STACK_ID", "a")]),
                all
            )
            .unwrap(),
            PathBuf::from("x.yaml")
        );
        assert_eq!(
            discover(env(&[("TF_VAR_spacelift_stack_id", "prod")]), all).unwrap(),
            PathBuf::from("specs/prod.yaml")
        );
        assert_eq!(
            discover(env(&[("SPACELIFT_STACK_ID", "dev")]), all).unwrap(),
            PathBuf::from("specs/dev.yaml")
        );
        let none = |_: &Path| false;
        let err = discover(env(&[("SPACELIFT_STACK_ID", "dev")]), none).unwrap_err();
        let help = err.help.unwrap();
        assert!(
            help.contains("specs/dev.yaml (from $SPACELIFT_STACK_ID: not found)"),
            "{help}"
        );
        assert!(help.contains(".stackhook.yaml (not found)"), "{help}");
    }

    #[test]
    fn parses_a_full_spec() {
        let text = "version: 1\nkubeconfig: /tmp/k\nenv:\n  A: b\nsecrets: [X]\nsteps:\n  - provider: gke\n    name: one\n    with:\n      cluster: c\n    timeout: 5m\n    retries: 2\n";
        let spec = parse(Path::new("s.yaml"), text).unwrap();
        assert_eq!(spec.steps.value.len(), 1);
        let step = &spec.steps.value[0].value;
        assert_eq!(step.name(), "one");
        assert_eq!(step.timeout(), std::time::Duration::from_secs(300));
        assert_eq!(step.retries.as_ref().unwrap().value, 2);
        let span = spanned(
            text,
            step.with.as_ref().unwrap().value.values().next().unwrap(),
        );
        assert_eq!(&text[span.offset()..span.offset() + span.len()], "c");
    }
}
