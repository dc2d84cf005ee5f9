//! Helpers shared by the integration tests, which drive the built binary.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The binary with a clean, fixed environment (so snapshots do not depend on
/// the machine), run from the project root.
pub fn stackhook() -> Command {
    let mut cmd = Command::cargo_bin("stackhook").expect("binary builds");
    cmd.env_clear()
        .current_dir(root())
        .env("HOME", "/home/runner")
        .env("PATH", "/nonexistent")
        .env("NO_COLOR", "1");
    cmd
}

/// Values for every variable the shipped specs read, including secret
/// canaries that must never show up in any output.
pub const FULL_ENV: &[(&str, &str)] = &[
    ("KUBECONFIG", "/mnt/workspace/.kube/config"),
    ("GKE_CLUSTER_NAME", "prod-cluster"),
    ("GKE_CLUSTER_REGION", "europe-west1"),
    ("GKE_CLUSTER_ZONE", "europe-west1-b"),
    ("GCP_PROJECT_NAME", "acme-prod"),
    ("GOOGLE_OAUTH_ACCESS_TOKEN", "ya29.CANARY-gcp-token"),
    ("EKS_CLUSTER_NAME", "eks-prod"),
    ("AWS_REGION", "us-east-2"),
    ("AKS_CLUSTER_NAME", "aks-prod"),
    ("AKS_RESOURCE_GROUP", "rg-prod"),
    (
        "AKS_IDENTITY_CLIENT_ID",
        "11111111-2222-3333-4444-555555555555",
    ),
    ("ARM_SUBSCRIPTION_ID", "sub-0001"),
    ("ARM_CLIENT_ID", "app-0001"),
    ("ARM_TENANT_ID", "tenant-0001"),
    ("ARM_CLIENT_SECRET", "CANARY-arm-secret"),
    ("KUBECONFIG_CONTENT", "CANARY-kubeconfig-content"),
    (
        "KUBECONFIG_URL",
        "https://config.internal.example/prod.yaml",
    ),
    (
        "KUBECONFIG_SHA256",
        "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae",
    ),
    ("VAULT_TOKEN", "CANARY-vault-token"),
];

pub fn canaries() -> impl Iterator<Item = &'static str> {
    FULL_ENV
        .iter()
        .map(|(_, v)| *v)
        .filter(|v| v.contains("CANARY"))
}

/// A directory of executables standing in for CLIs only so that `plan` can
/// report them as found; nothing runs them.
pub fn fake_path(dir: &Path, names: &[&str]) -> String {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir).unwrap();
    for name in names {
        let p = dir.join(name);
        std::fs::write(&p, "#!/bin/sh\nexit 0\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    dir.display().to_string()
}

pub fn shipped_specs() -> Vec<PathBuf> {
    let mut specs: Vec<PathBuf> = std::fs::read_dir(root().join("specs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    specs.sort();
    specs
}

pub fn stdout(out: &std::process::Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

pub fn stderr(out: &std::process::Output) -> String {
    String::from_utf8(out.stderr.clone()).unwrap()
}
