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
            eks_with_an_alias,
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
            gke_token_swap_under_busybox_sh,
            Need::Cli("busybox"),
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
            aks_service_principal_with_env_file_for_later_kubectl,
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

/// The fake cloud, running until dropped.
struct Fake {
    child: Child,
    dir: tempfile::TempDir,
    ports: Json,
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
        E2e { sb, fake, env }
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
    assert!(e.fake.saw("k8s", "/version", 200));
    assert!(
        e.kubeconfig()
            .contains("current-context: arn:aws:eks:eu-west-1:111122223333:cluster/eks-prod")
    );
    assert!(e.kubectl_version().status.success());
    assert_clean(&e);
}

fn eks_with_an_alias() {
    let e = eks(config());
    let spec = e.sb.write_spec(
        r#"version: 1
steps:
  - provider: aws-eks
    with: {cluster: eks-prod, region: eu-west-1, alias: prod}
  - provider: verify
    with: {can_i: get pods -n default}
"#,
    );
    let (code, _, err) = e.stackhook(&["run", spec.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(
        e.kubeconfig().contains("current-context: prod"),
        "{}",
        e.kubeconfig()
    );
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
    assert!(e.fake.saw("k8s", "/version", 401));
    assert_eq!(e.kubeconfig(), TWO_CONTEXTS);
    assert_clean(&e);
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
    // Token mode must not need the auth plugin: it is taken off PATH.
    let mut e = E2e::new(cfg, &["gcloud"], &["gke-gcloud-auth-plugin"]);
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
    e
}

fn gke_flow(spec_name: &str, location: &str) {
    gke_flow_in(gke(location), spec_name, location);
}

fn gke_flow_in(e: E2e, spec_name: &str, location: &str) {
    let (code, _, err) = e.stackhook(&["run", &spec(spec_name)]);
    assert_eq!(code, 0, "{err}");
    // The fake answered 200 only for the right bearer token: the temp
    // token file carried it.
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
    assert!(
        kube.contains(GKE_TOKEN),
        "the kubeconfig must hold the token"
    );
    assert!(e.fake.saw("k8s", "/version", 200));
    // A later phase: kubectl with the token, without any auth plugin.
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

// ------------------------------------------------------------------ AKS

fn aks() -> E2e {
    let mut e = E2e::new(config(), &["az"], &[]);
    e.stub("kubelogin");
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

fn aks_service_principal_with_env_file_for_later_kubectl() {
    let mut e = aks();
    e.set("ARM_CLIENT_ID", "app-0001");
    e.set("ARM_TENANT_ID", "tenant-0001");
    e.set("ARM_CLIENT_SECRET", ARM_SECRET);
    let env_file = e.sb.path("work/.stackhook.env");
    let (code, _, err) = e.stackhook(&[
        "run",
        "--env-file",
        env_file.to_str().unwrap(),
        &spec("azure-aks-spn.yaml"),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(e.fake.saw("aks", "/tenant-0001/oauth2/v2.0/token", 200));
    assert!(e.fake.saw("aks", &format!("/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-prod/providers/Microsoft.ContainerService/managedClusters/aks-prod/listClusterUserCredential"), 200));
    let log = std::fs::read_to_string(e.sb.path("work/kubelogin.log")).unwrap();
    assert!(
        log.lines().any(|l| l == "convert-kubeconfig -l spn"),
        "{log}"
    );
    // verify's kubectl ran kubelogin with the exported AAD_* variables.
    assert!(e.fake.saw("k8s", "/version", 200));
    let text = std::fs::read_to_string(&env_file).unwrap();
    assert!(
        text.contains("export AAD_SERVICE_PRINCIPAL_CLIENT_SECRET=\"$ARM_CLIENT_SECRET\""),
        "{text}"
    );
    assert!(!text.contains(ARM_SECRET));

    // A later phase without the env file cannot log in; with it, it can.
    let without = e.kubectl_version();
    assert!(!without.status.success());
    assert!(String::from_utf8_lossy(&without.stderr).contains("AAD_SERVICE_PRINCIPAL_CLIENT_ID"));
    let with = e
        .command("sh")
        .arg("-c")
        .arg(format!(
            ". {} && kubectl get --raw /version",
            env_file.display()
        ))
        .output()
        .unwrap();
    assert!(
        with.status.success(),
        "{}",
        String::from_utf8_lossy(&with.stderr)
    );
    assert_clean(&e);
}

fn aks_service_principal_with_a_wrong_secret_fails_with_a_hint() {
    let mut e = aks();
    e.set("ARM_CLIENT_ID", "app-0001");
    e.set("ARM_TENANT_ID", "tenant-0001");
    e.set("ARM_CLIENT_SECRET", "CANARY-wrong-secret");
    let (code, _, err) = e.stackhook(&["run", &spec("azure-aks-spn.yaml")]);
    assert_eq!(code, 1, "{err}");
    assert!(!err.contains("CANARY-wrong-secret"));
    assert!(err.contains("step `azure-aks` failed: command 1"), "{err}");
    assert!(!e.sb.kubeconfig().exists());
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
            .any(|l| l == "convert-kubeconfig -l msi --client-id client-of-identity"),
        "{log}"
    );
    assert!(e.fake.saw("k8s", "/version", 200));
    assert_clean(&e);
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

fn kubeconfig_mounted() {
    let e = E2e::new(config(), &[], &[]);
    std::fs::write(e.sb.kubeconfig(), e.fake.static_kubeconfig()).unwrap();
    let (code, _, err) = e.stackhook(&["run", &spec("kubeconfig-mounted.yaml")]);
    assert_eq!(code, 0, "{err}");
    assert!(e.fake.saw("k8s", "/version", 200));
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
    assert!(e.fake.saw("k8s", "/version", 200));
    assert_clean(&e);
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
