//! `stackhook doctor` driven as a user in a failing runner would: a fake
//! environment per case (stub CLIs on PATH that only print a version,
//! token files of each bad kind, kubeconfigs), and, with `--cluster`, the
//! real kubectl against the fake Kubernetes API (tests/fakes/fake_cloud.py).
//! Every case also checks that no secret value shows in any output and
//! that doctor changed nothing on disk.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::harness::{self, Need, case};
use common::*;
use serde_json::{Value as Json, json};

fn main() {
    harness::main(vec![
        case!(static_keys_with_auth_oidc_are_a_problem),
        case!(an_expired_token_file_is_a_problem_that_names_its_claims),
        case!(a_token_file_that_is_not_a_jwt_is_a_problem),
        case!(a_fifo_as_token_file_is_refused_without_hanging),
        case!(a_missing_token_file_is_a_problem),
        case!(an_exec_user_whose_command_is_missing_is_a_problem),
        case!(a_cli_too_old_for_a_rendered_flag_is_a_problem),
        case!(gke_oidc_with_an_access_token_set_is_a_problem),
        case!(azure_spn_names_the_arm_variables_and_kubelogin_s_version),
        case!(version_commands_get_no_secret_and_a_private_config_dir),
        case!(a_hanging_cli_is_ended_at_the_timeout),
        case!(a_held_lock_names_its_holder),
        case!(names_from_the_kubeconfig_cannot_act_on_the_terminal),
        case!(a_healthy_runner_exits_0),
        case!(json_has_the_documented_shape),
        case!(an_invalid_spec_or_usage_exits_2),
        case!(
            the_real_clis_versions_are_read,
            Need::Cli("aws"),
            Need::Cli("gcloud"),
            Need::Az
        ),
        case!(
            cluster_says_who_you_are_and_what_you_may_do,
            Need::Kubectl,
            Need::FakeCloud
        ),
    ]);
}

/// Secret values of every case: none may show in any output.
const AWS_KEY: &str = "CANARY-aws-secret-key";
const GCP_TOKEN: &str = "ya29.CANARY-gcp-token";
const TOKEN_SIGNATURE: &str = "CANARY-jwt-signature";

fn jwt(claims: &str) -> String {
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    format!(
        "{}.{}.{TOKEN_SIGNATURE}",
        b64(r#"{"alg":"RS256"}"#),
        b64(claims)
    )
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A token as Spacelift writes it, valid for an hour from now, or expired.
fn oidc_token(exp: u64) -> String {
    jwt(&format!(
        r#"{{"iss":"https://acme.app.spacelift.io","sub":"space:root:stack:prod","aud":"sts.amazonaws.com","exp":{exp}}}"#
    ))
}

struct Doctor {
    sb: Sandbox,
}

impl Doctor {
    /// A sandbox whose PATH is only its bin directory: no real CLI is
    /// found unless a case puts one (or a stub) there.
    fn new() -> Doctor {
        Doctor { sb: Sandbox::new() }
    }

    /// A stub for version parsing only: it prints `version_line` and
    /// exits 0, as `CLI --version` does; nothing else calls it.
    fn stub_version(&self, cli: &str, version_line: &str) {
        self.sb.script(
            cli,
            &format!("#!/bin/sh\nprintf '%s\\n' '{version_line}'\n"),
        );
    }

    fn aws_oidc_spec(&self, token_file: &Path) -> PathBuf {
        self.sb.write_spec(&format!(
            "version: 1\nsteps:\n  - provider: aws-eks\n    with:\n      cluster: prod\n      region: eu-west-1\n      auth: oidc\n      role_arn: arn:aws:iam::111122223333:role/ci\n      token_file: {}\n",
            token_file.display()
        ))
    }

    /// Runs `stackhook doctor ARGS` (30 s at most: a hang fails the case).
    fn run(&self, args: &[&str], extra: &[(&str, &str)]) -> (i32, String, String) {
        let child = self
            .sb
            .command()
            .arg("doctor")
            .args(args)
            .env("PATH", self.sb.bin())
            .envs(extra.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let before = snapshot(&self.sb);
        let out = finish_within(child, Duration::from_secs(30));
        assert_eq!(before, snapshot(&self.sb), "doctor changed files");
        for (what, text) in [("stdout", &out.1), ("stderr", &out.2)] {
            for secret in [AWS_KEY, GCP_TOKEN, TOKEN_SIGNATURE, "CANARY"] {
                assert!(!text.contains(secret), "{secret} in {what}:\n{text}");
            }
        }
        out
    }
}

/// Every file of the sandbox but the bin directory and kubectl's cache
/// (which any kubectl call fills), with a digest of its content.
fn snapshot(sb: &Sandbox) -> Vec<(PathBuf, String)> {
    fn walk(dir: &Path, out: &mut Vec<(PathBuf, String)>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().flatten().collect();
        entries.sort_by_key(|e| e.path());
        for e in entries {
            let p = e.path();
            let t = e.file_type().unwrap();
            if p.file_name().is_some_and(|n| n == ".kubecache") {
                continue;
            } else if t.is_dir() {
                walk(&p, out);
            } else if t.is_file() {
                use sha2::Digest;
                let digest = sha2::Sha256::digest(std::fs::read(&p).unwrap_or_default());
                let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
                out.push((p, hex));
            } else {
                out.push((p, String::new()));
            }
        }
    }
    let mut out = Vec::new();
    walk(&sb.path("work"), &mut out);
    walk(&sb.path("kube"), &mut out);
    walk(&sb.tmp(), &mut out);
    out
}

/// The child's exit and output, or a failure if it runs longer than
/// `limit` (it is killed then).
fn finish_within(child: Child, limit: Duration) -> (i32, String, String) {
    let pid = child.id() as i32;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(output_of(child));
    });
    match rx.recv_timeout(limit) {
        Ok(out) => out,
        Err(_) => {
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!("doctor did not finish within {limit:?}");
        }
    }
}

fn static_keys_with_auth_oidc_are_a_problem() {
    let d = Doctor::new();
    d.stub_version("aws", "aws-cli/2.31.0 Python/3.12.6 Linux/6.1 exe/x86_64");
    let token = d.sb.path("work/spacelift.oidc");
    std::fs::write(&token, oidc_token(now() + 3600)).unwrap();
    let spec = d.aws_oidc_spec(&token);
    let keys = [
        ("AWS_ACCESS_KEY_ID", "AKIDCANARYID"),
        ("AWS_SECRET_ACCESS_KEY", AWS_KEY),
    ];
    let (code, out, err) = d.run(&[spec.to_str().unwrap()], &keys);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("[!!] AWS: auth: oidc, but AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are set: the AWS CLI prefers them"), "{out}");
    assert!(out.contains("AWS_SECRET_ACCESS_KEY set"), "{out}");
    assert!(
        out.contains("the AWS CLI will use the static keys"),
        "{out}"
    );
    assert!(out.contains("1 problem found."), "{out}");
    // One key without the other is a problem of its own.
    let (code, out, _) = d.run(&[spec.to_str().unwrap()], &keys[..1]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("[!!] AWS: AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not set: the AWS CLI needs both or neither"),
        "{out}"
    );
    // Without the keys, the web identity is what the CLI picks: healthy.
    let (code, out, _) = d.run(&[spec.to_str().unwrap()], &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("the AWS CLI will use a web identity"), "{out}");
}

fn an_expired_token_file_is_a_problem_that_names_its_claims() {
    let d = Doctor::new();
    d.stub_version("aws", "aws-cli/2.31.0 Python/3.12.6");
    let token = d.sb.path("work/spacelift.oidc");
    std::fs::write(&token, oidc_token(now() - 600)).unwrap();
    let spec = d.aws_oidc_spec(&token);
    let (code, out, _) = d.run(&[spec.to_str().unwrap()], &[]);
    assert_eq!(code, 1, "{out}");
    let line = out
        .lines()
        .find(|l| l.contains("token file"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(line.contains("[!!]"), "{line}");
    assert!(line.contains("issuer https://acme.app.spacelift.io, audience sts.amazonaws.com, subject space:root:stack:prod"), "{line}");
    assert!(line.contains("expired 10m"), "{line}");
}

fn a_token_file_that_is_not_a_jwt_is_a_problem() {
    let d = Doctor::new();
    d.stub_version("aws", "aws-cli/2.31.0");
    let token = d.sb.path("work/spacelift.oidc");
    std::fs::write(&token, "CANARY-opaque-token\n").unwrap();
    let (code, out, _) = d.run(&[d.aws_oidc_spec(&token).to_str().unwrap()], &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("spacelift.oidc: not a JWT"), "{out}");
}

fn a_fifo_as_token_file_is_refused_without_hanging() {
    let d = Doctor::new();
    d.stub_version("aws", "aws-cli/2.31.0");
    // Nobody writes to this FIFO: a blocking open or read would hang.
    let fifo = d.sb.fifo("work/spacelift.oidc");
    let (code, out, _) = d.run(&[d.aws_oidc_spec(&fifo).to_str().unwrap()], &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("it is a FIFO, not a regular file"), "{out}");
}

fn a_missing_token_file_is_a_problem() {
    let d = Doctor::new();
    d.stub_version("aws", "aws-cli/2.31.0");
    let missing = d.sb.path("work/no-such.oidc");
    let (code, out, _) = d.run(&[d.aws_oidc_spec(&missing).to_str().unwrap()], &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("no-such.oidc: not found"), "{out}");
}

const RUN_SPEC: &str = "version: 1\nsteps:\n  - provider: run\n    with: {commands: ['true']}\n";

fn an_exec_user_whose_command_is_missing_is_a_problem() {
    let d = Doctor::new();
    let spec = d.sb.write_spec(RUN_SPEC);
    std::fs::write(
        d.sb.kubeconfig(),
        "apiVersion: v1\nkind: Config\ncurrent-context: aks\nclusters:\n- name: aks\n  cluster: {server: 'https://aks.example:443'}\ncontexts:\n- name: aks\n  context: {cluster: aks, user: sp}\n- name: other\n  context: {cluster: aks, user: robot}\nusers:\n- name: sp\n  user:\n    exec: {apiVersion: client.authentication.k8s.io/v1beta1, command: kubelogin, args: [get-token]}\n- name: robot\n  user: {token: CANARY-static-token}\n",
    )
    .unwrap();
    let (code, out, _) = d.run(&[spec.to_str().unwrap()], &[]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(
            "context aks (current): cluster aks at https://aks.example:443, user sp (exec)"
        ),
        "{out}"
    );
    assert!(
        out.contains("[!!] its exec user runs kubelogin, which is not found on PATH"),
        "{out}"
    );
    assert!(
        out.contains("context other: cluster aks at https://aks.example:443, user robot (token)"),
        "{out}"
    );
    // An exec user whose environment names a token file that is gone
    // (the web identity of a later phase) is a problem; its path is not
    // shown.
    let gone = d.sb.path("work/gone.oidc");
    std::fs::write(
        d.sb.path("kube/config2"),
        format!("apiVersion: v1\nkind: Config\ncurrent-context: eks\nclusters:\n- name: k\n  cluster: {{server: 'https://eks.example'}}\ncontexts:\n- name: eks\n  context: {{cluster: k, user: u}}\nusers:\n- name: u\n  user:\n    exec:\n      command: kubelogin\n      env:\n      - {{name: AWS_WEB_IDENTITY_TOKEN_FILE, value: '{}'}}\n", gone.display()),
    )
    .unwrap();
    let kubeconfig2 = d.sb.path("kube/config2");
    let args = [
        "--kubeconfig",
        kubeconfig2.to_str().unwrap(),
        spec.to_str().unwrap(),
    ];
    let (_, out, _) = d.run(&args, &[]);
    assert!(
        out.contains(
            "[!!] its exec user's AWS_WEB_IDENTITY_TOKEN_FILE names a file that is not there"
        ),
        "{out}"
    );
    assert!(!out.contains("gone.oidc"), "{out}");
    std::fs::write(&gone, oidc_token(now() + 3600)).unwrap();
    let (_, out, _) = d.run(&args, &[]);
    assert!(
        out.contains("[ok] the file its exec user's AWS_WEB_IDENTITY_TOKEN_FILE names is there"),
        "{out}"
    );
    // Once it is there, the same kubeconfig is fine.
    d.stub_version("kubelogin", "v0.1.4");
    let (code, out, _) = d.run(&[spec.to_str().unwrap()], &[]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("[ok] its exec user runs kubelogin, found at"),
        "{out}"
    );
}

fn a_cli_too_old_for_a_rendered_flag_is_a_problem() {
    let d = Doctor::new();
    d.stub_version("gcloud", "Google Cloud SDK 450.0.0");
    let spec = d.sb.write_spec(
        "version: 1\nsteps:\n  - provider: gke\n    with: {cluster: prod, region: europe-west1, project: acme, dns_endpoint: true}\n",
    );
    let env = [("GOOGLE_OAUTH_ACCESS_TOKEN", GCP_TOKEN)];
    let (code, out, _) = d.run(&[spec.to_str().unwrap()], &env);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("[!!] gcloud 450.0.0: --dns-endpoint needs 496.0.0 or later"),
        "{out}"
    );
    assert!(
        out.contains(
            "[ok] gcloud 450.0.0: has auth: token (CLOUDSDK_AUTH_ACCESS_TOKEN) (since 371.0.0)"
        ),
        "{out}"
    );
    // Without the flag, that version has all the step needs.
    let spec = d.sb.write_spec(
        "version: 1\nsteps:\n  - provider: gke\n    with: {cluster: prod, region: europe-west1, project: acme}\n",
    );
    let (code, out, _) = d.run(&[spec.to_str().unwrap()], &env);
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains("dns-endpoint"), "{out}");
}

fn gke_oidc_with_an_access_token_set_is_a_problem() {
    let d = Doctor::new();
    d.stub_version("gcloud", "Google Cloud SDK 528.0.0");
    d.stub_version("gke-gcloud-auth-plugin", "Kubernetes v1.30.0+03fcd0f8");
    let token = d.sb.path("work/spacelift.oidc");
    std::fs::write(&token, oidc_token(now() + 3600)).unwrap();
    let credentials = d.sb.path("work/gcp.json");
    std::fs::write(
        &credentials,
        json!({"type": "external_account", "credential_source": {"file": token}}).to_string(),
    )
    .unwrap();
    let spec = d.sb.write_spec(
        "version: 1\nsteps:\n  - provider: gke\n    with: {cluster: prod, region: europe-west1, project: acme, auth: oidc}\n",
    );
    let env = [(
        "GOOGLE_APPLICATION_CREDENTIALS",
        credentials.to_str().unwrap(),
    )];
    let (code, out, _) = d.run(&[spec.to_str().unwrap()], &env);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(
            "[ok] GCP: gcloud will use the external-account credentials file (auth: oidc)"
        ),
        "{out}"
    );
    // The token that the credentials file names, read through it; the
    // variable holds a path, which is shown (the file's content is not).
    let named = format!(
        "[ok] the OIDC token named by {}: a JWT, issuer https://acme.app.spacelift.io",
        credentials.display()
    );
    assert!(out.contains(&named), "{out}");
    assert!(out.contains("[ok] gke-gcloud-auth-plugin 1.30.0"), "{out}");
    // An access token left in the environment wins over the file.
    let mut env = env.to_vec();
    env.push(("CLOUDSDK_AUTH_ACCESS_TOKEN", GCP_TOKEN));
    let (code, out, _) = d.run(&[spec.to_str().unwrap()], &env);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("[!!] GCP: auth: oidc, but CLOUDSDK_AUTH_ACCESS_TOKEN is set: gcloud prefers it to the credentials file"), "{out}");
}

fn azure_spn_names_the_arm_variables_and_kubelogin_s_version() {
    let d = Doctor::new();
    d.stub_version(
        "az",
        "{\"azure-cli\": \"2.67.0\", \"azure-cli-core\": \"2.67.0\"}",
    );
    // Older than --use-azurerm-env-vars (0.0.18), which spn renders.
    d.stub_version("kubelogin", "kubelogin version\ngit hash: v0.0.10/0f5fd3a");
    let spec = d.sb.write_spec(
        "version: 1\nsteps:\n  - provider: azure-aks\n    with: {cluster: prod, resource_group: rg, login: spn}\n",
    );
    let env = [
        ("ARM_CLIENT_ID", "app-0001"),
        ("ARM_TENANT_ID", "tenant-0001"),
        ("ARM_CLIENT_SECRET", "CANARY-arm-secret"),
    ];
    let (code, out, _) = d.run(&[spec.to_str().unwrap()], &env);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("[--] Azure: set: ARM_CLIENT_ID, ARM_TENANT_ID, ARM_CLIENT_SECRET"),
        "{out}"
    );
    assert!(
        out.contains(
            "[ok] Azure: login: spn, and kubelogin finds ARM_CLIENT_SECRET at kubectl time"
        ),
        "{out}"
    );
    assert!(out.contains("[ok] az 2.67.0 at "), "{out}");
    assert!(out.contains("[!!] kubelogin 0.0.10: kubelogin get-token --use-azurerm-env-vars needs 0.0.18 or later"), "{out}");
    assert!(out.contains("1 problem found."), "{out}");
}

/// A stub that records the environment it was given (into the bin
/// directory, which the no-change check leaves out), then prints a
/// version.
fn version_commands_get_no_secret_and_a_private_config_dir() {
    let d = Doctor::new();
    let record = d.sb.bin().join("aws.env");
    d.sb.script(
        "aws",
        &format!(
            "#!/bin/sh\n/usr/bin/env > '{}'\n[ -d \"$CLOUDSDK_CONFIG\" ] || echo no-dir >> '{}'\necho aws-cli/2.31.0\n",
            record.display(),
            record.display()
        ),
    );
    let token = d.sb.path("work/spacelift.oidc");
    std::fs::write(&token, oidc_token(now() + 3600)).unwrap();
    let spec = d.aws_oidc_spec(&token);
    let env = [
        ("AWS_SESSION_TOKEN", AWS_KEY),
        ("GOOGLE_OAUTH_ACCESS_TOKEN", GCP_TOKEN),
        ("LANG", "C.UTF-8"),
    ];
    let (code, out, _) = d.run(&[spec.to_str().unwrap()], &env);
    assert_eq!(code, 0, "{out}");
    let seen = std::fs::read_to_string(&record).unwrap();
    assert!(seen.contains("LANG=C.UTF-8"), "{seen}");
    assert!(
        !seen.contains("CANARY") && !seen.contains("SECRET"),
        "{seen}"
    );
    let dir = seen
        .lines()
        .find_map(|l| l.strip_prefix("CLOUDSDK_CONFIG="))
        .unwrap_or_else(|| panic!("{seen}"));
    assert!(dir.starts_with(d.sb.tmp().to_str().unwrap()), "{dir}");
    assert!(
        !Path::new(dir).parent().unwrap().exists(),
        "{dir} is removed"
    );
}

fn a_hanging_cli_is_ended_at_the_timeout() {
    let d = Doctor::new();
    d.sb.script("aws", "#!/bin/sh\n/bin/sleep 600 &\nexec /bin/sleep 600\n");
    let token = d.sb.path("work/spacelift.oidc");
    std::fs::write(&token, oidc_token(now() + 3600)).unwrap();
    let spec = d.aws_oidc_spec(&token);
    let (code, out, _) = d.run(&["--timeout", "1s", spec.to_str().unwrap()], &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("aws: `"), "{out}");
    assert!(out.contains("failed (no answer within 1s)"), "{out}");
}

fn a_held_lock_names_its_holder() {
    let d = Doctor::new();
    let spec = d.sb.write_spec(RUN_SPEC);
    // The lock as a running `stackhook run` holds it: flock on the lock
    // file beside the kubeconfig, holding the run's pid.
    let dir = std::fs::canonicalize(d.sb.path("kube")).unwrap();
    let lock = std::fs::File::create(dir.join(".config.stackhook-lock")).unwrap();
    std::io::Write::write_all(&mut &lock, b"4242\n").unwrap();
    lock.lock().unwrap();
    let (code, out, _) = d.run(&[spec.to_str().unwrap()], &[]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("[!!] another stackhook run (pid 4242) holds the kubeconfig's lock"),
        "{out}"
    );
    // Still held by us: doctor took nothing.
    assert!(
        std::fs::File::open(dir.join(".config.stackhook-lock"))
            .unwrap()
            .try_lock()
            .is_err()
    );
    lock.unlock().unwrap();
    let (code, out, _) = d.run(&[spec.to_str().unwrap()], &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("a lock file is left by a run"), "{out}");
}

fn names_from_the_kubeconfig_cannot_act_on_the_terminal() {
    let d = Doctor::new();
    let spec = d.sb.write_spec(RUN_SPEC);
    // ESC [2K erases the line; CR goes back to its start.
    std::fs::write(
        d.sb.kubeconfig(),
        "apiVersion: v1\nkind: Config\ncurrent-context: \"a\\e[2Kb\"\nclusters: [{name: k, cluster: {server: \"https://x\\r\"}}]\ncontexts: [{name: \"a\\e[2Kb\", context: {cluster: k, user: \"u\\e]0;t\"}}]\nusers: [{name: \"u\\e]0;t\", user: {exec: {command: \"evil\\e[2K\"}}}]\n",
    )
    .unwrap();
    let (code, out, _) = d.run(&[spec.to_str().unwrap()], &[]);
    assert_eq!(code, 1, "{out}");
    assert!(!out.contains('\x1b') && !out.contains('\r'), "{out:?}");
    assert!(
        out.contains(
            "context a\\x1b[2Kb (current): cluster k at https://x\\r, user u\\x1b]0;t (exec)"
        ),
        "{out}"
    );
    assert!(
        out.contains("its exec user runs evil\\x1b[2K, which is not found"),
        "{out}"
    );
}

fn a_healthy_runner_exits_0() {
    let d = Doctor::new();
    d.stub_version("gcloud", "Google Cloud SDK 528.0.0");
    let spec = d.sb.write_spec(
        "version: 1\nsteps:\n  - provider: gke\n    with: {cluster: prod, region: europe-west1, project: acme}\n  - provider: verify\n",
    );
    let (code, out, err) = d.run(
        &[spec.to_str().unwrap()],
        &[("GOOGLE_OAUTH_ACCESS_TOKEN", GCP_TOKEN)],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("[ok] GCP: gcloud will use the access token in GOOGLE_OAUTH_ACCESS_TOKEN"),
        "{out}"
    );
    assert!(out.contains("[ok] gcloud 528.0.0 at "), "{out}");
    assert!(
        out.contains("[ok] no run holds the kubeconfig's lock"),
        "{out}"
    );
    assert!(out.ends_with("No problems found.\n"), "{out}");
    assert!(!out.contains("[!!]"), "{out}");
    // The same without the token: the variable is named, the plan's
    // missing variable too.
    let (code, out, _) = d.run(&[spec.to_str().unwrap()], &[]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("[!!] GOOGLE_OAUTH_ACCESS_TOKEN is not set"),
        "{out}"
    );
}

fn json_has_the_documented_shape() {
    let d = Doctor::new();
    d.stub_version("aws", "aws-cli/2.10.0");
    let token = d.sb.path("work/spacelift.oidc");
    std::fs::write(&token, oidc_token(now() + 3600)).unwrap();
    let spec = d.sb.write_spec(&format!(
        "version: 1\nsteps:\n  - provider: aws-eks\n    name: eks\n    with:\n      cluster: prod\n      region: eu-west-1\n      auth: oidc\n      role_arn: arn:aws:iam::1:role/ci\n      token_file: {}\n      user_alias: ci\n",
        token.display()
    ));
    std::fs::write(d.sb.kubeconfig(), TWO_CONTEXTS).unwrap();
    let (code, out, _) = d.run(&["--format", "json", spec.to_str().unwrap()], &[]);
    assert_eq!(code, 1, "{out}");
    let j: Json = serde_json::from_str(&out).unwrap();
    let mut keys: Vec<&str> = j.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "healthy",
            "kubeconfig",
            "plan",
            "problems",
            "spec",
            "steps",
            "tools",
            "version"
        ]
    );
    assert_eq!(j["version"], 1);
    assert_eq!(j["healthy"], false);
    assert_eq!(j["steps"][0]["name"], "eks");
    assert_eq!(j["steps"][0]["provider"], "aws-eks");
    assert_eq!(j["steps"][0]["requires"], json!(["aws"]));
    for f in j["steps"][0]["findings"].as_array().unwrap() {
        assert!(
            ["ok", "note", "problem"].contains(&f["status"].as_str().unwrap()),
            "{f}"
        );
        assert!(f["check"].is_string() && f["message"].is_string(), "{f}");
    }
    assert_eq!(j["tools"][0]["name"], "aws");
    assert_eq!(j["tools"][0]["version"], "2.10.0");
    let k = &j["kubeconfig"];
    assert_eq!(k["path"], d.sb.kubeconfig().display().to_string());
    assert_eq!(
        (
            k["exists"].clone(),
            k["writable"].clone(),
            k["lock"].clone()
        ),
        (json!(true), json!(true), json!("free"))
    );
    assert_eq!(k["current_context"], "staging");
    let names: Vec<&str> = k["contexts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["staging", "prod"]);
    assert_eq!(k["contexts"][0]["auth"], "token");
    assert_eq!(k["contexts"][0]["server"], "https://staging.example:6443");
    // aws 2.10.0 lacks --user-alias (2.11.6): the one problem.
    assert_eq!(
        j["problems"],
        json!(["aws 2.10.0: --user-alias needs 2.11.6 or later"])
    );
    assert!(
        !out.contains("alice-token"),
        "a user's token is never read out"
    );
}

fn an_invalid_spec_or_usage_exits_2() {
    let d = Doctor::new();
    let spec = d.sb.write_spec("version: 1\nsteps:\n  - provider: nope\n");
    let (code, _, err) = d.run(&[spec.to_str().unwrap()], &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("nope"), "{err}");
    let spec = d.sb.write_spec(RUN_SPEC);
    let (code, _, err) = d.run(
        &["--cluster", "--can-i", "get", spec.to_str().unwrap()],
        &[],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("give a verb and a resource"), "{err}");
    let (code, _, err) = d.run(&["--can-i", "get pods", spec.to_str().unwrap()], &[]);
    assert_eq!(code, 2, "--can-i needs --cluster: {err}");
}

/// The version the real CLI says in its own words, read here with a
/// pattern of the test's own.
fn says(cli: &Path, args: &[&str], before: &str) -> String {
    let out = Command::new(cli).args(args).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let rest = &text[text.find(before).unwrap_or_else(|| panic!("{text}")) + before.len()..];
    rest.chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect()
}

/// Version parsing on what the real aws, gcloud and az print (their
/// version commands only: nothing reaches a network).
fn the_real_clis_versions_are_read() {
    let d = Doctor::new();
    let az = az_venv().join("bin/az");
    for (name, path) in [
        ("aws", which("aws").unwrap()),
        ("gcloud", which("gcloud").unwrap()),
        ("az", az.clone()),
    ] {
        std::os::unix::fs::symlink(&path, d.sb.bin().join(name)).unwrap();
    }
    let aws = says(&which("aws").unwrap(), &["--version"], "aws-cli/");
    let gcloud = says(
        &which("gcloud").unwrap(),
        &["--version"],
        "Google Cloud SDK ",
    );
    let az_version = says(&az, &["version"], "\"azure-cli\": \"");
    let spec = d.sb.write_spec(
        "version: 1\nsteps:\n  - provider: aws-eks\n    with: {cluster: c, region: eu-west-1}\n  - provider: gke\n    with: {cluster: c, region: r, project: p}\n  - provider: azure-aks\n    with: {cluster: c, resource_group: g, login: msi}\n",
    );
    let path = format!("{}:/usr/bin:/bin", d.sb.bin().display());
    let (_, out, _) = d.run(
        &[
            "--format",
            "json",
            "--timeout",
            "120s",
            spec.to_str().unwrap(),
        ],
        &[("PATH", &path), ("GOOGLE_OAUTH_ACCESS_TOKEN", GCP_TOKEN)],
    );
    let j: Json = serde_json::from_str(&out).unwrap();
    let version = |name: &str| {
        j["tools"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == name)
            .map(|t| t["version"].clone())
    };
    assert_eq!(version("aws"), Some(json!(aws)), "{out}");
    assert_eq!(version("gcloud"), Some(json!(gcloud)), "{out}");
    assert_eq!(version("az"), Some(json!(az_version)), "{out}");
}

/// The fake Kubernetes API, running until dropped.
struct Fake {
    child: Child,
    _dir: tempfile::TempDir,
    port: u64,
    ca: PathBuf,
}

impl Fake {
    fn start(mut config: Json) -> Fake {
        let dir = tempfile::tempdir().unwrap();
        config["dir"] = json!(dir.path());
        let cfg = dir.path().join("config.json");
        std::fs::write(&cfg, config.to_string()).unwrap();
        let mut child = Command::new(fake_cloud_python())
            .arg(root().join("tests/fakes/fake_cloud.py"))
            .arg(&cfg)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let hello: Json = serde_json::from_str(&line).expect("the fake cloud started");
        Fake {
            child,
            _dir: dir,
            port: hello["ports"]["k8s"].as_u64().unwrap(),
            ca: PathBuf::from(hello["ca"].as_str().unwrap()),
        }
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn cluster_says_who_you_are_and_what_you_may_do() {
    use base64::Engine;
    const K8S_TOKEN: &str = "CANARY-k8s-token";
    let fake = Fake::start(json!({
        "k8s_tokens": [K8S_TOKEN],
        "denied": ["delete secrets"],
    }));
    let d = Doctor::new();
    d.sb.with_real_kubectl();
    let ca = base64::engine::general_purpose::STANDARD.encode(std::fs::read(&fake.ca).unwrap());
    // One context the fake serves, with the token in the kubeconfig, and
    // one whose server does not answer.
    std::fs::write(
        d.sb.kubeconfig(),
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: fake\nclusters:\n- name: fake\n  cluster:\n    server: https://127.0.0.1:{}\n    certificate-authority-data: {ca}\n- name: gone\n  cluster: {{server: 'https://127.0.0.1:1'}}\ncontexts:\n- name: fake\n  context: {{cluster: fake, user: robot}}\n- name: gone\n  context: {{cluster: gone, user: robot}}\nusers:\n- name: robot\n  user: {{token: {K8S_TOKEN}}}\n",
            fake.port
        ),
    )
    .unwrap();
    let spec = d.sb.write_spec(RUN_SPEC);
    let args = [
        "--cluster",
        "--can-i",
        "get pods",
        "--can-i",
        "delete secrets",
        "--timeout",
        "20s",
    ];
    let mut all: Vec<&str> = args.to_vec();
    all.push(spec.to_str().unwrap());
    let (code, out, err) = d.run(&all, &[]);
    assert_eq!(code, 1, "{out}{err}");
    use sha2::Digest;
    let who: String = sha2::Sha256::digest(K8S_TOKEN.as_bytes())
        .iter()
        .take(4)
        .map(|b| format!("{b:02x}"))
        .collect();
    assert!(
        out.contains("[ok] the server answers (Kubernetes v1.32.0-fake)"),
        "{out}"
    );
    assert!(
        out.contains(": has kubectl auth whoami (--cluster) (since 1.27.0)"),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "[ok] signed in as fake-user:{who} (groups: system:authenticated)"
        )),
        "{out}"
    );
    assert!(out.contains("[ok] can-i get pods: yes"), "{out}");
    assert!(out.contains("[!!] can-i delete secrets: no"), "{out}");
    let gone = out
        .split("context gone")
        .nth(1)
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        gone.contains("[!!] the server did not answer /version"),
        "{out}"
    );
    // JSON: the same, per context.
    all.splice(0..0, ["--format", "json"]);
    let (_, out, _) = d.run(&all, &[]);
    let j: Json = serde_json::from_str(&out).unwrap();
    let fake_ctx = &j["kubeconfig"]["contexts"][0]["cluster_check"];
    assert_eq!(fake_ctx["reachable"], true);
    assert_eq!(fake_ctx["username"], format!("fake-user:{who}"));
    assert_eq!(
        fake_ctx["can_i"],
        json!([{"request": "get pods", "allowed": true}, {"request": "delete secrets", "allowed": false}])
    );
    assert_eq!(
        j["kubeconfig"]["contexts"][1]["cluster_check"]["reachable"],
        false
    );
}
