//! End to end: every shipped spec through `stackhook run` with the real
//! `aws`, `gcloud`, `az` and `kubectl` against local fakes of the cloud APIs
//! (tests/fakes/fake_cloud.py, 127.0.0.1 only), then the resulting
//! kubeconfig proven by calling the fake Kubernetes API with kubectl.
//!
//! Stubs stand in only where no real CLI can be installed here:
//! `kubelogin` (Azure) and `vault` (tests/fakes/, each says why).
//! Where a CLI is missing, its tests are skipped with one line; with
//! STACKHOOK_E2E=require (as .ci/run sets) that is a failure instead.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use common::harness::{self, Need, case};
use common::*;
use serde_json::{Value as Json, json};

fn main() {
    harness::main(vec![
        case!(
            eks_logs_in_and_kubectl_reaches_the_api,
            Need::Cli("aws"),
            Need::Kubectl,
            Need::FakeCloud
        ),
        case!(
            eks_with_a_context_user_alias_and_namespace,
            Need::Cli("aws"),
            Need::Kubectl,
            Need::FakeCloud
        ),
        case!(
            eks_with_only_aws_on_path,
            Need::Cli("aws"),
            Need::Kubectl,
            Need::FakeCloud
        ),
        case!(
            eks_oidc_web_identity_in_later_phases,
            Need::Cli("aws"),
            Need::Kubectl,
            Need::FakeCloud
        ),
        case!(
            eks_oidc_wins_over_static_keys,
            Need::Cli("aws"),
            Need::Kubectl,
            Need::FakeCloud
        ),
        case!(
            eks_oidc_session_name,
            Need::Cli("aws"),
            Need::Kubectl,
            Need::FakeCloud
        ),
        case!(
            an_expired_oidc_token_stops_the_run_before_any_command,
            Need::Cli("aws"),
            Need::Kubectl,
            Need::FakeCloud
        ),
        case!(
            eks_assume_role_and_proxy_url,
            Need::Cli("aws"),
            Need::Kubectl,
            Need::FakeCloud
        ),
        case!(
            eks_with_a_wrong_secret_fails_with_a_hint_and_rolls_back,
            Need::Cli("aws"),
            Need::Kubectl,
            Need::FakeCloud
        ),
        case!(
            eks_unknown_cluster_fails_with_a_hint,
            Need::Cli("aws"),
            Need::Kubectl,
            Need::FakeCloud
        ),
        case!(
            gke_region_token_swap,
            Need::Cli("gcloud"),
            Need::Kubectl,
            Need::FakeCloud
        ),
        case!(
            gke_zone_token_swap,
            Need::Cli("gcloud"),
            Need::Kubectl,
            Need::FakeCloud
        ),
        case!(
            gke_location_token_swap,
            Need::Cli("gcloud"),
            Need::Kubectl,
            Need::FakeCloud
        ),
        case!(
            gke_shared_spec_with_only_the_zone_set,
            Need::Cli("gcloud"),
            Need::Kubectl,
            Need::FakeCloud
        ),
        case!(
            gke_token_swap_under_busybox_sh,
            Need::Cli("busybox"),
            Need::Cli("gcloud"),
            Need::Kubectl,
            Need::FakeCloud
        ),
        case!(
            gke_exec_survives_a_resumed_run_with_a_new_token,
            Need::Cli("gcloud"),
            Need::Kubectl,
            Need::FakeCloud
        ),
        case!(
            gke_token_credentials_write_a_static_token,
            Need::Cli("gcloud"),
            Need::Kubectl,
            Need::FakeCloud
        ),
        case!(
            gke_plugin_credentials_work_through_gcloud,
            Need::Cli("gcloud"),
            Need::Cli("gke-gcloud-auth-plugin"),
            Need::Kubectl,
            Need::FakeCloud
        ),
        case!(
            env_file_carries_an_absolute_kube_config_path,
            Need::Cli("gcloud"),
            Need::Kubectl,
            Need::FakeCloud
        ),
        case!(
            gke_connect_gateway_membership,
            Need::Cli("gcloud"),
            Need::Kubectl,
            Need::FakeCloud
        ),
        case!(
            gke_impersonation_and_billing_project,
            Need::Cli("gcloud"),
            Need::Cli("gke-gcloud-auth-plugin"),
            Need::Kubectl,
            Need::FakeCloud
        ),
        case!(
            gke_oidc_workload_identity_federation,
            Need::Cli("gcloud"),
            Need::Cli("gke-gcloud-auth-plugin"),
            Need::Kubectl,
            Need::FakeCloud
        ),
        case!(
            gke_token_credentials_parameter_names_its_replacement,
            Need::Cli("gcloud"),
            Need::Kubectl,
            Need::FakeCloud
        ),
        case!(
            gke_with_a_wrong_token_fails_and_keeps_the_old_kubeconfig,
            Need::Cli("gcloud"),
            Need::Kubectl,
            Need::FakeCloud
        ),
        case!(
            aks_service_principal_needs_no_env_file_in_later_phases,
            Need::Az,
            Need::Kubectl,
            Need::FakeCloud
        ),
        case!(
            aks_service_principal_with_a_hostile_secret,
            Need::Az,
            Need::Kubectl,
            Need::FakeCloud
        ),
        case!(
            aks_oidc_federated_token,
            Need::Az,
            Need::Kubectl,
            Need::FakeCloud
        ),
        case!(
            aks_certificate_with_a_password,
            Need::Az,
            Need::Cli("openssl"),
            Need::Kubectl,
            Need::FakeCloud
        ),
        case!(
            aks_azure_cli_login_with_context_and_namespace,
            Need::Az,
            Need::Kubectl,
            Need::FakeCloud
        ),
        case!(
            aks_service_principal_with_a_wrong_secret_fails_with_a_hint,
            Need::Az,
            Need::Kubectl,
            Need::FakeCloud
        ),
        case!(
            aks_managed_identity,
            Need::Az,
            Need::Kubectl,
            Need::FakeCloud
        ),
        case!(
            aks_managed_identity_takes_arm_client_id,
            Need::Az,
            Need::Kubectl,
            Need::FakeCloud
        ),
        case!(
            aks_admin_with_every_login,
            Need::Az,
            Need::Cli("openssl"),
            Need::Kubectl,
            Need::FakeCloud
        ),
        case!(
            aks_certificate_in_a_legacy_rc2_pfx,
            Need::Az,
            Need::Cli("openssl"),
            Need::Kubectl,
            Need::FakeCloud
        ),
        case!(
            kubeconfig_from_env_plain_and_base64,
            Need::Kubectl,
            Need::FakeCloud
        ),
        case!(
            kubeconfig_from_url_checks_its_sha256,
            Need::Cli("curl"),
            Need::Kubectl,
            Need::FakeCloud
        ),
        case!(kubeconfig_mounted, Need::Kubectl, Need::FakeCloud),
        case!(
            the_argv_check_sees_every_argument,
            Need::Kubectl,
            Need::FakeCloud
        ),
        case!(
            kubeconfig_mounted_without_current_context_with_context_and_namespace,
            Need::Kubectl,
            Need::FakeCloud
        ),
        case!(
            gke_and_kubeconfig_env_with_context_and_namespace,
            Need::Cli("gcloud"),
            Need::Kubectl,
            Need::FakeCloud
        ),
        case!(
            proxy_url_for_gke_and_every_kubeconfig_source,
            Need::Cli("gcloud"),
            Need::Kubectl,
            Need::FakeCloud
        ),
        case!(
            kubeconfig_mounted_but_missing_fails_preflight_free_and_clear,
            Need::Kubectl,
            Need::FakeCloud
        ),
        case!(custom_run_with_vault, Need::Kubectl, Need::FakeCloud),
        case!(
            verify_fails_fast_when_the_api_refuses_the_token,
            Need::Kubectl,
            Need::FakeCloud
        ),
        case!(
            verify_asks_who_and_what_the_identity_may_do,
            Need::Kubectl,
            Need::FakeCloud
        ),
        case!(
            verify_on_an_api_server_without_self_subject_review,
            Need::Kubectl,
            Need::FakeCloud
        ),
        case!(
            a_secret_in_any_parameter_is_refused_before_any_cli_runs,
            Need::Az,
            Need::Cli("curl"),
            Need::Kubectl,
            Need::FakeCloud
        ),
        case!(
            rancher_example_hands_its_token_to_curl_in_a_file,
            Need::Cli("curl"),
            Need::Kubectl,
            Need::FakeCloud
        ),
        case!(
            aks_values_az_reads_from_a_file_are_refused,
            Need::Az,
            Need::Kubectl,
            Need::FakeCloud
        ),
        case!(
            eks_values_aws_reads_from_a_file_or_a_url_are_refused,
            Need::Cli("aws"),
            Need::Kubectl,
            Need::FakeCloud
        ),
    ]);
}

const GKE_TOKEN: &str = "ya29.CANARY-gke-access-token";
const AWS_KEY: &str = "AKIDSTACKHOOKTEST";
const AWS_SECRET: &str = "CANARY-aws-secret-key";
const ARM_SECRET: &str = "CANARY-arm-client-secret";
const STATIC_TOKEN: &str = "CANARY-static-kube-token";
const SUBSCRIPTION: &str = "00000000-0000-0000-0000-00000000cafe";

fn spec(name: &str) -> String {
    root().join("specs").join(name).display().to_string()
}

/// A CLI the test needs (declared as a `Need`, so the harness checked it).
fn cli(name: &str) -> PathBuf {
    if name == "az" {
        return az_venv().join("bin/az");
    }
    which(name).unwrap_or_else(|| panic!("{name} is not on PATH"))
}

/// Where `kubectl auth whoami` (the verify step) asks who it is.
const SELF_SUBJECT_REVIEWS: &str = "/apis/authentication.k8s.io/v1/selfsubjectreviews";

/// The fake cloud, running until dropped.
struct Fake {
    child: Child,
    dir: tempfile::TempDir,
    ports: Json,
    ca: PathBuf,
    /// Files the fake made (a client certificate).
    files: Json,
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
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(!line.is_empty(), "the fake cloud did not start");
        let hello: Json = serde_json::from_str(&line).unwrap();
        Fake {
            child,
            dir,
            ports: hello["ports"].clone(),
            ca: PathBuf::from(hello["ca"].as_str().unwrap()),
            files: hello["files"].clone(),
        }
    }

    fn port(&self, name: &str) -> u64 {
        self.ports[name].as_u64().unwrap()
    }

    fn requests(&self) -> Vec<Json> {
        std::fs::read_to_string(self.dir.path().join("requests.log"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    fn saw(&self, server: &str, path_prefix: &str, status: u64) -> bool {
        self.requests().iter().any(|r| {
            r["server"] == server
                && r["path"].as_str().unwrap().starts_with(path_prefix)
                && r["status"] == status
        })
    }

    /// Whether the verify step's `kubectl auth whoami` was answered.
    fn verified(&self) -> bool {
        self.saw("k8s", SELF_SUBJECT_REVIEWS, 201)
    }

    /// A kubeconfig for the fake API with a static bearer token.
    fn static_kubeconfig(&self) -> String {
        let ca = std::fs::read(&self.ca).unwrap();
        let ca = base64_encode(&ca);
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: fake\nclusters:\n- name: fake\n  cluster:\n    server: https://127.0.0.1:{}\n    certificate-authority-data: {ca}\ncontexts:\n- name: fake\n  context:\n    cluster: fake\n    user: robot\nusers:\n- name: robot\n  user:\n    token: {STATIC_TOKEN}\n",
            self.port("k8s")
        )
    }
}

impl Drop for E2e {
    /// No secret in any child's argv: every secret of these tests holds
    /// CANARY, and the wrappers (and the kubelogin stub) recorded every
    /// argument the CLIs were given, by stackhook, kubectl or each other.
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        if let Some(leak) = self.argv_leak() {
            panic!("a secret reached a child's argv: {leak}");
        }
    }
}

impl E2e {
    /// The recorded argv that holds a secret, if any.
    fn argv_leak(&self) -> Option<String> {
        [self.argv_log(), self.sb.path("work/kubelogin.log")]
            .iter()
            .map(|log| std::fs::read_to_string(log).unwrap_or_default())
            .find(|text| text.contains("CANARY"))
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        // Closing stdin stops it; kill in case it is stuck.
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn spn_token(client_id: &str, secret: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("{client_id}:{secret}").as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("spn-{}", &hex[..32])
}

fn config() -> Json {
    json!({
        "k8s_tokens": [STATIC_TOKEN, GKE_TOKEN, spn_token("app-0001", ARM_SECRET), "msi-token"],
        "eks": {"cluster": "eks-prod", "region": "eu-west-1", "access_key": AWS_KEY, "secret_key": AWS_SECRET},
        "gke": {"token": GKE_TOKEN, "project": "acme-prod", "location": "europe-west1", "cluster": "gke-prod"},
        "aks": {"tenant": "tenant-0001", "subscription": SUBSCRIPTION, "client_id": "app-0001",
                "client_secret": ARM_SECRET, "resource_group": "rg-prod", "cluster": "aks-prod",
                "identity_header": "identity-header-value"},
    })
}

/// The sandbox's environment for the e2e runs: PATH = the sandbox's bin
/// (real CLIs linked in, stubs copied in), then the test's own PATH minus
/// directories holding `exclude`d programs.
struct E2e {
    sb: Sandbox,
    fake: Fake,
    env: Vec<(String, String)>,
}

impl E2e {
    fn new(config: Json, clis: &[&str], exclude: &[&str]) -> E2e {
        let found: Vec<(String, PathBuf)> = clis.iter().map(|c| (c.to_string(), cli(c))).collect();
        let sb = Sandbox::new();
        sb.with_real_kubectl();
        let fake = Fake::start(config);
        for (name, path) in &found {
            std::os::unix::fs::symlink(path, sb.bin().join(name)).unwrap();
        }
        let mut dirs = vec![sb.bin().display().to_string()];
        for d in std::env::var("PATH").unwrap_or_default().split(':') {
            if exclude.iter().any(|x| Path::new(d).join(x).exists()) {
                dirs.push(filtered_copy(&sb, d, exclude));
            } else {
                dirs.push(d.to_string());
            }
        }
        let mut env: Vec<(String, String)> =
            sb.envs().into_iter().filter(|(k, _)| k != "PATH").collect();
        env.push(("PATH".into(), dirs.join(":")));
        // pyenv shims (the aws CLI here) find their root from HOME otherwise.
        if let Ok(root) = std::env::var("PYENV_ROOT") {
            env.push(("PYENV_ROOT".into(), root));
        } else if let Ok(home) = std::env::var("HOME") {
            env.push(("PYENV_ROOT".into(), format!("{home}/.pyenv")));
        }
        let e = E2e { sb, fake, env };
        for name in clis.iter().copied().chain(["kubectl"]) {
            e.record_argv(name);
        }
        e
    }

    /// Replaces the CLI in the sandbox's bin with a wrapper that appends
    /// its argv to argv.log, then runs the real one: every e2e test checks,
    /// when it ends, that no secret reached any child's argv (issue 13).
    fn record_argv(&self, name: &str) {
        use std::os::unix::fs::PermissionsExt;
        let link = self.sb.bin().join(name);
        let real = match std::fs::read_link(&link) {
            Ok(target) => target,
            Err(_) => which(name).unwrap_or_else(|| panic!("{name} is not on PATH")),
        };
        let _ = std::fs::remove_file(&link);
        let script = format!(
            "#!/bin/sh\nfor a in \"$0\" \"$@\"; do printf '%s\\n' \"$a\"; done >> '{}'\nexec '{}' \"$@\"\n",
            self.argv_log().display(),
            real.display()
        );
        std::fs::write(&link, script).unwrap();
        std::fs::set_permissions(&link, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    fn argv_log(&self) -> PathBuf {
        self.sb.path("argv.log")
    }

    fn stub(&self, name: &str) {
        std::fs::copy(
            root().join("tests/fakes").join(name),
            self.sb.bin().join(name),
        )
        .unwrap();
    }

    fn set(&mut self, k: &str, v: &str) {
        self.env.retain(|(n, _)| n != k);
        self.env.push((k.into(), v.into()));
    }

    fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new(program);
        c.env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .current_dir(self.sb.path("work"));
        c.stdin(Stdio::null());
        c
    }

    fn stackhook(&self, args: &[&str]) -> (i32, String, String) {
        let out = self.command(bin()).args(args).output().unwrap();
        let (o, e) = (
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        );
        for canary in [GKE_TOKEN, AWS_SECRET, ARM_SECRET, STATIC_TOKEN] {
            assert!(
                !o.contains(canary) && !e.contains(canary),
                "{canary} leaked:\n{o}\n{e}"
            );
        }
        (out.status.code().unwrap_or(-1), o, e)
    }

    /// kubectl, as a later phase of the IaC run would call it.
    fn kubectl_version(&self) -> std::process::Output {
        self.command("kubectl")
            .args(["get", "--raw", "/version"])
            .output()
            .unwrap()
    }

    fn kubeconfig(&self) -> String {
        std::fs::read_to_string(self.sb.kubeconfig()).unwrap_or_default()
    }
}

/// The sandbox's PATH with some programs taken off it.
fn filtered_path(e: &E2e, exclude: &[&str]) -> String {
    let path = e.env.iter().find(|(k, _)| k == "PATH").unwrap().1.clone();
    path.split(':')
        .map(|d| {
            if exclude.iter().any(|x| Path::new(d).join(x).exists()) {
                filtered_copy(&e.sb, d, exclude)
            } else {
                d.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(":")
}

/// A copy of a PATH directory as symlinks, without some programs.
fn filtered_copy(sb: &Sandbox, dir: &str, exclude: &[&str]) -> String {
    let dest = sb.path(&format!("path{}", dir.replace('/', "_")));
    std::fs::create_dir_all(&dest).unwrap();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let name = e.file_name();
        if !exclude.iter().any(|x| name == *x) {
            let _ = std::os::unix::fs::symlink(e.path(), dest.join(&name));
        }
    }
    dest.display().to_string()
}

fn assert_clean(e: &E2e) {
    assert!(
        e.sb.tmp_entries().is_empty(),
        "left in TMPDIR: {:?}",
        e.sb.tmp_entries()
    );
}

// ------------------------------------------------------------------ EKS

fn eks(config: Json) -> E2e {
    let mut e = E2e::new(config, &["aws"], &[]);
    let endpoint = format!("http://127.0.0.1:{}", e.fake.port("eks"));
    e.set("AWS_ENDPOINT_URL_EKS", &endpoint);
    e.set("AWS_ACCESS_KEY_ID", AWS_KEY);
    e.set("AWS_SECRET_ACCESS_KEY", AWS_SECRET);
    e.set(
        "AWS_CONFIG_FILE",
        &e.sb.path("work/aws-config").display().to_string(),
    );
    e.set(
        "AWS_SHARED_CREDENTIALS_FILE",
        &e.sb.path("work/aws-credentials").display().to_string(),
    );
    e.set("EKS_CLUSTER_NAME", "eks-prod");
    e.set("AWS_REGION", "eu-west-1");
    e
}

fn eks_logs_in_and_kubectl_reaches_the_api() {
    let e = eks(config());
    let (code, _, err) = e.stackhook(&["run", &spec("aws-eks.yaml")]);
    assert_eq!(code, 0, "{err}");
    assert!(e.fake.saw("eks", "/clusters/eks-prod", 200));
    // The verify step's kubectl went through `aws eks get-token`, whose
    // presigned URL the fake checked against the secret key.
    assert!(e.fake.verified());
    assert!(
        e.kubeconfig()
            .contains("current-context: arn:aws:eks:eu-west-1:111122223333:cluster/eks-prod")
    );
    assert!(e.kubectl_version().status.success());
    assert_clean(&e);
}

/// `alias` became `context` (one name in every provider); the namespace
/// and user alias go with it.
fn eks_with_a_context_user_alias_and_namespace() {
    let e = eks(config());
    let spec = e.sb.write_spec(
        r#"version: 1
steps:
  - provider: aws-eks
    with: {cluster: eks-prod, region: eu-west-1, context: prod, user_alias: eks-user, namespace: apps}
  - provider: verify
    with: {can_i: get pods -n default}
"#,
    );
    let (code, _, err) = e.stackhook(&["run", spec.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let kube = e.kubeconfig();
    assert!(kube.contains("current-context: prod"), "{kube}");
    assert!(kube.contains("namespace: apps"), "{kube}");
    assert!(kube.contains("user: eks-user"), "{kube}");
    assert!(e.fake.saw(
        "k8s",
        "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
        201
    ));
}

fn eks_with_a_wrong_secret_fails_with_a_hint_and_rolls_back() {
    let mut e = eks(config());
    std::fs::write(e.sb.kubeconfig(), TWO_CONTEXTS).unwrap();
    e.set("AWS_SECRET_ACCESS_KEY", "not-the-secret");
    let (code, _, err) = e.stackhook(&["run", &spec("aws-eks.yaml")]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("step `verify` failed"), "{err}");
    assert!(err.contains("hint: the credentials were refused"), "{err}");
    assert!(e.fake.saw("k8s", SELF_SUBJECT_REVIEWS, 401));
    assert_eq!(e.kubeconfig(), TWO_CONTEXTS);
    assert_clean(&e);
}

/// Issue 9 item 5: Spacelift's default runner image has the AWS CLI but no
/// kubectl. The shipped spec passes preflight and succeeds there; verify
/// says plainly that it did not call the API server.
fn eks_with_only_aws_on_path() {
    let mut e = eks(config());
    std::fs::remove_file(e.sb.bin().join("kubectl")).unwrap();
    let path = filtered_path(&e, &["kubectl"]);
    e.set("PATH", &path);
    let (code, _, err) = e.stackhook(&["run", &spec("aws-eks.yaml")]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("[verify] warning: kubectl is not on PATH: the API server was not called"),
        "{err}"
    );
    assert!(e.fake.saw("eks", "/clusters/eks-prod", 200));
    assert!(e.kubeconfig().contains("get-token"));
}

/// Web identity: no keys anywhere. The AWS CLI assumes the role with the
/// OIDC token through the fake STS (AWS_ENDPOINT_URL_STS); the kubeconfig
/// carries the role and the token file, so a later phase without any stack
/// variable gets a token that the fake API verifies.
fn eks_oidc_web_identity_in_later_phases() {
    const ROLE: &str = "arn:aws:iam::111122223333:role/spacelift";
    let token = format!("{}.CANARY-aws-oidc.sig", "eyJhbGciOiJub25lIn0");
    let mut cfg = config();
    cfg["sts"] = json!({"role_arn": ROLE, "token": token});
    let mut e = eks(cfg);
    e.env
        .retain(|(k, _)| k != "AWS_ACCESS_KEY_ID" && k != "AWS_SECRET_ACCESS_KEY");
    let file = e.sb.path("kube/spacelift.oidc");
    std::fs::write(&file, &token).unwrap();
    e.set("AWS_WEB_IDENTITY_TOKEN_FILE", file.to_str().unwrap());
    e.set("EKS_ROLE_ARN", ROLE);
    let sts = format!("http://127.0.0.1:{}", e.fake.port("sts"));
    e.set("AWS_ENDPOINT_URL_STS", &sts);
    let (code, _, err) = e.stackhook(&["run", &spec("aws-eks-oidc.yaml")]);
    assert_eq!(code, 0, "{err}");
    assert!(e.fake.saw("sts", "/", 200));
    assert!(e.fake.verified());
    let kube = e.kubeconfig();
    assert!(
        kube.contains("AWS_ROLE_ARN") && kube.contains(ROLE),
        "{kube}"
    );
    assert!(!kube.contains("CANARY"), "{kube}");

    // A later phase in a new container: no stack variables at all, no AWS
    // CLI cache (~/.aws/cli/cache holds assumed-role credentials).
    e.env.retain(|(k, _)| {
        ![
            "EKS_ROLE_ARN",
            "AWS_WEB_IDENTITY_TOKEN_FILE",
            "EKS_CLUSTER_NAME",
        ]
        .contains(&k.as_str())
    });
    let new_container = || {
        let _ = std::fs::remove_dir_all(e.sb.path("work/.aws"));
        e.kubectl_version()
    };
    let later = new_container();
    assert!(
        later.status.success(),
        "{}",
        String::from_utf8_lossy(&later.stderr)
    );
    // The token file is what the kubeconfig names: a token STS refuses
    // means no credentials.
    std::fs::write(&file, "a-token-sts-refuses").unwrap();
    assert!(!new_container().status.success());
}

/// Issue 20 item 3: static keys are set too (another integration's), which
/// the AWS CLI's credential chain prefers to a web identity: the step's
/// aws commands and the kubeconfig's exec user use the role all the same,
/// now and in a later phase that sets the keys again. The fake API accepts
/// only tokens signed with the role's keys.
fn eks_oidc_wins_over_static_keys() {
    const ROLE: &str = "arn:aws:iam::111122223333:role/spacelift";
    let token = format!("{}.CANARY-aws-oidc.sig", "eyJhbGciOiJub25lIn0");
    let mut cfg = config();
    cfg["sts"] = json!({"role_arn": ROLE, "token": token});
    let mut e = eks(cfg);
    e.set("AWS_ACCESS_KEY_ID", "AKIDSTATICOTHER");
    e.set("AWS_SECRET_ACCESS_KEY", "CANARY-static-other-key");
    e.set("AWS_SESSION_TOKEN", "CANARY-static-other-session");
    let file = e.sb.path("kube/spacelift.oidc");
    std::fs::write(&file, &token).unwrap();
    e.set("AWS_WEB_IDENTITY_TOKEN_FILE", file.to_str().unwrap());
    e.set("EKS_ROLE_ARN", ROLE);
    let sts = format!("http://127.0.0.1:{}", e.fake.port("sts"));
    e.set("AWS_ENDPOINT_URL_STS", &sts);
    let (code, _, err) = e.stackhook(&["run", &spec("aws-eks-oidc.yaml")]);
    assert_eq!(code, 0, "{err}");
    assert!(e.fake.saw("sts", "/", 200));
    assert!(e.fake.verified());
    assert!(!e.fake.saw("k8s", SELF_SUBJECT_REVIEWS, 401));
    let kube = e.kubeconfig();
    assert!(
        !kube.contains("CANARY") && !kube.contains("AKIDSTATIC"),
        "{kube}"
    );
    // A later phase, the static keys still set.
    let _ = std::fs::remove_dir_all(e.sb.path("work/.aws"));
    let later = e.kubectl_version();
    assert!(
        later.status.success(),
        "{}",
        String::from_utf8_lossy(&later.stderr)
    );
}

/// Issue 20: `session_name` names the web identity's role session, for the
/// step's aws commands and for `aws eks get-token` at kubectl time.
fn eks_oidc_session_name() {
    const ROLE: &str = "arn:aws:iam::111122223333:role/spacelift";
    let token = format!("{}.CANARY-aws-oidc.sig", "eyJhbGciOiJub25lIn0");
    let mut cfg = config();
    cfg["sts"] = json!({"role_arn": ROLE, "token": token});
    let mut e = eks(cfg);
    e.env
        .retain(|(k, _)| k != "AWS_ACCESS_KEY_ID" && k != "AWS_SECRET_ACCESS_KEY");
    let file = e.sb.path("kube/spacelift.oidc");
    std::fs::write(&file, &token).unwrap();
    let sts = format!("http://127.0.0.1:{}", e.fake.port("sts"));
    e.set("AWS_ENDPOINT_URL_STS", &sts);
    let spec = e.sb.write_spec(&format!(
        r#"version: 1
steps:
  - provider: aws-eks
    with: {{cluster: eks-prod, region: eu-west-1, auth: oidc, role_arn: "{ROLE}", token_file: "{}", session_name: stack-prod}}
"#,
        file.display()
    ));
    let (code, _, err) = e.stackhook(&["run", spec.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let _ = std::fs::remove_dir_all(e.sb.path("work/.aws"));
    assert!(e.kubectl_version().status.success());
    let log = std::fs::read_to_string(e.fake.dir.path().join("sts.log")).unwrap();
    let named = log
        .lines()
        .filter(|l| l.contains(r#""RoleSessionName": "stack-prod""#))
        .count();
    assert_eq!(named, 2, "the run and kubectl: {log}");
}

/// An unsigned JWT expiring at `exp` (seconds since the epoch).
fn jwt_expiring(exp: u64) -> String {
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    format!(
        "{}.{}.sig",
        b64(r#"{"alg":"RS256"}"#),
        b64(&format!(r#"{{"exp":{exp},"sub":"CANARY-sub"}}"#))
    )
}

/// Issue 10 item 5: an expired OIDC token fails preflight (exit 2) before
/// any command runs; one that expires within the step's timeout is a
/// warning in the plan.
fn an_expired_oidc_token_stops_the_run_before_any_command() {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut e = eks(config());
    let file = e.sb.path("kube/spacelift.oidc");
    e.set("AWS_WEB_IDENTITY_TOKEN_FILE", file.to_str().unwrap());
    e.set("EKS_ROLE_ARN", "arn:aws:iam::111122223333:role/spacelift");
    std::fs::write(&file, jwt_expiring(now - 600)).unwrap();
    let (code, _, err) = e.stackhook(&["run", &spec("aws-eks-oidc.yaml")]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("stackhook::preflight::token_expired"), "{err}");
    // The variable holds a path, which is shown (issue 20 item 4).
    assert!(
        unwrapped(&err).contains(&format!("the token file {} expired 10m", file.display())),
        "{err}"
    );
    assert!(!err.contains("==> [1/2]"), "nothing ran: {err}");
    assert!(e.fake.requests().is_empty(), "nothing was called");

    std::fs::write(&file, jwt_expiring(now + 300)).unwrap();
    let (code, out, err) = e.stackhook(&["plan", &spec("aws-eks-oidc.yaml")]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("less than the step's timeout (10m)"), "{out}");
}

/// Cross-account: update-kubeconfig assumes --assume-role-arn to read the
/// cluster; --proxy-url lands in the kubeconfig.
fn eks_assume_role_and_proxy_url() {
    const ROLE: &str = "arn:aws:iam::444455556666:role/reader";
    let mut cfg = config();
    cfg["sts"] = json!({"assumable": [ROLE]});
    let mut e = eks(cfg);
    let sts = format!("http://127.0.0.1:{}", e.fake.port("sts"));
    e.set("AWS_ENDPOINT_URL_STS", &sts);
    let spec = e.sb.write_spec(&format!(
        r#"version: 1
steps:
  - provider: aws-eks
    with: {{cluster: eks-prod, region: eu-west-1, assume_role_arn: "{ROLE}", proxy_url: "http://proxy.internal:3128"}}
"#
    ));
    let (code, _, err) = e.stackhook(&["run", spec.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let log = std::fs::read_to_string(e.fake.dir.path().join("sts.log")).unwrap();
    assert!(log.contains("AssumeRole") && log.contains(ROLE), "{log}");
    assert!(
        e.kubeconfig()
            .contains("proxy-url: http://proxy.internal:3128"),
        "{}",
        e.kubeconfig()
    );
}

fn eks_unknown_cluster_fails_with_a_hint() {
    let mut e = eks(config());
    e.set("EKS_CLUSTER_NAME", "nope");
    let (code, _, err) = e.stackhook(&["run", &spec("aws-eks.yaml")]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("hint: the cluster was not found"), "{err}");
    assert!(!e.sb.kubeconfig().exists());
}

// ------------------------------------------------------------------ GKE

fn gke(location: &str) -> E2e {
    let mut cfg = config();
    cfg["gke"]["location"] = json!(location);
    // Exec and token modes must not need the auth plugin: it is taken off
    // PATH.
    let mut e = E2e::new(cfg, &["gcloud"], &["gke-gcloud-auth-plugin"]);
    gke_env(&mut e);
    e
}

fn gke_env(e: &mut E2e) {
    let endpoint = format!("http://127.0.0.1:{}/", e.fake.port("gke"));
    e.set("CLOUDSDK_API_ENDPOINT_OVERRIDES_CONTAINER", &endpoint);
    e.set(
        "CLOUDSDK_CONFIG",
        &e.sb.path("work/gcloud").display().to_string(),
    );
    e.set("CLOUDSDK_CORE_DISABLE_PROMPTS", "1");
    e.set("CLOUDSDK_CORE_CHECK_GCE_METADATA", "false");
    e.set("GCE_METADATA_ROOT", "127.0.0.1:9");
    e.set("GKE_CLUSTER_NAME", "gke-prod");
    e.set("GKE_CLUSTER_REGION", "europe-west1");
    e.set("GKE_CLUSTER_ZONE", "europe-west1-b");
    e.set("GCP_PROJECT_NAME", "acme-prod");
    e.set("GOOGLE_OAUTH_ACCESS_TOKEN", GKE_TOKEN);
}

fn gke_flow(spec_name: &str, location: &str) {
    gke_flow_in(gke(location), spec_name, location);
}

fn gke_flow_in(e: E2e, spec_name: &str, location: &str) {
    let (code, _, err) = e.stackhook(&["run", &spec(spec_name)]);
    assert_eq!(code, 0, "{err}");
    // gcloud kept no token under HOME (its CLOUDSDK_CONFIG is there).
    assert_no_canary_under_home(&e);
    // The fake answered 200 only for the right bearer token: gcloud got
    // it through CLOUDSDK_AUTH_ACCESS_TOKEN.
    assert!(e.fake.saw(
        "gke",
        &format!("/v1/projects/acme-prod/locations/{location}/clusters/gke-prod"),
        200
    ));
    let kube = e.kubeconfig();
    assert!(
        kube.contains(&format!(
            "current-context: gke_acme-prod_{location}_gke-prod"
        )),
        "{kube}"
    );
    assert!(
        !kube.contains("gke-gcloud-auth-plugin"),
        "the user still runs the plugin: {kube}"
    );
    assert!(!kube.contains(GKE_TOKEN), "no token in the kubeconfig");
    assert!(
        kube.contains(&bin().display().to_string()) && kube.contains("exec-credential"),
        "the user runs this stackhook by absolute path: {kube}"
    );
    assert!(e.fake.verified());
    // A later phase: kubectl gets the token from stackhook, without any
    // auth plugin.
    let later = e.kubectl_version();
    assert!(
        later.status.success(),
        "{}",
        String::from_utf8_lossy(&later.stderr)
    );
    assert_clean(&e);
}

fn gke_region_token_swap() {
    gke_flow("gke-region.yaml", "europe-west1");
}

fn gke_zone_token_swap() {
    gke_flow("gke-zone.yaml", "europe-west1-b");
}

/// `location:` takes a region or a zone, as gcloud's --location does.
fn gke_location_token_swap() {
    for location in ["europe-west1-c", "europe-west4"] {
        let mut e = gke(location);
        e.set("GKE_CLUSTER_LOCATION", location);
        gke_flow_in(e, "gke-location.yaml", location);
    }
}

/// Issue 21: one spec for regional and zonal clusters, `region:
/// "${R:-}"` and `zone: "${Z:-}"` with only Z set, was refused with "set
/// only one, not 2". An empty value counts as not set, and the plan says so.
fn gke_shared_spec_with_only_the_zone_set() {
    let mut e = gke("europe-west1-b");
    e.set("Z", "europe-west1-b");
    let spec = e.sb.write_spec(
        r#"version: 1
steps:
  - provider: gke
    with: {cluster: gke-prod, region: "${R:-}", zone: "${Z:-}", project: acme-prod}
  - provider: verify
"#,
    );
    let (code, plan, err) = e.stackhook(&["plan", spec.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(
        plan.contains("note: `region` (`${R:-}`) is empty, so it counts as not set"),
        "{plan}"
    );
    assert!(plan.contains("--zone=europe-west1-b"), "{plan}");
    let (code, _, err) = e.stackhook(&["run", spec.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let path = "/v1/projects/acme-prod/locations/europe-west1-b/clusters/gke-prod";
    assert!(e.fake.saw("gke", path, 200));
    assert!(e.kubectl_version().status.success());
}

/// Runner images are Alpine: the commands must work in busybox's sh, not
/// only in dash or bash.
fn gke_token_swap_under_busybox_sh() {
    let busybox = cli("busybox");
    let e = gke("europe-west1");
    std::os::unix::fs::symlink(busybox, e.sb.bin().join("sh")).unwrap();
    gke_flow_in(e, "gke-region.yaml", "europe-west1");
}

fn gke_with_a_wrong_token_fails_and_keeps_the_old_kubeconfig() {
    let mut e = gke("europe-west1");
    std::fs::write(e.sb.kubeconfig(), TWO_CONTEXTS).unwrap();
    e.set("GOOGLE_OAUTH_ACCESS_TOKEN", "ya29.CANARY-expired");
    let (code, _, err) = e.stackhook(&["run", &spec("gke-region.yaml")]);
    assert_eq!(code, 1, "{err}");
    assert!(!err.contains("CANARY-expired"));
    assert!(err.contains("hint: the credentials were refused"), "{err}");
    assert!(e.fake.saw("gke", "/v1/projects/", 401));
    assert_eq!(e.kubeconfig(), TWO_CONTEXTS);
    assert_clean(&e);
}

/// Issue 9 item 4: the run resumes in a new container of the same image.
/// Only the kubeconfig's directory is kept (new HOME, new TMPDIR, no
/// gcloud state, gcloud not even on PATH), the platform sets a new token,
/// and the fake API refuses the old one: kubectl still reaches the cluster.
fn gke_exec_survives_a_resumed_run_with_a_new_token() {
    let mut e = gke("europe-west1");
    let (code, _, err) = e.stackhook(&["run", &spec("gke-region.yaml")]);
    assert_eq!(code, 0, "{err}");
    let kept = e.kubeconfig();

    // The new container: everything but the kubeconfig's directory is new.
    for dir in ["work", "tmp"] {
        std::fs::remove_dir_all(e.sb.path(dir)).unwrap();
        std::fs::create_dir(e.sb.path(dir)).unwrap();
    }
    let no_gcloud = filtered_path(&e, &["gcloud", "gke-gcloud-auth-plugin"]);
    e.set("PATH", &no_gcloud);
    const NEW: &str = "ya29.CANARY-token-of-the-next-phase";
    std::fs::write(
        e.fake.dir.path().join("k8s_tokens.json"),
        json!([NEW]).to_string(),
    )
    .unwrap();
    e.set("GOOGLE_OAUTH_ACCESS_TOKEN", GKE_TOKEN);
    let old = e.kubectl_version();
    assert!(!old.status.success(), "the old token must be refused now");

    e.set("GOOGLE_OAUTH_ACCESS_TOKEN", NEW);
    let later = e.kubectl_version();
    let stderr = String::from_utf8_lossy(&later.stderr).to_string();
    assert!(later.status.success(), "{stderr}");
    assert!(!stderr.contains(NEW));
    assert_eq!(e.kubeconfig(), kept, "kubectl changed nothing");

    // The variable unset: kubectl fails naming it, and no token shows.
    e.env.retain(|(k, _)| k != "GOOGLE_OAUTH_ACCESS_TOKEN");
    let unset = e.kubectl_version();
    let stderr = String::from_utf8_lossy(&unset.stderr).to_string();
    assert!(!unset.status.success());
    assert!(
        stderr.contains("GOOGLE_OAUTH_ACCESS_TOKEN is not set, empty or not UTF-8"),
        "{stderr}"
    );
    assert!(
        !stderr.contains(NEW) && !stderr.contains(GKE_TOKEN),
        "{stderr}"
    );
}

/// `credentials: token`: the static token, written by stackhook (no
/// kubectl needed), with the expiry warning.
fn gke_token_credentials_write_a_static_token() {
    let e = gke("europe-west1");
    let spec = e.sb.write_spec(
        r#"version: 1
steps:
  - provider: gke
    with: {cluster: gke-prod, region: europe-west1, project: acme-prod, credentials: token}
  - provider: verify
"#,
    );
    let (code, _, err) = e.stackhook(&["run", spec.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let kube = e.kubeconfig();
    assert!(kube.contains(&format!("token: {GKE_TOKEN}")), "{kube}");
    assert!(!kube.contains("exec"), "{kube}");
    let (_, plan, _) = e.stackhook(&["plan", spec.to_str().unwrap()]);
    assert!(plan.contains("expires with the token"), "{plan}");
    assert!(e.kubectl_version().status.success());
}

/// `credentials: plugin`: the real gke-gcloud-auth-plugin, which asks
/// gcloud at each call; gcloud has a token from CLOUDSDK_AUTH_ACCESS_TOKEN,
/// as the plan's warning says it must.
fn gke_plugin_credentials_work_through_gcloud() {
    let mut cfg = config();
    cfg["gke"]["location"] = json!("europe-west1");
    let mut e = E2e::new(cfg, &["gcloud", "gke-gcloud-auth-plugin"], &[]);
    gke_env(&mut e);
    let spec = e.sb.write_spec(
        r#"version: 1
steps:
  - provider: gke
    with: {cluster: gke-prod, region: europe-west1, project: acme-prod, credentials: plugin}
  - provider: verify
"#,
    );
    let (_, plan, _) = e.stackhook(&["plan", spec.to_str().unwrap()]);
    assert!(
        plan.contains("gcloud reads CLOUDSDK_AUTH_ACCESS_TOKEN"),
        "{plan}"
    );
    e.set("CLOUDSDK_AUTH_ACCESS_TOKEN", GKE_TOKEN);
    let (code, _, err) = e.stackhook(&["run", spec.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let kube = e.kubeconfig();
    assert!(kube.contains("command: gke-gcloud-auth-plugin"), "{kube}");
    assert!(!kube.contains(GKE_TOKEN), "{kube}");
    assert!(e.fake.verified());
    assert!(e.kubectl_version().status.success());
}

/// Issue 20: Connect Gateway. gcloud asks the fake Resource Manager for the
/// project's number and the fake gateway for the membership's kubeconfig;
/// stackhook's exec user then reaches the API through it with the access
/// token, in this run and a later phase.
fn gke_connect_gateway_membership() {
    let mut cfg = config();
    cfg["gke"]["location"] = json!("global");
    cfg["gke"]["membership"] = json!("prod-member");
    let mut e = E2e::new(cfg, &["gcloud"], &["gke-gcloud-auth-plugin"]);
    gke_env(&mut e);
    let google = format!("http://127.0.0.1:{}/", e.fake.port("google"));
    for api in ["CLOUDRESOURCEMANAGER", "GKEHUB", "CONNECTGATEWAY"] {
        e.set(&format!("CLOUDSDK_API_ENDPOINT_OVERRIDES_{api}"), &google);
    }
    let spec = e.sb.write_spec(
        r#"version: 1
steps:
  - provider: gke
    with: {membership: prod-member, region: global, project: acme-prod}
  - provider: verify
"#,
    );
    let (code, _, err) = e.stackhook(&["run", spec.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(e.fake.saw(
        "google",
        "/v1/projects/123456789012/locations/global/memberships/prod-member:generateCredentials",
        200
    ));
    let kube = e.kubeconfig();
    assert!(
        kube.contains("current-context: connectgateway_acme-prod_global_prod-member"),
        "{kube}"
    );
    assert!(kube.contains("exec-credential"), "{kube}");
    assert!(!kube.contains(GKE_TOKEN), "{kube}");
    assert!(e.fake.verified());
    assert!(e.kubectl_version().status.success());
}

/// Issue 20: `impersonate_service_account` and `billing_project`. The
/// caller's token is not accepted by GKE: gcloud trades it for the service
/// account's at the fake IAM credentials service, and asks GKE with the
/// quota project.
fn gke_impersonation_and_billing_project() {
    const CALLER: &str = "ya29.CANARY-caller-token";
    let mut cfg = config();
    cfg["gke"]["location"] = json!("europe-west1");
    cfg["google"] = json!({"impersonator_token": CALLER});
    let mut e = E2e::new(cfg, &["gcloud", "gke-gcloud-auth-plugin"], &[]);
    gke_env(&mut e);
    let google = format!("http://127.0.0.1:{}/", e.fake.port("google"));
    e.set("CLOUDSDK_API_ENDPOINT_OVERRIDES_IAMCREDENTIALS", &google);
    e.set("GOOGLE_OAUTH_ACCESS_TOKEN", CALLER);
    let spec = e.sb.write_spec(
        r#"version: 1
steps:
  - provider: gke
    with:
      cluster: gke-prod
      region: europe-west1
      project: acme-prod
      credentials: plugin
      impersonate_service_account: deployer@acme-prod.iam.gserviceaccount.com
      billing_project: acme-billing
"#,
    );
    // The plugin's gcloud reads the caller's token from CLOUDSDK_AUTH_ACCESS_TOKEN
    // (as the plan's warning says) in every phase.
    e.set("CLOUDSDK_AUTH_ACCESS_TOKEN", CALLER);
    let (code, _, err) = e.stackhook(&["run", spec.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(e.fake.saw(
        "google",
        "/v1/projects/-/serviceAccounts/deployer@acme-prod.iam.gserviceaccount.com:generateAccessToken",
        200
    ));
    assert!(
        e.fake.requests().iter().any(|r| r["server"] == "gke"
            && r["status"] == 200
            && r["quota_project"] == "acme-billing"),
        "{:?}",
        e.fake.requests()
    );
    // gcloud wrote the service account into the plugin's arguments.
    let kube = e.kubeconfig();
    assert!(
        kube.contains("--impersonate_service_account=deployer@acme-prod.iam.gserviceaccount.com"),
        "{kube}"
    );

    // Not with credentials: exec, which would hand kubectl the caller's token.
    let spec = e.sb.write_spec(
        r#"version: 1
steps:
  - provider: gke
    with: {cluster: gke-prod, region: europe-west1, project: acme-prod, impersonate_service_account: deployer@acme-prod.iam.gserviceaccount.com}
"#,
    );
    let (code, _, err) = e.stackhook(&["plan", spec.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("impersonate_service_account needs credentials: plugin"),
        "{err}"
    );
}

/// Workload identity federation: gcloud reads an external-account file
/// whose token URLs point at the fake Google STS and IAM credentials
/// service (gcloud accepts them); the kubeconfig's gke-gcloud-auth-plugin
/// does the same exchange at each call from GOOGLE_APPLICATION_CREDENTIALS.
fn gke_oidc_workload_identity_federation() {
    let oidc = format!("{}.CANARY-gcp-oidc.sig", "eyJhbGciOiJub25lIn0");
    let audience = "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/spacelift/providers/spacelift";
    let mut cfg = config();
    cfg["gke"]["location"] = json!("europe-west1");
    cfg["google"] = json!({"oidc_token": oidc, "audience": audience});
    let mut e = E2e::new(cfg, &["gcloud", "gke-gcloud-auth-plugin"], &[]);
    gke_env(&mut e);
    e.env.retain(|(k, _)| k != "GOOGLE_OAUTH_ACCESS_TOKEN");
    let google = format!("http://127.0.0.1:{}", e.fake.port("google"));
    let token_file = e.sb.path("kube/spacelift.oidc");
    std::fs::write(&token_file, &oidc).unwrap();
    let creds = e.sb.path("kube/gcp-credentials.json");
    let external = json!({
        "type": "external_account",
        "audience": audience,
        "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
        "token_url": format!("{google}/v1/token"),
        "service_account_impersonation_url": format!("{google}/v1/projects/-/serviceAccounts/spacelift@acme-prod.iam.gserviceaccount.com:generateAccessToken"),
        "credential_source": {"file": token_file},
    });
    std::fs::write(&creds, external.to_string()).unwrap();
    e.set("GOOGLE_APPLICATION_CREDENTIALS", creds.to_str().unwrap());
    let (code, _, err) = e.stackhook(&["run", &spec("gke-oidc.yaml")]);
    assert_eq!(code, 0, "{err}");
    assert!(e.fake.saw("google", "/v1/token", 200));
    assert!(e.fake.saw(
        "gke",
        "/v1/projects/acme-prod/locations/europe-west1/clusters/gke-prod",
        200
    ));
    let kube = e.kubeconfig();
    assert!(
        kube.contains("--use_application_default_credentials"),
        "{kube}"
    );
    assert!(
        !kube.contains("CANARY") && !kube.contains(GKE_TOKEN),
        "{kube}"
    );
    assert!(e.fake.verified());
    // A later phase in a new container: no gcloud state, gcloud not even on
    // PATH; the plugin exchanges the token file again.
    std::fs::remove_dir_all(e.sb.path("work")).unwrap();
    std::fs::create_dir(e.sb.path("work")).unwrap();
    let path = filtered_path(&e, &["gcloud"]);
    e.set("PATH", &path);
    let later = e.kubectl_version();
    assert!(
        later.status.success(),
        "{}",
        String::from_utf8_lossy(&later.stderr)
    );
}

/// Issue 9 item 3: the env file carries KUBECONFIG and KUBE_CONFIG_PATH,
/// both absolute (the run was given a relative path), which is what
/// Terraform's kubernetes and helm providers read: a client that knows only
/// KUBE_CONFIG_PATH reaches the cluster after sourcing it.
fn env_file_carries_an_absolute_kube_config_path() {
    let e = gke("europe-west1");
    let env_file = e.sb.path("work/.stackhook.env");
    let (code, _, err) = e.stackhook(&[
        "run",
        "--kubeconfig",
        "../kube/config",
        "--env-file",
        env_file.to_str().unwrap(),
        &spec("gke-region.yaml"),
    ]);
    assert_eq!(code, 0, "{err}");
    let text = std::fs::read_to_string(&env_file).unwrap();
    let kube = e.sb.kubeconfig().display().to_string();
    assert!(
        text.contains(&format!("export KUBE_CONFIG_PATH={kube}\n")),
        "{text}"
    );
    assert!(
        text.contains(&format!("export KUBECONFIG={kube}\n")),
        "{text}"
    );
    assert!(!text.contains("CANARY"), "{text}");
    let later = e
        .command("sh")
        .arg("-c")
        .arg(format!(
            "unset KUBECONFIG; cd / && . {} && unset KUBECONFIG && kubectl --kubeconfig=\"$KUBE_CONFIG_PATH\" get --raw /version",
            env_file.display()
        ))
        .output()
        .unwrap();
    assert!(
        later.status.success(),
        "{}",
        String::from_utf8_lossy(&later.stderr)
    );
}

/// `token_credentials` is gone, and the error names what replaces it.
fn gke_token_credentials_parameter_names_its_replacement() {
    let e = gke("europe-west1");
    let spec = e.sb.write_spec(
        r#"version: 1
steps:
  - provider: gke
    with: {cluster: gke-prod, region: europe-west1, project: acme-prod, token_credentials: false}
"#,
    );
    let (code, _, err) = e.stackhook(&["plan", spec.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("`gke` no longer has `token_credentials`"),
        "{err}"
    );
    assert!(err.contains("`credentials: plugin` is"), "{err}");
}

// ------------------------------------------------------------------ AKS

fn aks() -> E2e {
    aks_with(config())
}

fn aks_with(config: Json) -> E2e {
    let mut e = E2e::new(config, &["az"], &[]);
    e.stub("kubelogin");
    e.stub("kubelogin.py");
    e.set(
        "KUBELOGIN_STUB_PYTHON",
        &fake_cloud_python().display().to_string(),
    );
    let az_dir = e.sb.path("work/azure");
    e.set("AZURE_CONFIG_DIR", &az_dir.display().to_string());
    e.set("AZURE_CORE_INSTANCE_DISCOVERY", "false");
    e.set("AZURE_CORE_COLLECT_TELEMETRY", "false");
    e.set("REQUESTS_CA_BUNDLE", &e.fake.ca.display().to_string());
    e.set(
        "KUBELOGIN_LOG",
        &e.sb.path("work/kubelogin.log").display().to_string(),
    );
    e.set("AKS_CLUSTER_NAME", "aks-prod");
    e.set("AKS_RESOURCE_GROUP", "rg-prod");
    e.set("ARM_SUBSCRIPTION_ID", SUBSCRIPTION);
    // The runner image's set-up, as Spacelift's Azure integration or a
    // worker pool would have it: the cloud the CLI talks to.
    let arm = format!("https://127.0.0.1:{}", e.fake.port("aks"));
    for args in [
        vec![
            "cloud",
            "register",
            "-n",
            "Fake",
            "--endpoint-resource-manager",
            arm.as_str(),
        ],
        vec!["cloud", "set", "-n", "Fake"],
    ] {
        let out = e.command("az").args(&args).output().unwrap();
        assert!(
            out.status.success(),
            "az {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    e
}

/// Every file under `dir`, by path, recursively.
fn files_under(dir: &Path) -> std::collections::BTreeSet<PathBuf> {
    let mut out = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.insert(path);
        }
    }
    out
}

/// Finding 6: az kept its login (a client secret, tokens, a federated
/// token) in the run's private AZURE_CONFIG_DIR, which is gone. The user's
/// AZURE_CONFIG_DIR holds no login, and no file under HOME (which holds
/// it) holds a canary.
fn assert_no_az_login_left(e: &E2e) {
    let user = e.sb.path("work/azure");
    for login in [
        "service_principal_entries.json",
        "msal_token_cache.json",
        "msal_token_cache.bin",
    ] {
        assert!(
            !user.join(login).exists(),
            "{login} left in AZURE_CONFIG_DIR"
        );
    }
    let profile = std::fs::read_to_string(user.join("azureProfile.json")).unwrap_or_default();
    assert!(
        !profile.contains(SUBSCRIPTION),
        "az's profile holds a login: {profile}"
    );
    assert_no_canary_under_home(e);
}

/// No file under HOME (where the CLIs keep their state here) holds a
/// canary secret.
fn assert_no_canary_under_home(e: &E2e) {
    for file in files_under(&e.sb.path("work")) {
        let bytes = std::fs::read(&file).unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&bytes).contains("CANARY"),
            "a canary in {}",
            file.display()
        );
    }
}

/// Issue 9 item 2: no env file. kubelogin reads ARM_CLIENT_SECRET itself at
/// kubectl time (--use-azurerm-env-vars, which stackhook adds because
/// convert-kubeconfig does not write it), so a later phase with the
/// integration's ARM_* variables just works.
fn aks_service_principal_needs_no_env_file_in_later_phases() {
    let mut e = aks();
    e.set("ARM_CLIENT_ID", "app-0001");
    e.set("ARM_TENANT_ID", "tenant-0001");
    e.set("ARM_CLIENT_SECRET", ARM_SECRET);
    let before = files_under(&e.sb.path("work/azure"));
    let (code, _, err) = e.stackhook(&["run", &spec("azure-aks-spn.yaml")]);
    assert_eq!(code, 0, "{err}");
    assert!(e.fake.saw("aks", "/tenant-0001/oauth2/v2.0/token", 200));
    assert!(e.fake.saw("aks", &format!("/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-prod/providers/Microsoft.ContainerService/managedClusters/aks-prod/listClusterUserCredential"), 200));
    // az worked in a private copy of its configuration (with the cloud the
    // runner image registered): the user's has not one file more.
    assert_eq!(files_under(&e.sb.path("work/azure")), before);
    assert_no_az_login_left(&e);
    let log = std::fs::read_to_string(e.sb.path("work/kubelogin.log")).unwrap();
    assert!(
        log.lines()
            .any(|l| l
                == "convert-kubeconfig --login=spn --client-id=app-0001 --tenant-id=tenant-0001"),
        "{log}"
    );
    assert!(
        e.kubeconfig().contains("--use-azurerm-env-vars"),
        "{}",
        e.kubeconfig()
    );
    // verify's kubectl ran kubelogin, which read ARM_CLIENT_SECRET.
    assert!(e.fake.verified());

    // A later phase: nothing sourced, the integration's variables only.
    let later = e.kubectl_version();
    assert!(
        later.status.success(),
        "{}",
        String::from_utf8_lossy(&later.stderr)
    );
    // Without the secret in the environment, kubelogin cannot log in: the
    // kubeconfig holds no secret of its own.
    e.env.retain(|(k, _)| k != "ARM_CLIENT_SECRET");
    assert!(!e.kubectl_version().status.success());
    assert!(!e.kubeconfig().contains(ARM_SECRET));
    assert_clean(&e);
}

/// An Azure client secret may start with `-` (Azure generates such), hold
/// spaces, quotes, `$(...)`: az reads it from a 0600 file (`@FILE`), so it
/// is one value whatever it holds, and never in an argv.
fn aks_service_principal_with_a_hostile_secret() {
    const HOSTILE: &str = "-CANARY- 'q\" $(touch pwned) `x`";
    let mut cfg = config();
    cfg["aks"]["client_secret"] = json!(HOSTILE);
    cfg["k8s_tokens"] = json!([spn_token("app-0001", HOSTILE)]);
    let mut e = aks_with(cfg);
    e.set("ARM_CLIENT_ID", "app-0001");
    e.set("ARM_TENANT_ID", "tenant-0001");
    e.set("ARM_CLIENT_SECRET", HOSTILE);
    let (code, out, err) = e.stackhook(&["run", &spec("azure-aks-spn.yaml")]);
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains("CANARY") && !err.contains("CANARY"), "{err}");
    assert!(e.fake.saw("aks", "/tenant-0001/oauth2/v2.0/token", 200));
    assert!(!e.sb.path("work/pwned").exists());
    assert!(e.kubectl_version().status.success());
}

/// Workload identity federation: az logs in with the federated token
/// (client_assertion), kubelogin's workloadidentity mode reads the token
/// file at each call, and the next phase's fresh token keeps working.
fn aks_oidc_federated_token() {
    let token = format!("{}.CANARY-oidc-payload.sig", "eyJhbGciOiJub25lIn0");
    let mut cfg = config();
    cfg["aks"]["federated_token"] = json!(token);
    let mut e = aks_with(cfg);
    let file = e.sb.path("kube/spacelift.oidc");
    std::fs::write(&file, &token).unwrap();
    e.set("ARM_CLIENT_ID", "app-0001");
    e.set("ARM_TENANT_ID", "tenant-0001");
    e.set("ARM_OIDC_TOKEN_FILE_PATH", file.to_str().unwrap());
    let (code, _, err) = e.stackhook(&["run", &spec("azure-aks-oidc.yaml")]);
    assert_eq!(code, 0, "{err}");
    assert!(e.fake.saw("aks", "/tenant-0001/oauth2/v2.0/token", 200));
    let log = std::fs::read_to_string(e.sb.path("work/kubelogin.log")).unwrap();
    assert!(
        log.lines().any(|l| l
            == "convert-kubeconfig --login=workloadidentity --client-id=app-0001 --tenant-id=tenant-0001"),
        "{log}"
    );
    // The token file's variable is secret by its name: az read the file as
    // its stdin, and kubelogin finds it in the exec user's environment,
    // so the path was in no argv (not even kubectl's kubelogin's).
    let argv = std::fs::read_to_string(e.argv_log()).unwrap() + &log;
    assert!(!argv.contains("spacelift.oidc"), "{argv}");
    let kube = e.kubeconfig();
    assert!(
        kube.contains("AZURE_FEDERATED_TOKEN_FILE") && kube.contains(file.to_str().unwrap()),
        "{kube}"
    );
    assert!(e.fake.verified());
    assert!(!e.kubeconfig().contains("CANARY"));
    assert_no_az_login_left(&e);
    assert!(e.kubectl_version().status.success());
    // A wrong token in the file is refused by the fake API at kubectl time.
    std::fs::write(&file, "not-the-token").unwrap();
    assert!(!e.kubectl_version().status.success());
}

/// A client certificate: a PFX with its password. openssl converts it for
/// az (the password read from the environment), kubelogin reads both
/// variables itself at kubectl time.
fn aks_certificate_with_a_password() {
    let mut cfg = config();
    cfg["aks"]["cert_password"] = json!("CANARY-pfx-password");
    let mut e = aks_with(cfg);
    e.record_argv("openssl");
    let pfx = e.fake.files["client_pfx"].as_str().unwrap().to_string();
    e.set("ARM_CLIENT_ID", "app-0001");
    e.set("ARM_TENANT_ID", "tenant-0001");
    e.set("ARM_CLIENT_CERTIFICATE_PATH", &pfx);
    e.set("ARM_CLIENT_CERTIFICATE_PASSWORD", "CANARY-pfx-password");
    let (code, _, err) = e.stackhook(&["run", &spec("azure-aks-cert.yaml")]);
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("CANARY"));
    // The fake checked the assertion's signature against the certificate.
    assert!(e.fake.saw("aks", "/tenant-0001/oauth2/v2.0/token", 200));
    assert!(e.fake.verified());
    assert!(e.kubectl_version().status.success());
    assert_no_az_login_left(&e);
    assert_clean(&e);
}

/// `login: azurecli`: az was logged in before stackhook (as a worker or an
/// earlier hook does it); kubelogin asks the real az for a token at each
/// call.
fn aks_azure_cli_login_with_context_and_namespace() {
    let mut cfg = config();
    cfg["k8s_tokens"] = json!(["arm-access-token"]);
    let e = aks_with(cfg);
    let secret_file = e.sb.path("work/sp-secret");
    std::fs::write(&secret_file, ARM_SECRET).unwrap();
    let login = e
        .command("az")
        .args([
            "login",
            "--service-principal",
            "--username=app-0001",
            "--tenant=tenant-0001",
        ])
        .arg(format!("--password=@{}", secret_file.display()))
        .args(["--output=none"])
        .output()
        .unwrap();
    assert!(
        login.status.success(),
        "{}",
        String::from_utf8_lossy(&login.stderr)
    );
    let (code, _, err) = e.stackhook(&["run", &spec("azure-aks-azurecli.yaml")]);
    assert_eq!(code, 0, "{err}");
    let kube = e.kubeconfig();
    assert!(kube.contains("current-context: aks-prod"), "{kube}");
    assert!(kube.contains("namespace: apps"), "{kube}");
    assert!(kube.contains("- azurecli"), "{kube}");
    assert!(e.fake.verified());
    assert!(e.kubectl_version().status.success());
}

fn aks_service_principal_with_a_wrong_secret_fails_with_a_hint() {
    let mut e = aks();
    e.set("ARM_CLIENT_ID", "app-0001");
    e.set("ARM_TENANT_ID", "tenant-0001");
    e.set("ARM_CLIENT_SECRET", "CANARY-wrong-secret");
    let (code, _, err) = e.stackhook(&["run", &spec("azure-aks-spn.yaml")]);
    assert_eq!(code, 1, "{err}");
    assert!(!err.contains("CANARY-wrong-secret"));
    // Command 1 gives az its private config directory; 2 logs in.
    assert!(err.contains("step `azure-aks` failed: command 2"), "{err}");
    assert!(!e.sb.kubeconfig().exists());
    assert_no_az_login_left(&e);
    assert_clean(&e);
}

fn aks_managed_identity() {
    let mut e = aks();
    let msi = format!("https://127.0.0.1:{}/msi/token", e.fake.port("aks"));
    e.set("IDENTITY_ENDPOINT", &msi);
    e.set("IDENTITY_HEADER", "identity-header-value");
    e.set("AKS_IDENTITY_CLIENT_ID", "client-of-identity");
    let (code, _, err) = e.stackhook(&["run", &spec("azure-aks-msi.yaml")]);
    assert_eq!(code, 0, "{err}");
    assert!(e.fake.requests().iter().any(|r| {
        r["path"].as_str().unwrap().contains("/msi/token")
            && r["path"]
                .as_str()
                .unwrap()
                .contains("client_id=client-of-identity")
    }));
    let log = std::fs::read_to_string(e.sb.path("work/kubelogin.log")).unwrap();
    assert!(
        log.lines()
            .any(|l| l == "convert-kubeconfig --login=msi --client-id=client-of-identity"),
        "{log}"
    );
    assert!(e.fake.verified());
    // A later phase: kubelogin's msi mode needs nothing sourced.
    assert!(e.kubectl_version().status.success());
    assert_no_az_login_left(&e);
    assert_clean(&e);
}

/// Issue 20 item 5: Spacelift's managed-identity doc has users pick a
/// user-assigned identity with ARM_CLIENT_ID; with no `client_id` in the
/// spec, az and kubelogin get that identity (before, the system-assigned
/// one, silently).
fn aks_managed_identity_takes_arm_client_id() {
    let mut e = aks();
    let msi = format!("https://127.0.0.1:{}/msi/token", e.fake.port("aks"));
    e.set("IDENTITY_ENDPOINT", &msi);
    e.set("IDENTITY_HEADER", "identity-header-value");
    e.set("ARM_CLIENT_ID", "client-from-arm");
    let spec = e.sb.write_spec(
        r#"version: 1
steps:
  - provider: azure-aks
    with: {cluster: aks-prod, resource_group: rg-prod, login: msi, proxy_url: "http://proxy.internal:3128"}
"#,
    );
    let (code, _, err) = e.stackhook(&["run", spec.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(
        e.fake
            .requests()
            .iter()
            .any(|r| r["path"].as_str().unwrap().contains("/msi/token")
                && r["path"]
                    .as_str()
                    .unwrap()
                    .contains("client_id=client-from-arm")),
        "{:?}",
        e.fake.requests()
    );
    let log = std::fs::read_to_string(e.sb.path("work/kubelogin.log")).unwrap();
    assert!(
        log.lines()
            .any(|l| l == "convert-kubeconfig --login=msi --client-id=client-from-arm"),
        "{log}"
    );
    let kube = e.kubeconfig();
    assert!(
        kube.contains("proxy-url: http://proxy.internal:3128"),
        "{kube}"
    );
}

/// Issue 20 item 1: `admin: true` with `login: spn`, `cert` and `oidc`
/// (before: set-user failed on the admin user, which runs no exec
/// plugin). The kubeconfig holds the cluster's local admin client
/// certificate, which the fake API verifies in the TLS handshake, with no
/// kubelogin (taken off PATH); the plan warns that it is a static
/// credential.
fn aks_admin_with_every_login() {
    for login in ["spn", "cert", "oidc"] {
        let oidc = format!("{}.CANARY-oidc-payload.sig", "eyJhbGciOiJub25lIn0");
        let mut cfg = config();
        cfg["aks"]["federated_token"] = json!(oidc);
        cfg["aks"]["cert_password"] = json!("CANARY-pfx-password");
        let mut e = aks_with(cfg);
        std::fs::remove_file(e.sb.bin().join("kubelogin")).unwrap();
        e.set("ARM_CLIENT_ID", "app-0001");
        e.set("ARM_TENANT_ID", "tenant-0001");
        e.set("ARM_CLIENT_SECRET", ARM_SECRET);
        let token_file = e.sb.path("kube/spacelift.oidc");
        std::fs::write(&token_file, &oidc).unwrap();
        e.set("ARM_OIDC_TOKEN_FILE_PATH", token_file.to_str().unwrap());
        let pfx = e.fake.files["client_pfx"].as_str().unwrap().to_string();
        e.set("ARM_CLIENT_CERTIFICATE_PATH", &pfx);
        e.set("ARM_CLIENT_CERTIFICATE_PASSWORD", "CANARY-pfx-password");
        let spec = e.sb.write_spec(&format!(
            r#"version: 1
steps:
  - provider: azure-aks
    with: {{cluster: aks-prod, resource_group: rg-prod, login: {login}, admin: true, namespace: apps}}
  - provider: verify
"#
        ));
        let (code, plan, err) = e.stackhook(&["plan", spec.to_str().unwrap()]);
        assert_eq!(code, 0, "{login}: {err}");
        assert!(
            plan.contains("`azure-aks`: admin: true writes the cluster's local admin credential"),
            "{login}: {plan}"
        );
        assert!(!plan.contains("kubelogin"), "{login}: {plan}");
        let (code, _, err) = e.stackhook(&["run", spec.to_str().unwrap()]);
        assert_eq!(code, 0, "{login}: {err}");
        assert!(e.fake.saw("aks", "/subscriptions", 200), "{login}");
        assert!(
            e.fake.requests().iter().any(|r| r["path"]
                .as_str()
                .unwrap()
                .contains("/listClusterAdminCredential?")),
            "{login}"
        );
        let kube = e.kubeconfig();
        assert!(kube.contains("client-certificate-data"), "{login}: {kube}");
        assert!(kube.contains("namespace: apps"), "{login}: {kube}");
        assert!(!kube.contains("exec"), "{login}: {kube}");
        assert!(e.fake.verified(), "{login}");
        assert!(e.kubectl_version().status.success(), "{login}");
        assert_no_az_login_left(&e);
        assert_clean(&e);
    }
}

/// Issue 20 item 2: a PFX encrypted as older tooling does it (RC2-40 for
/// the certificates), which OpenSSL 3 reads only with -legacy. The
/// password stays out of every argv (env:), and the login works.
fn aks_certificate_in_a_legacy_rc2_pfx() {
    let mut cfg = config();
    cfg["aks"]["cert_password"] = json!("CANARY-pfx-password");
    let mut e = aks_with(cfg);
    let pem = e.fake.files["client_pem"].as_str().unwrap().to_string();
    let legacy = e.sb.path("kube/legacy.pfx");
    // Made here, before openssl's argv is recorded: the test's own command.
    let made = e
        .command("openssl")
        .args([
            "pkcs12",
            "-export",
            "-legacy",
            "-certpbe",
            "PBE-SHA1-RC2-40",
        ])
        .args(["-keypbe", "PBE-SHA1-3DES", "-passout", "env:PFX_OUT"])
        .arg("-in")
        .arg(&pem)
        .arg("-out")
        .arg(&legacy)
        .env("PFX_OUT", "CANARY-pfx-password")
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    // This openssl cannot read it without -legacy (so the test proves the
    // fallback, where openssl is 3.x).
    let plain = e
        .command("openssl")
        .args(["pkcs12", "-nodes", "-passin", "env:PFX_OUT", "-in"])
        .arg(&legacy)
        .args(["-out", "/dev/null"])
        .env("PFX_OUT", "CANARY-pfx-password")
        .output()
        .unwrap();
    let version = e.command("openssl").arg("version").output().unwrap();
    if stdout(&version).starts_with("OpenSSL 3") {
        assert!(
            !plain.status.success(),
            "OpenSSL 3 read RC2-40 without -legacy"
        );
    }
    e.record_argv("openssl");
    e.set("ARM_CLIENT_ID", "app-0001");
    e.set("ARM_TENANT_ID", "tenant-0001");
    e.set("ARM_CLIENT_CERTIFICATE_PATH", legacy.to_str().unwrap());
    e.set("ARM_CLIENT_CERTIFICATE_PASSWORD", "CANARY-pfx-password");
    let (code, _, err) = e.stackhook(&["run", &spec("azure-aks-cert.yaml")]);
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("CANARY"));
    assert!(e.fake.saw("aks", "/tenant-0001/oauth2/v2.0/token", 200));
    let argv = std::fs::read_to_string(e.argv_log()).unwrap();
    assert!(argv.lines().any(|l| l == "-legacy"), "{argv}");
    assert_no_az_login_left(&e);
    assert_clean(&e);

    // A wrong password fails with openssl's own error, not a silent one.
    e.set("ARM_CLIENT_CERTIFICATE_PASSWORD", "CANARY-wrong-password");
    let (code, _, err) = e.stackhook(&["run", &spec("azure-aks-cert.yaml")]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("step `azure-aks` failed: command 2"), "{err}");
    assert!(!err.contains("CANARY"), "{err}");
    assert_clean(&e);
}

// ------------------------------------------------------------- argv check

/// The argv check of every e2e test is real: the wrappers record what the
/// CLIs get (so a flow's own commands show up), and a command that does put
/// a secret in an argv is caught.
fn the_argv_check_sees_every_argument() {
    let mut e = E2e::new(config(), &[], &[]);
    e.set("MY_TOKEN", "CANARY-in-argv");
    let spec = e.sb.write_spec(
        r#"version: 1
steps:
  - provider: run
    with:
      commands: ['kubectl version --client --token="$MY_TOKEN" >/dev/null']
"#,
    );
    let (code, _, err) = e.stackhook(&["run", spec.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let log = std::fs::read_to_string(e.argv_log()).unwrap();
    assert!(log.contains("--client"), "{log}");
    assert!(e.argv_leak().is_some(), "the leak was not seen: {log}");
    // Forget it, or the test's own check would (rightly) fail.
    std::fs::remove_file(e.argv_log()).unwrap();
}

// ------------------------------------------------------------ kubeconfig

fn kubeconfig_from_env_plain_and_base64() {
    let mut e = E2e::new(config(), &[], &[]);
    let kc = e.fake.static_kubeconfig();
    for content in [kc.clone(), base64_encode(kc.as_bytes())] {
        let _ = std::fs::remove_file(e.sb.kubeconfig());
        e.set("KUBECONFIG_CONTENT", &content);
        let (code, _, err) = e.stackhook(&["run", &spec("kubeconfig-env.yaml")]);
        assert_eq!(code, 0, "{err}");
        assert_eq!(e.kubeconfig(), kc);
        assert!(e.kubectl_version().status.success());
    }
    assert_clean(&e);
}

fn kubeconfig_from_url_checks_its_sha256() {
    let mut e = E2e::new(config(), &["curl"], &[]);
    // The fake serves the files of its `static/` directory.
    let kc = e.fake.static_kubeconfig();
    let served = e.fake.dir.path().join("static");
    std::fs::create_dir_all(&served).unwrap();
    std::fs::write(served.join("prod.yaml"), &kc).unwrap();
    let url = format!("http://127.0.0.1:{}/prod.yaml", e.fake.port("static"));
    e.set("KUBECONFIG_URL", &url);

    // A wrong checksum fails and leaves the old kubeconfig as it was.
    std::fs::write(e.sb.kubeconfig(), TWO_CONTEXTS).unwrap();
    e.set("KUBECONFIG_SHA256", &"0".repeat(64));
    let (code, _, err) = e.stackhook(&["run", &spec("kubeconfig-url.yaml")]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("sha256 mismatch"), "{err}");
    assert_eq!(e.kubeconfig(), TWO_CONTEXTS);
    assert_clean(&e);

    let sum = {
        use sha2::Digest;
        sha2::Sha256::digest(kc.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    e.set("KUBECONFIG_SHA256", &sum);
    let (code, _, err) = e.stackhook(&["run", &spec("kubeconfig-url.yaml")]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(e.kubeconfig(), kc);
    assert!(e.fake.saw("static", "/prod.yaml", 200));
    assert!(e.kubectl_version().status.success());
    assert_clean(&e);
}

/// Issue 9 item 6: a mounted kubeconfig without a current-context (as
/// Terraform users who set `config_context` have it) is accepted when
/// `context:` names one of its contexts, which becomes current.
fn kubeconfig_mounted_without_current_context_with_context_and_namespace() {
    let e = E2e::new(config(), &[], &[]);
    let kc = e
        .fake
        .static_kubeconfig()
        .replace("current-context: fake\n", "");
    std::fs::write(e.sb.kubeconfig(), &kc).unwrap();
    let (code, _, err) = e.stackhook(&["run", &spec("kubeconfig-mounted.yaml")]);
    assert_eq!(code, 1, "without context: it is refused: {err}");
    assert!(err.contains("no current-context"), "{err}");
    let spec = e.sb.write_spec(
        r#"version: 1
steps:
  - provider: kubeconfig
    with: {from: mounted, context: fake, namespace: apps}
  - provider: verify
"#,
    );
    let (code, _, err) = e.stackhook(&["run", spec.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let kube = e.kubeconfig();
    assert!(kube.contains("current-context: fake"), "{kube}");
    assert!(kube.contains("namespace: apps"), "{kube}");
    assert!(e.kubectl_version().status.success());
}

/// `context:` and `namespace:` for gke (renamed by stackhook) and for a
/// kubeconfig from a variable without a current-context.
fn gke_and_kubeconfig_env_with_context_and_namespace() {
    let mut e = gke("europe-west1");
    let spec = e.sb.write_spec(
        r#"version: 1
steps:
  - provider: gke
    with: {cluster: gke-prod, region: europe-west1, project: acme-prod, context: prod, namespace: apps}
  - provider: verify
"#,
    );
    let (code, _, err) = e.stackhook(&["run", spec.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let kube = e.kubeconfig();
    assert!(kube.contains("current-context: prod"), "{kube}");
    assert!(kube.contains("namespace: apps"), "{kube}");
    // Renamed, not copied: one context (cluster and user keep their names).
    assert_eq!(kube.matches("context:\n").count(), 1, "{kube}");

    let kc = e
        .fake
        .static_kubeconfig()
        .replace("current-context: fake\n", "");
    e.set("KUBECONFIG_CONTENT", &base64_encode(kc.as_bytes()));
    let spec = e.sb.write_spec(
        r#"version: 1
steps:
  - provider: kubeconfig
    with: {from: env, var: KUBECONFIG_CONTENT, context: fake, namespace: team}
  - provider: verify
"#,
    );
    let (code, _, err) = e.stackhook(&["run", spec.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let kube = e.kubeconfig();
    assert!(
        kube.contains("current-context: fake") && kube.contains("namespace: team"),
        "{kube}"
    );
}

/// Issue 20: `proxy_url` on every provider that writes a cluster (aws-eks
/// has its own test, azure-aks is in the msi one): the current context's
/// cluster gets it as proxy-url, which kubectl then uses (a proxy that is
/// not there fails the call).
fn proxy_url_for_gke_and_every_kubeconfig_source() {
    const PROXY: &str = "proxy-url: http://127.0.0.1:9";
    let mut e = gke("europe-west1");
    let spec = e.sb.write_spec(
        r#"version: 1
steps:
  - provider: gke
    with: {cluster: gke-prod, region: europe-west1, project: acme-prod, proxy_url: "http://127.0.0.1:9"}
"#,
    );
    let (code, _, err) = e.stackhook(&["run", spec.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(e.kubeconfig().contains(PROXY), "{}", e.kubeconfig());
    assert!(!e.kubectl_version().status.success(), "the proxy is used");

    let kc = e.fake.static_kubeconfig();
    e.set("KUBECONFIG_CONTENT", &kc);
    for with in [
        "{from: env, var: KUBECONFIG_CONTENT, proxy_url: \"http://127.0.0.1:9\"}",
        "{proxy_url: \"http://127.0.0.1:9\"}",
    ] {
        std::fs::write(e.sb.kubeconfig(), &kc).unwrap();
        let spec = e.sb.write_spec(&format!(
            "version: 1\nsteps:\n  - provider: kubeconfig\n    with: {with}\n"
        ));
        let (code, _, err) = e.stackhook(&["run", spec.to_str().unwrap()]);
        assert_eq!(code, 0, "{with}: {err}");
        assert!(e.kubeconfig().contains(PROXY), "{with}: {}", e.kubeconfig());
    }
}

fn kubeconfig_mounted() {
    let e = E2e::new(config(), &[], &[]);
    std::fs::write(e.sb.kubeconfig(), e.fake.static_kubeconfig()).unwrap();
    let (code, _, err) = e.stackhook(&["run", &spec("kubeconfig-mounted.yaml")]);
    assert_eq!(code, 0, "{err}");
    assert!(e.fake.verified());
}

fn kubeconfig_mounted_but_missing_fails_preflight_free_and_clear() {
    let e = E2e::new(config(), &[], &[]);
    let (code, _, err) = e.stackhook(&["run", &spec("kubeconfig-mounted.yaml")]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("cannot read"), "{err}");
}

fn custom_run_with_vault() {
    let mut e = E2e::new(config(), &[], &[]);
    e.stub("vault");
    e.set("VAULT_TOKEN", "CANARY-vault");
    e.set("FAKE_VAULT_EXPECTED_TOKEN", "CANARY-vault");
    e.set("FAKE_VAULT_KUBECONFIG", &e.fake.static_kubeconfig());
    let (code, _, err) = e.stackhook(&["run", &spec("custom-run.yaml")]);
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("CANARY-vault"));
    assert!(e.fake.verified());
    assert_clean(&e);
}

/// Issue 20 item 6: verify asks the API who the credentials are (a
/// SelfSubjectReview: /version answers anyone), and each `can_i` question
/// (a SelfSubjectAccessReview) must be answered yes: an identity that may
/// not do what the stack needs fails the step.
fn verify_asks_who_and_what_the_identity_may_do() {
    let mut cfg = config();
    cfg["denied"] = json!(["delete namespaces"]);
    let e = E2e::new(cfg, &[], &[]);
    std::fs::write(e.sb.kubeconfig(), e.fake.static_kubeconfig()).unwrap();
    let spec = e.sb.write_spec(
        r#"version: 1
steps:
  - provider: kubeconfig
  - provider: verify
    with:
      can_i: ["get pods -n default", "list namespaces"]
"#,
    );
    let (code, out, err) = e.stackhook(&["run", spec.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(e.fake.verified());
    assert!(
        (out.clone() + &err).contains("fake-user:"),
        "whoami's answer is shown: {out}\n{err}"
    );
    let reviews = e
        .fake
        .requests()
        .iter()
        .filter(|r| {
            r["path"] == "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
                && r["status"] == 201
        })
        .count();
    assert_eq!(reviews, 2);

    let spec = e.sb.write_spec(
        r#"version: 1
steps:
  - provider: kubeconfig
  - provider: verify
    with:
      can_i: ["get pods", "delete namespaces"]
"#,
    );
    let (code, out, err) = e.stackhook(&["run", spec.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(err.contains("step `verify` failed"), "{err}");
    assert!(out.contains("[verify] no"), "{out}");
    assert!(
        err.contains("[verify] error: the identity may not: delete namespaces"),
        "{err}"
    );
}

/// Before Kubernetes 1.28 (or with an older kubectl) there is no
/// SelfSubjectReview: verify says so and checks the credentials with
/// /version, which still refuses a bad token.
fn verify_on_an_api_server_without_self_subject_review() {
    let mut cfg = config();
    cfg["old_api"] = json!(true);
    let e = E2e::new(cfg, &[], &[]);
    std::fs::write(e.sb.kubeconfig(), e.fake.static_kubeconfig()).unwrap();
    let (code, _, err) = e.stackhook(&["run", &spec("kubeconfig-mounted.yaml")]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("kubectl auth whoami failed"), "{err}");
    assert!(e.fake.saw("k8s", "/version", 200));
    let bad = e
        .fake
        .static_kubeconfig()
        .replace(STATIC_TOKEN, "not-a-token");
    std::fs::write(e.sb.kubeconfig(), &bad).unwrap();
    let (code, _, err) = e.stackhook(&["run", &spec("kubeconfig-mounted.yaml")]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("hint: the credentials were refused"), "{err}");
}

fn verify_fails_fast_when_the_api_refuses_the_token() {
    let e = E2e::new(config(), &[], &[]);
    let bad = e
        .fake
        .static_kubeconfig()
        .replace(STATIC_TOKEN, "not-a-token");
    std::fs::write(e.sb.kubeconfig(), &bad).unwrap();
    let (code, _, err) = e.stackhook(&["run", &spec("kubeconfig-mounted.yaml")]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("Unauthorized") || err.contains("logged in"),
        "{err}"
    );
    assert!(err.contains("hint: the credentials were refused"), "{err}");
    assert_eq!(e.kubeconfig(), bad);
}

// ------------------------------------------- what a CLI must not be handed

/// Finding 2: a secret in a parameter that a command writes on its command
/// line (a download URL, `subscription`, `client_id`, `can_i`) is refused
/// when the plan is made, located at the parameter: nothing runs, no CLI
/// is called. (With argv-recording wrappers, the old code put
/// `access_token=dl-...` in curl's argv and the subscription in az's.)
fn a_secret_in_any_parameter_is_refused_before_any_cli_runs() {
    let mut e = aks();
    e.record_argv("curl");
    for (k, v) in [
        ("DL_TOKEN", "dl-CANARY-abc"),
        ("SUB_ID", "sub-CANARY-def"),
        ("SP_PW", "CANARY-sp-pw"),
        ("KUBE_TOKEN", "CANARY-kube-token"),
        ("ARM_CLIENT_ID", "app-0001"),
        ("ARM_TENANT_ID", "tenant-0001"),
        ("ARM_CLIENT_SECRET", ARM_SECRET),
    ] {
        e.set(k, v);
    }
    // The set-up's own az calls (the cloud) are not the run's.
    std::fs::remove_file(e.argv_log()).unwrap();
    let cases = [
        (
            "version: 1\nsecrets: [SUB_ID]\nsteps:\n  - provider: kubeconfig\n    with:\n      from: url\n      url: \"https://127.0.0.1:1/kc?access_token=${DL_TOKEN}\"\n  - provider: azure-aks\n    with: {cluster: aks-prod, resource_group: rg-prod, login: spn, subscription: \"${SUB_ID}\"}\n",
            vec!["`url` reads DL_TOKEN", "`subscription` reads SUB_ID"],
        ),
        (
            "version: 1\nsecrets: [SP_PW]\nsteps:\n  - provider: azure-aks\n    with: {cluster: aks-prod, resource_group: rg-prod, login: spn, client_id: \"${SP_PW}\"}\n",
            vec!["`client_id` reads SP_PW"],
        ),
        (
            "version: 1\nsteps:\n  - provider: verify\n    with: {can_i: \"--token=${KUBE_TOKEN} get pods\"}\n",
            vec!["`can_i` reads KUBE_TOKEN"],
        ),
    ];
    for (text, wants) in cases {
        let spec = e.sb.write_spec(text);
        let (code, out, err) = e.stackhook(&["run", spec.to_str().unwrap()]);
        assert_eq!(code, 2, "{err}");
        let err = unwrapped(&err);
        assert!(
            err.contains("stackhook::template::secret_in_command"),
            "{err}"
        );
        for want in wants {
            assert!(err.contains(want), "{want}: {err}");
        }
        assert!(!out.contains("CANARY") && !err.contains("CANARY"), "{err}");
        assert!(!e.argv_log().exists(), "a CLI ran");
    }
}

/// Finding 2: the Rancher example, run with the real curl against a fake
/// Rancher: curl reads the Authorization header from a 0600 temp file
/// (`-H @FILE`), so the token is in no argv; the kubeconfig it returns is
/// installed and works.
fn rancher_example_hands_its_token_to_curl_in_a_file() {
    const TOKEN: &str = "token-CANARY-rancher";
    let mut cfg = config();
    cfg["rancher"] = json!({"token": TOKEN, "cluster": "c-m-abc123"});
    let mut e = E2e::new(cfg, &["curl"], &[]);
    let kc = e.fake.static_kubeconfig();
    std::fs::write(e.fake.dir.path().join("rancher.kubeconfig"), &kc).unwrap();
    // `templates:` stays in the repository: the example's providers are
    // copied into the sandbox's.
    let providers = e.sb.path("work/providers");
    std::fs::create_dir(&providers).unwrap();
    std::fs::copy(
        root().join("examples/custom-provider/providers/rancher.yaml"),
        providers.join("rancher.yaml"),
    )
    .unwrap();
    let server = format!("http://127.0.0.1:{}", e.fake.port("rancher"));
    let spec = e.sb.write_spec(&format!(
        "version: 1\ntemplates: providers\nsteps:\n  - provider: rancher\n    with: {{server: \"{server}\", cluster: c-m-abc123}}\n  - provider: verify\n"
    ));
    e.set("RANCHER_TOKEN", TOKEN);
    let (code, out, err) = e.stackhook(&["run", spec.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains(TOKEN) && !err.contains(TOKEN), "{err}");
    assert!(e.fake.saw("rancher", "/v3/clusters/c-m-abc123", 200));
    assert_eq!(e.kubeconfig(), kc);
    assert!(e.fake.verified());
    let argv = std::fs::read_to_string(e.argv_log()).unwrap();
    assert!(
        argv.contains("\n-H\n@"),
        "curl got the header as a file: {argv}"
    );
    assert_clean(&e);

    // A wrong token: Rancher refuses it, the run fails and rolls back.
    e.set("RANCHER_TOKEN", "token-CANARY-wrong");
    std::fs::remove_file(e.sb.kubeconfig()).unwrap();
    let (code, _, err) = e.stackhook(&["run", spec.to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");
    assert!(!err.contains("CANARY"), "{err}");
    assert!(!e.sb.kubeconfig().exists());
    assert_clean(&e);
}

/// A token file as Spacelift writes one, holding a canary.
fn oidc_canary_file(e: &E2e) -> PathBuf {
    let file = e.sb.path("kube/fake-spacelift.oidc");
    std::fs::write(&file, "eyJhbGciOiJub25lIn0.CANARY-oidc-jwt.sig").unwrap();
    file
}

/// Finding 4, with the real az: az reads any argument value that starts
/// with `@` from the file it names, and says what it read in its error. A
/// parameter value (or the variable it reads) that starts with `@` is
/// refused before anything runs; `@` further in, and in parameters that
/// never reach az, is an ordinary character.
fn aks_values_az_reads_from_a_file_are_refused() {
    let mut cfg = config();
    cfg["aks"]["subscription_name"] = json!("ops@acme subscription");
    let mut e = aks_with(cfg);
    let oidc = oidc_canary_file(&e);
    let at_oidc = format!("@{}", oidc.display());
    // The danger is real: this az shows the file's content.
    let direct = e
        .command("az")
        .args(["cloud", "show", &format!("--name={at_oidc}")])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&direct.stderr).contains("CANARY-oidc-jwt"),
        "az did not read @FILE: {}",
        String::from_utf8_lossy(&direct.stderr)
    );
    std::fs::remove_file(e.argv_log()).unwrap();
    e.set("ARM_CLIENT_ID", "app-0001");
    e.set("ARM_TENANT_ID", "tenant-0001");
    e.set("ARM_CLIENT_SECRET", ARM_SECRET);

    let refused = |e: &mut E2e, var: &str, spec: &str, param: &str| {
        let old = e.env.iter().find(|(k, _)| k == var).map(|(_, v)| v.clone());
        e.set(var, &at_oidc);
        let (code, out, err) = e.stackhook(&["run", spec]);
        assert_eq!(code, 2, "{var}: {err}");
        let err = unwrapped(&err);
        assert!(err.contains("stackhook::spec::cli_value"), "{err}");
        assert!(
            err.contains(&format!("`{param}`")) && err.contains("starts with `@`"),
            "{err}"
        );
        assert!(!out.contains("CANARY") && !err.contains("CANARY"), "{err}");
        assert!(!e.argv_log().exists(), "{var}: a CLI ran");
        match old {
            Some(v) => e.set(var, &v),
            None => e.env.retain(|(k, _)| k != var),
        }
    };
    let spn = spec("azure-aks-spn.yaml");
    refused(&mut e, "ARM_SUBSCRIPTION_ID", &spn, "subscription");
    refused(&mut e, "ARM_CLIENT_ID", &spn, "client_id");
    refused(&mut e, "ARM_TENANT_ID", &spn, "tenant_id");
    refused(&mut e, "AKS_CLUSTER_NAME", &spn, "cluster");
    refused(&mut e, "AKS_RESOURCE_GROUP", &spn, "resource_group");
    // Literals too, `@-` (az's stdin) and a certificate path.
    for with in [
        "{cluster: aks-prod, resource_group: \"@-\", login: spn}",
        "{cluster: aks-prod, resource_group: rg-prod, login: cert, certificate: \"@/etc/hostname\"}",
    ] {
        let spec = e.sb.write_spec(&format!(
            "version: 1\nsteps:\n  - provider: azure-aks\n    with: {with}\n"
        ));
        let (code, _, err) = e.stackhook(&["run", spec.to_str().unwrap()]);
        assert_eq!(code, 2, "{with}: {err}");
        assert!(unwrapped(&err).contains("starts with `@`"), "{err}");
    }
    assert!(!e.argv_log().exists(), "a CLI ran");

    // Ordinary values: `@` inside the subscription's name (az selects it
    // by name), and a context that starts with `@` (stackhook's, not az's).
    let spec = e.sb.write_spec(
        "version: 1\nsteps:\n  - provider: azure-aks\n    with: {cluster: aks-prod, resource_group: rg-prod, login: spn, subscription: \"ops@acme subscription\", context: \"@prod\"}\n  - provider: verify\n",
    );
    let (code, _, err) = e.stackhook(&["run", spec.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(e.fake.verified());
    let kube = e.kubeconfig();
    assert!(kube.contains("current-context: \"@prod\""), "{kube}");
    assert!(e.kubectl_version().status.success());
}

/// Finding 4, with the real AWS CLI (v1): it reads `file://` and
/// `fileb://` values from files and fetches `http(s)://` ones, and the
/// cluster name then shows in its errors. Such values are refused before
/// anything runs; `://` further in, and in `proxy_url` (stackhook's, not
/// the CLI's), is ordinary.
fn eks_values_aws_reads_from_a_file_or_a_url_are_refused() {
    let mut e = eks(config());
    let oidc = oidc_canary_file(&e);
    let file_url = format!("file://{}", oidc.display());
    // The danger is real: this aws reads the file and prints what it read.
    let direct = e
        .command("aws")
        .args(["eks", "update-kubeconfig", "--region=eu-west-1"])
        .arg(format!("--name={file_url}"))
        .arg(format!(
            "--kubeconfig={}",
            e.sb.path("work/scratch-kubeconfig").display()
        ))
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&direct.stderr).to_string()
        + &String::from_utf8_lossy(&direct.stdout);
    assert!(
        said.contains("CANARY-oidc-jwt"),
        "aws did not read file://: {said}"
    );
    std::fs::remove_file(e.argv_log()).unwrap();
    std::fs::remove_file(e.fake.dir.path().join("requests.log")).unwrap();

    let static_url = format!("http://127.0.0.1:{}/name", e.fake.port("static"));
    for value in [
        file_url.clone(),
        format!("fileb://{}", oidc.display()),
        format!("FILE://{}", oidc.display()),
        static_url.clone(),
        static_url.replace("http://", "https://"),
    ] {
        e.set("EKS_CLUSTER_NAME", &value);
        let (code, out, err) = e.stackhook(&["run", &spec("aws-eks.yaml")]);
        assert_eq!(code, 2, "{value}: {err}");
        let err = unwrapped(&err);
        assert!(
            err.contains("`cluster`") && err.contains("which aws does not take"),
            "{err}"
        );
        assert!(!out.contains("CANARY") && !err.contains("CANARY"), "{err}");
    }
    e.set("EKS_CLUSTER_NAME", "eks-prod");
    for with in [
        format!("{{cluster: eks-prod, region: \"{file_url}\"}}"),
        format!("{{cluster: eks-prod, region: eu-west-1, context: \"{file_url}\"}}"),
        format!("{{cluster: eks-prod, region: eu-west-1, role_arn: \"{static_url}\"}}"),
    ] {
        let spec = e.sb.write_spec(&format!(
            "version: 1\nsteps:\n  - provider: aws-eks\n    with: {with}\n"
        ));
        let (code, _, err) = e.stackhook(&["run", spec.to_str().unwrap()]);
        assert_eq!(code, 2, "{with}: {err}");
    }
    assert!(!e.argv_log().exists(), "a CLI ran");
    assert!(e.fake.requests().is_empty(), "nothing was called");

    // Ordinary values: a URL-like alias (`://` further in) works with the
    // real CLI, and a proxy URL (written by stackhook) is no aws argument.
    let spec = e.sb.write_spec(
        "version: 1\nsteps:\n  - provider: aws-eks\n    with: {cluster: eks-prod, region: eu-west-1, context: \"prod-https://eks\", user_alias: \"u-file://x\"}\n  - provider: verify\n",
    );
    let (code, _, err) = e.stackhook(&["run", spec.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let kube = e.kubeconfig();
    assert!(kube.contains("current-context: prod-https://eks"), "{kube}");
    assert!(e.kubectl_version().status.success());
    let spec = e.sb.write_spec(
        "version: 1\nsteps:\n  - provider: aws-eks\n    with: {cluster: eks-prod, region: eu-west-1, proxy_url: \"http://proxy.internal:3128\"}\n",
    );
    let (code, _, err) = e.stackhook(&["plan", spec.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
}
