//! The CLIs a plan needs: whether each is on PATH, its version (asked
//! with its own version command, with a deadline, in an environment that
//! holds no secret), and whether that version has what each step's
//! rendered flags need (the providers' `min_versions`).

use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use crate::base::paint::visible;
use crate::base::which::find_on_path;
use crate::doctor::credentials::has_word;
use crate::doctor::finding::Finding;
use crate::doctor::probe;
use crate::doctor::visible_env::VisibleEnv;
use crate::plan::assemble::Plan;
use crate::plan::min_version::MinVersion;
use crate::plan::provider::Catalog;

const CHECK: &str = "cli";

/// The variables a version command gets: enough to start, nothing secret,
/// and no update check or telemetry. gcloud and az write their config
/// directory at every call: they get a private one, removed afterwards,
/// so that yours is left as it is.
const PASSED: &[&str] = &[
    "PATH",
    "HOME",
    "TMPDIR",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "USER",
    "CLOUDSDK_PYTHON",
    "AZURE_EXTENSION_DIR",
];

#[derive(Debug, Serialize)]
pub struct ToolReport {
    pub name: String,
    /// Where it is on PATH.
    pub path: Option<String>,
    pub version: Option<String>,
    pub findings: Vec<Finding>,
}

/// The arguments that make `cli` print its version.
fn version_args(cli: &str) -> &'static [&'static str] {
    match cli {
        "gcloud" => &["version", "--format=json"],
        "az" => &["version"],
        "kubectl" => &["version", "--client", "-o", "json"],
        "openssl" => &["version"],
        _ => &["--version"],
    }
}

/// The first dotted number of a version command's output (`aws-cli/2.15.0`,
/// `v1.30.0`, `"azure-cli": "2.66.0"`, `Google Cloud SDK 500.0.0`).
pub fn parse_version(text: &str) -> Option<Vec<u64>> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let starts = bytes[i].is_ascii_digit()
            && (i == 0 || !bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'v');
        if starts {
            let end = bytes[i..]
                .iter()
                .position(|b| !(b.is_ascii_digit() || *b == b'.'))
                .map_or(bytes.len(), |n| i + n);
            let parts: Vec<u64> = text[i..end]
                .trim_end_matches('.')
                .split('.')
                .map_while(|p| p.parse().ok())
                .collect();
            if parts.len() >= 2 {
                return Some(parts);
            }
            i = end;
        }
        i += 1;
    }
    None
}

fn dotted(v: &[u64]) -> String {
    v.iter().map(u64::to_string).collect::<Vec<_>>().join(".")
}

/// The version of `versions` that applies to `have`: the one of the same
/// major line, else the lowest (a major above all of them has it).
fn needed(versions: &[Vec<u64>], have: &[u64]) -> Option<Vec<u64>> {
    let same = versions.iter().find(|v| v.first() == have.first());
    match same {
        Some(v) => Some(v.clone()),
        None => versions
            .iter()
            .min()
            .filter(|low| have < low.as_slice())
            .cloned(),
    }
}

/// The requirements of every step of the plan that runs `cli`, with why.
fn requirements<'a>(plan: &'a Plan, catalog: &'a Catalog, cli: &str) -> Vec<&'a MinVersion> {
    let mut out: Vec<&MinVersion> = Vec::new();
    for step in plan
        .steps
        .iter()
        .filter(|s| s.requires.iter().any(|r| r == cli))
    {
        let Some(p) = catalog.get(&step.provider) else {
            continue;
        };
        for m in p.def.min_versions.iter().filter(|m| m.cli == cli) {
            let applies = m
                .words
                .iter()
                .all(|w| has_word(step, w) || step.env.contains_key(w));
            if applies
                && !out
                    .iter()
                    .any(|o| o.why == m.why && o.versions == m.versions)
            {
                out.push(m);
            }
        }
    }
    out
}

pub fn check(
    plan: &Plan,
    catalog: &Catalog,
    env: &VisibleEnv,
    timeout: Duration,
    cluster: bool,
) -> Vec<ToolReport> {
    let path_var = env.get("PATH").unwrap_or_default();
    let private = tempfile::Builder::new()
        .prefix("stackhook-doctor-")
        .tempdir();
    let config = |name: &str| match &private {
        Ok(d) => d.path().join(name).display().to_string(),
        Err(_) => "/nonexistent".into(),
    };
    let probe_env: Vec<(String, String)> = PASSED
        .iter()
        .filter(|n| !env.is_secret(n))
        .filter_map(|n| Some((n.to_string(), env.get(n)?.to_string())))
        .chain([
            ("CLOUDSDK_CONFIG".into(), config("gcloud")),
            ("AZURE_CONFIG_DIR".into(), config("azure")),
            ("CLOUDSDK_CORE_DISABLE_FILE_LOGGING".into(), "true".into()),
            (
                "CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK".into(),
                "true".into(),
            ),
            (
                "CLOUDSDK_CORE_DISABLE_USAGE_REPORTING".into(),
                "true".into(),
            ),
            ("AZURE_CORE_COLLECT_TELEMETRY".into(), "false".into()),
            ("AWS_PAGER".into(), String::new()),
        ])
        .collect();
    // `--cluster` runs `kubectl auth whoami`, which kubectl has since 1.27.
    let whoami = MinVersion {
        cli: "kubectl".into(),
        versions: vec!["1.27.0".into()],
        words: Vec::new(),
        why: "kubectl auth whoami (--cluster)".into(),
    };
    let mut names: Vec<&str> = plan.tools.iter().map(|t| t.name.as_str()).collect();
    if cluster && !names.contains(&"kubectl") {
        names.push("kubectl");
    }
    names
        .into_iter()
        .map(|name| {
            let mut needs = requirements(plan, catalog, name);
            if cluster && name == "kubectl" {
                needs.push(&whoami);
            }
            tool(name, path_var, &probe_env, timeout, &needs)
        })
        .collect()
}

fn tool(
    name: &str,
    path_var: &str,
    probe_env: &[(String, String)],
    timeout: Duration,
    needs: &[&MinVersion],
) -> ToolReport {
    let mut report = ToolReport {
        name: name.to_string(),
        path: None,
        version: None,
        findings: Vec::new(),
    };
    let Some(path) = find_on_path(name, path_var) else {
        report.findings.push(Finding::problem(
            CHECK,
            format!("{name}: not found on PATH"),
        ));
        return report;
    };
    report.path = Some(path.display().to_string());
    let have = version_of(&path, name, probe_env, timeout, &mut report);
    let Some(have) = have else { return report };
    for m in needs {
        let versions: Vec<Vec<u64>> = m.versions.iter().filter_map(|v| parse_version(v)).collect();
        match needed(&versions, &have) {
            Some(need) if have < need => report.findings.push(Finding::problem(
                CHECK,
                format!(
                    "{name} {}: {} needs {} or later",
                    dotted(&have),
                    m.why,
                    dotted(&need)
                ),
            )),
            _ => report.findings.push(Finding::ok(
                CHECK,
                format!(
                    "{name} {}: has {} (since {})",
                    dotted(&have),
                    m.why,
                    m.versions.join(" / ")
                ),
            )),
        }
    }
    report
}

/// Runs the version command; says what it found in `report`.
fn version_of(
    path: &Path,
    name: &str,
    probe_env: &[(String, String)],
    timeout: Duration,
    report: &mut ToolReport,
) -> Option<Vec<u64>> {
    let args = version_args(name);
    let p = probe::run(path, args, probe_env, timeout);
    let shown = format!(
        "{} {}",
        visible(&path.display().to_string()),
        args.join(" ")
    );
    let version = parse_version(&p.stdout).or_else(|| parse_version(&p.stderr));
    match (&version, p.success()) {
        (Some(v), true) => {
            report.version = Some(dotted(v));
            report.findings.push(Finding::ok(
                CHECK,
                format!(
                    "{name} {} at {}",
                    dotted(v),
                    visible(&path.display().to_string())
                ),
            ));
        }
        (_, false) => report.findings.push(Finding::problem(
            CHECK,
            format!("{name}: `{shown}` failed ({})", p.failure(timeout)),
        )),
        (None, true) => report.findings.push(Finding::note(
            CHECK,
            format!("{name}: `{shown}` printed no version that doctor can read"),
        )),
    }
    version.filter(|_| p.success())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_read_from_each_cli_s_output() {
        for (out, v) in [
            (
                "aws-cli/2.15.0 Python/3.11.7 Linux/6.1 botocore/2.0",
                vec![2, 15, 0],
            ),
            ("aws-cli/1.45.11 Python/3.11.7", vec![1, 45, 11]),
            (
                "Google Cloud SDK 528.0.0\nalpha 2025.06.20",
                vec![528, 0, 0],
            ),
            (
                "{\n  \"Google Cloud SDK\": \"528.0.0\",\n  \"alpha\": \"2025.06.20\"}",
                vec![528, 0, 0],
            ),
            (
                "{\"azure-cli\": \"2.66.0\", \"azure-cli-core\": \"2.66.0\"}",
                vec![2, 66, 0],
            ),
            (
                "{\"clientVersion\": {\"major\": \"1\", \"gitVersion\": \"v1.32.4-dispatcher\"}}",
                vec![1, 32, 4],
            ),
            (
                "kubelogin version\ngit hash: v0.1.4/0f5fd3a\nGo version: go1.22.5",
                vec![0, 1, 4],
            ),
            ("Kubernetes v1.30.0+03fcd0f8", vec![1, 30, 0]),
            ("OpenSSL 3.0.2 15 Mar 2022", vec![3, 0, 2]),
        ] {
            assert_eq!(parse_version(out), Some(v), "{out}");
        }
        assert_eq!(parse_version("no version here 7"), None);
        assert_eq!(parse_version("x1.2"), None, "inside a word");
    }

    #[test]
    fn the_requirement_of_the_installed_major_line_applies() {
        let v = |s: &str| parse_version(s).unwrap();
        let aws = [v("1.27.98"), v("2.11.6")];
        assert_eq!(needed(&aws, &v("2.9.0")), Some(v("2.11.6")));
        assert_eq!(needed(&aws, &v("1.40.0")), Some(v("1.27.98")));
        assert_eq!(needed(&aws, &v("3.0.0")), None, "a later major has it");
        assert_eq!(needed(&[v("496.0.0")], &v("400.0.0")), Some(v("496.0.0")));
        assert_eq!(needed(&[v("0.0.18")], &v("0.1.4")), Some(v("0.0.18")));
    }
}
