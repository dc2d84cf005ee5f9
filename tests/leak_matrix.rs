//! The secret-leak matrix: every shipped spec, run to success, failure,
//! timeout, SIGINT and SIGTERM, with canary secrets of the awkward kinds
//! (a trailing newline or CRLF, several lines, regex and shell characters,
//! a leading `-`). No canary may show in stdout, stderr, any preview, a
//! `doctor` report, the env file, an error report, a file left on disk, or
//! the argv of any CLI.
//!
//! The cloud CLIs are stubs here (tests/fakes/leak-stub: it records its
//! argv, then succeeds by writing a kubeconfig, fails or hangs as told,
//! and when failing or hanging prints every canary it can see, as a CLI
//! that echoes a bad credential would): this test is about what stackhook
//! does with secrets, not about the clouds, which tests/e2e.rs drives with
//! the real CLIs.

mod common;

use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use common::*;

/// Valid kubeconfig text, multi-line like the secret it stands for, with
/// a short last line (as a PEM's is).
const KUBECONFIG_CANARY: &str = "apiVersion: v1\nkind: Config\ncurrent-context: c\ncontexts:\n- name: c\n  context: {cluster: k, user: u}\nclusters:\n- name: k\n  cluster: {server: 'https://127.0.0.1:1'}\nusers:\n- name: u\n  user:\n    token: CANARY-kc-token-line\n# Kc7=\n";

/// An OIDC token as Spacelift writes it: a JWT that expires in an hour.
fn oidc_token() -> String {
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600;
    format!(
        "{}.{}.CANARY-oidc-signature",
        b64(r#"{"alg":"RS256","typ":"JWT"}"#),
        b64(&format!(
            r#"{{"iss":"https://acme.app.spacelift.io","sub":"space:root:stack:prod","aud":"sts.amazonaws.com","exp":{exp}}}"#
        ))
    )
}

/// The secret variables of every shipped spec, each an awkward canary.
fn canaries() -> Vec<(&'static str, String)> {
    vec![
        ("SPACELIFT_OIDC_TOKEN", oidc_token()),
        (
            "GOOGLE_OAUTH_ACCESS_TOKEN",
            "ya29.CANARY-gcp-token\n".into(),
        ),
        ("ARM_CLIENT_SECRET", "-CANARY.arm*secret+[x](y)|$^".into()),
        (
            "ARM_CLIENT_CERTIFICATE_PASSWORD",
            "CANARY-pfx 'pass' $(x)".into(),
        ),
        ("AWS_SECRET_ACCESS_KEY", "CANARY/aws+key=\r\n".into()),
        ("AWS_SESSION_TOKEN", "CANARY-aws-session".into()),
        ("KUBECONFIG_CONTENT", KUBECONFIG_CANARY.into()),
        (
            "TLS_PRIVATE_KEY",
            "-----BEGIN PRIVATE KEY-----\nCANARY-pem-body-line\nZq9=\n-----END PRIVATE KEY-----\n"
                .into(),
        ),
        ("VAULT_TOKEN", "CANARY$(touch pwned)`x`\"'".into()),
    ]
}

/// What the files the stack's environment names hold (their variables hold
/// paths, which are shown; the files' content never is): the token file
/// holds the OIDC canary, the others these.
const FILE_CANARIES: &[(&str, &str)] = &[
    ("ARM_CLIENT_CERTIFICATE_PATH's file", "CANARY-private-key"),
    (
        "GOOGLE_APPLICATION_CREDENTIALS's file",
        "CANARY-gcp-credentials-body",
    ),
];

/// The parts of a canary that must never show: its lines with `CANARY`,
/// and the short last lines (`Zq9=`, `Kc7=`).
fn distinctive(canary: &str) -> Vec<String> {
    canary
        .lines()
        .map(str::trim)
        .map(|l| l.trim_start_matches("# "))
        .filter(|l| l.contains("CANARY") || ["Zq9=", "Kc7="].contains(l))
        .map(str::to_string)
        .collect()
}

/// Where a canary shows in `text`, if it does.
fn leaks(what: &str, text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (name, part) in FILE_CANARIES {
        if text.contains(part) {
            found.push(format!("{name} ({part:?}) in {what}"));
        }
    }
    for (name, canary) in canaries() {
        for part in distinctive(&canary) {
            if text.contains(&part) {
                found.push(format!("{name} ({part:?}) in {what}"));
            }
        }
    }
    found
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Success,
    Failure,
    Timeout,
    Sigint,
    Sigterm,
}

const OUTCOMES: [Outcome; 5] = [
    Outcome::Success,
    Outcome::Failure,
    Outcome::Timeout,
    Outcome::Sigint,
    Outcome::Sigterm,
];

/// The CLIs any shipped spec may call, all as the stub.
const CLIS: &[&str] = &[
    "aws",
    "gcloud",
    "az",
    "kubectl",
    "kubelogin",
    "curl",
    "vault",
    "gke-gcloud-auth-plugin",
    "openssl",
];

struct Matrix {
    sb: Sandbox,
    env: Vec<(String, String)>,
}

impl Matrix {
    fn new() -> Matrix {
        let sb = Sandbox::new();
        let stub = root().join("tests/fakes/leak-stub");
        for cli in CLIS {
            std::fs::copy(&stub, sb.bin().join(cli)).unwrap();
        }
        let vault_kubeconfig = KUBECONFIG_CANARY.replace("CANARY-kc-token-line", "vault-issued");
        let download = KUBECONFIG_CANARY.replace("CANARY-kc-token-line", "downloaded");
        let mut env: Vec<(String, String)> = FULL_ENV
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .filter(|(k, _)| k != "KUBECONFIG")
            .collect();
        env.retain(|(k, _)| !canaries().iter().any(|(c, _)| c == k));
        env.extend(canaries().into_iter().map(|(k, v)| (k.to_string(), v)));
        // Files a stack's environment names: the user's own, not checked.
        let inputs = sb.path("inputs");
        std::fs::create_dir(&inputs).unwrap();
        let token_file = inputs.join("spacelift.oidc");
        std::fs::write(&token_file, oidc_token()).unwrap();
        let credentials = inputs.join("gcp.json");
        std::fs::write(
            &credentials,
            format!(
                r#"{{"type":"external_account","description":"CANARY-gcp-credentials-body","audience":"//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/q","subject_token_type":"urn:ietf:params:oauth:token-type:jwt","token_url":"https://sts.googleapis.com/v1/token","credential_source":{{"file":"{}"}}}}"#,
                token_file.display()
            ),
        )
        .unwrap();
        let certificate = inputs.join("sp.pem");
        std::fs::write(
            &certificate,
            "-----BEGIN PRIVATE KEY-----\nCANARY-private-key\n-----END PRIVATE KEY-----\n",
        )
        .unwrap();
        let file = |p: &Path| p.display().to_string();
        env.extend([
            ("AWS_WEB_IDENTITY_TOKEN_FILE".into(), file(&token_file)),
            ("ARM_OIDC_TOKEN_FILE_PATH".into(), file(&token_file)),
            ("GOOGLE_APPLICATION_CREDENTIALS".into(), file(&credentials)),
            ("ARM_CLIENT_CERTIFICATE_PATH".into(), file(&certificate)),
            (
                "EKS_ROLE_ARN".into(),
                "arn:aws:iam::111122223333:role/stackhook".into(),
            ),
        ]);
        env.extend([
            ("AWS_ACCESS_KEY_ID".into(), "AKIDLEAKMATRIX".into()),
            ("KUBECONFIG_SHA256".into(), sha256(&download)),
            ("STUB_DOWNLOAD".into(), download),
            ("FAKE_VAULT_KUBECONFIG".into(), vault_kubeconfig),
            (
                "STUB_ARGV_LOG".into(),
                sb.path("argv.log").display().to_string(),
            ),
        ]);
        Matrix { sb, env }
    }

    fn spec_for(&self, spec: &Path, outcome: Outcome) -> PathBuf {
        let text = std::fs::read_to_string(spec).unwrap();
        let text = if outcome == Outcome::Timeout {
            let lines: Vec<String> = text
                .lines()
                .filter(|l| !l.trim_start().starts_with("timeout:"))
                .map(|l| match l.strip_prefix("  - provider:") {
                    Some(_) => format!("{l}\n    timeout: 1s"),
                    None => l.to_string(),
                })
                .collect();
            lines.join("\n") + "\n"
        } else {
            text
        };
        let out = self.sb.path("work").join(spec.file_name().unwrap());
        std::fs::write(&out, text).unwrap();
        out
    }

    /// Runs the spec to `outcome`; returns what to search for canaries.
    fn run(&self, spec: &Path, outcome: Outcome) -> Vec<(String, String)> {
        let _ = std::fs::remove_file(self.sb.kubeconfig());
        if spec.file_name().unwrap() == "kubeconfig-mounted.yaml" {
            std::fs::write(self.sb.kubeconfig(), KUBECONFIG_CANARY).unwrap();
        }
        let env_file = self.sb.path("work/out.env");
        let _ = std::fs::remove_file(&env_file);
        let mode = match outcome {
            Outcome::Success => "ok",
            Outcome::Failure => "fail",
            _ => "hang",
        };
        let spec = self.spec_for(spec, outcome);
        let mut child = self
            .sb
            .command()
            .args(["run", "--env-file", env_file.to_str().unwrap()])
            .arg(&spec)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env("STUB_MODE", mode)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut seen = String::new();
        if let Some(sig) = match outcome {
            Outcome::Sigint => Some(libc::SIGINT),
            Outcome::Sigterm => Some(libc::SIGTERM),
            _ => None,
        } {
            let mut stderr = BufReader::new(child.stderr.take().unwrap());
            seen = wait_for_line(&mut stderr, "stub-ready").concat();
            unsafe { libc::kill(child.id() as i32, sig) };
            let mut rest = String::new();
            std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
            seen.push_str(&rest);
        }
        let (code, out, err) = output_of(child);
        let expected = match outcome {
            Outcome::Success => 0,
            Outcome::Failure | Outcome::Timeout => 1,
            Outcome::Sigint => 130,
            Outcome::Sigterm => 143,
        };
        assert_eq!(code, expected, "{spec:?} {outcome:?}: {err}");
        assert!(
            self.sb.tmp_entries().is_empty(),
            "{spec:?} {outcome:?} left {:?}",
            self.sb.tmp_entries()
        );
        let mut texts = vec![
            ("stdout".to_string(), out),
            ("stderr and the error report".to_string(), seen + &err),
        ];
        if let Ok(t) = std::fs::read_to_string(&env_file) {
            texts.push(("the env file".into(), t));
        }
        texts
    }

    fn plans(&self, spec: &Path) -> Vec<(String, String)> {
        ["text", "json", "markdown"]
            .iter()
            .map(|format| {
                let out = self
                    .sb
                    .command()
                    .args(["plan", "--format", format])
                    .arg(spec)
                    .envs(self.env.iter().map(|(k, v)| (k, v)))
                    .output()
                    .unwrap();
                assert!(
                    out.status.success(),
                    "{}",
                    String::from_utf8_lossy(&out.stderr)
                );
                (
                    format!("the {format} plan"),
                    String::from_utf8_lossy(&out.stdout).into(),
                )
            })
            .collect()
    }

    /// `doctor`, text and JSON, with `--cluster`, on a kubeconfig whose
    /// user holds a token, while every stub (the version commands, and
    /// kubectl for --cluster) prints every secret it can see and fails.
    fn doctor(&self, spec: &Path) -> Vec<(String, String)> {
        std::fs::write(self.sb.kubeconfig(), KUBECONFIG_CANARY).unwrap();
        let mut texts = Vec::new();
        for format in ["text", "json"] {
            let out = self
                .sb
                .command()
                .args([
                    "doctor",
                    "--cluster",
                    "--can-i",
                    "get pods",
                    "--format",
                    format,
                ])
                .arg(spec)
                .envs(self.env.iter().map(|(k, v)| (k, v)))
                .env("STUB_MODE", "fail")
                .stdin(Stdio::null())
                .output()
                .unwrap();
            let code = out.status.code();
            assert!(
                matches!(code, Some(0 | 1)),
                "doctor {}: {code:?} {}",
                spec.display(),
                String::from_utf8_lossy(&out.stderr)
            );
            texts.push((
                format!("the {format} doctor report"),
                String::from_utf8_lossy(&out.stdout).into_owned(),
            ));
            texts.push((
                format!("doctor's stderr ({format})"),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            ));
        }
        let _ = std::fs::remove_file(self.sb.kubeconfig());
        texts
    }

    /// Every file under the sandbox but the kubeconfig (which holds what
    /// the user asked it to) and the stubs themselves.
    fn files_on_disk(&self) -> Vec<(String, String)> {
        let skip = [self.sb.kubeconfig(), self.sb.path("argv.log")];
        walk(self.sb.dir.path())
            .into_iter()
            .filter(|p| !skip.contains(p) && !p.starts_with(self.sb.bin()))
            .filter(|p| !p.starts_with(self.sb.path("inputs")))
            .map(|p| {
                (
                    p.display().to_string(),
                    String::from_utf8_lossy(&std::fs::read(&p).unwrap_or_default()).into(),
                )
            })
            .collect()
    }
}

fn sha256(text: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() && !p.is_symlink() {
            out.extend(walk(&p));
        } else if p.is_file() {
            out.push(p);
        }
    }
    out
}

/// Specs of parameters no shipped spec uses (tests/specs/leak/).
fn leak_specs() -> Vec<PathBuf> {
    let mut specs: Vec<PathBuf> = std::fs::read_dir(root().join("tests/specs/leak"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    specs.sort();
    assert!(!specs.is_empty());
    specs
}

#[test]
fn no_canary_escapes_any_spec_in_any_outcome() {
    let m = Matrix::new();
    let mut found = Vec::new();
    for spec in shipped_specs().into_iter().chain(leak_specs()) {
        for (what, text) in m.plans(&spec).into_iter().chain(m.doctor(&spec)) {
            found.extend(leaks(&format!("{what} of {}", spec.display()), &text));
        }
        for outcome in OUTCOMES {
            for (what, text) in m.run(&spec, outcome) {
                let name = spec.file_name().unwrap().to_string_lossy();
                found.extend(leaks(&format!("{what} of {name} ({outcome:?})"), &text));
            }
            for (path, text) in m.files_on_disk() {
                found.extend(leaks(&path, &text));
            }
        }
    }
    let argv = std::fs::read_to_string(m.sb.path("argv.log")).unwrap_or_default();
    assert!(!argv.is_empty(), "no CLI ran: the stubs are not on PATH");
    found.extend(leaks("the argv of a CLI", &argv));
    assert!(
        !m.sb.path("work/pwned").exists(),
        "a canary ran as a command"
    );
    found.sort();
    found.dedup();
    assert!(
        found.is_empty(),
        "{} leaks:\n{}",
        found.len(),
        found.join("\n")
    );
}
