//! Helpers shared by the integration tests, which drive the built binary.
#![allow(dead_code, unused_macros)]

/// Checks one snapshot of a loop without stopping it: a mismatch (shown
/// by insta with its diff) is added to `$failed`, so that a loop can report
/// every mismatch at once with [`all_snapshots_match`]. A macro, so that
/// insta names the snapshot after the calling test file.
macro_rules! check_snapshot {
    ($failed:expr, $name:expr, $value:expr) => {{
        let name: String = $name.into();
        let value: String = $value;
        let matched = std::panic::catch_unwind(|| insta::assert_snapshot!(name.clone(), value));
        if matched.is_err() {
            $failed.push(name);
        }
    }};
}

/// Fails naming every snapshot of a loop that did not match.
pub fn all_snapshots_match(failed: &[String]) {
    assert!(
        failed.is_empty(),
        "{} snapshots differ (diffs above): {}",
        failed.len(),
        failed.join(", ")
    );
}

pub mod harness;

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
    ("GKE_CLUSTER_LOCATION", "europe-west1-c"),
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

/// The path of the built binary, for tests that need a live child process.
pub fn bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("stackhook")
}

/// A private playground for one run: a TMPDIR to watch for leftovers, a
/// kubeconfig path, a bin directory first on PATH, and a work directory.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Self {
        let s = Sandbox {
            dir: tempfile::tempdir().unwrap(),
        };
        for d in ["tmp", "kube", "bin", "work"] {
            std::fs::create_dir(s.dir.path().join(d)).unwrap();
        }
        s
    }
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }
    /// A named pipe at `rel`: what tests wait on instead of sleeping.
    pub fn fifo(&self, rel: &str) -> PathBuf {
        let path = self.path(rel);
        let made = std::process::Command::new("mkfifo")
            .arg(&path)
            .status()
            .unwrap();
        assert!(made.success(), "mkfifo {}", path.display());
        path
    }
    pub fn tmp(&self) -> PathBuf {
        self.path("tmp")
    }
    pub fn kubeconfig(&self) -> PathBuf {
        self.path("kube/config")
    }
    pub fn bin(&self) -> PathBuf {
        self.path("bin")
    }
    pub fn path_var(&self) -> String {
        format!("{}:/usr/local/bin:/usr/bin:/bin", self.bin().display())
    }
    pub fn write_spec(&self, text: &str) -> PathBuf {
        let p = self.path("work/spec.yaml");
        std::fs::write(&p, text).unwrap();
        p
    }
    /// The environment of a run in this sandbox.
    pub fn envs(&self) -> Vec<(String, String)> {
        vec![
            ("HOME".into(), self.path("work").display().to_string()),
            ("PATH".into(), self.path_var()),
            ("TMPDIR".into(), self.tmp().display().to_string()),
            ("KUBECONFIG".into(), self.kubeconfig().display().to_string()),
            (
                "KUBECACHEDIR".into(),
                self.path("work/.kubecache").display().to_string(),
            ),
            ("NO_COLOR".into(), "1".into()),
        ]
    }
    pub fn command(&self) -> std::process::Command {
        let mut c = std::process::Command::new(bin());
        c.env_clear()
            .envs(self.envs())
            .current_dir(self.path("work"));
        c
    }
    /// Runs the binary in the sandbox to its end: exit code, stdout, stderr.
    pub fn run(&self, args: &[&str], extra: &[(&str, &str)]) -> (i32, String, String) {
        let child = self
            .command()
            .args(args)
            .envs(extra.iter().copied())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        output_of(child)
    }

    /// Entries left in TMPDIR: a finished run leaves none.
    pub fn tmp_entries(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.tmp())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .collect();
        v.sort();
        v
    }
    /// Installs an executable script into the sandbox's bin directory.
    pub fn script(&self, name: &str, body: &str) {
        use std::os::unix::fs::PermissionsExt;
        let p = self.bin().join(name);
        std::fs::write(&p, body).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    /// Puts the real kubectl first on PATH (tests that call this need
    /// `Need::Kubectl`).
    pub fn with_real_kubectl(&self) {
        let k = real_kubectl().expect("the harness checked that kubectl is here");
        std::os::unix::fs::symlink(k, self.bin().join("kubectl")).unwrap();
    }
}

/// A finished child's exit code (-1 when killed by a signal), stdout and
/// stderr.
pub fn output_of(child: std::process::Child) -> (i32, String, String) {
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

/// A diagnostic as one line: miette wraps long messages at 100 columns
/// behind a `│` gutter.
pub fn unwrapped(text: &str) -> String {
    text.split_whitespace()
        .filter(|w| *w != "│")
        .collect::<Vec<_>>()
        .join(" ")
}

/// Reads the child's stdout until a line contains `needle`; returns the
/// lines read.
pub fn wait_for_line(reader: &mut impl std::io::BufRead, needle: &str) -> Vec<String> {
    let mut lines = Vec::new();
    loop {
        let mut line = String::new();
        let n = reader.read_line(&mut line).unwrap();
        assert!(n > 0, "output ended before {needle:?}; got {lines:?}");
        let hit = line.contains(needle);
        lines.push(line);
        if hit {
            return lines;
        }
    }
}

/// A program on this process's PATH.
pub fn which(name: &str) -> Option<PathBuf> {
    std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}

/// A venv that .ci/run installs under ~/.cache/stackhook, or where the
/// variable says.
fn venv(var: &str, default: &str) -> PathBuf {
    std::env::var_os(var).map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(std::env::var("HOME").unwrap_or_default())
            .join(".cache/stackhook")
            .join(default)
    })
}

/// The venv that holds the Azure CLI.
pub fn az_venv() -> PathBuf {
    venv("STACKHOOK_AZ_VENV", "az-venv")
}

/// The venv that holds the linters and validators.
pub fn tools_venv() -> PathBuf {
    venv("STACKHOOK_TOOLS_VENV", "tools-venv")
}

/// The Python that runs tests/fakes/fake_cloud.py: the az venv's has
/// `cryptography` (an az dependency); else python3.
pub fn fake_cloud_python() -> PathBuf {
    Some(az_venv().join("bin/python"))
        .filter(|p| p.is_file())
        .unwrap_or_else(|| "python3".into())
}

/// The real kubectl binary: the Google Cloud SDK's `kubectl` is a version
/// dispatcher that may call the server even for `kubectl config`, so the
/// versioned binary beside it is preferred.
pub fn real_kubectl() -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    let found = path
        .split(':')
        .map(|d| Path::new(d).join("kubectl"))
        .find(|p| p.is_file())?;
    let resolved = std::fs::canonicalize(&found).ok()?;
    let dir = resolved.parent()?;
    let mut versioned: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("kubectl.1."))
        })
        .collect();
    versioned.sort_by_key(|p| {
        p.file_name()
            .unwrap()
            .to_string_lossy()
            .trim_start_matches("kubectl.1.")
            .parse::<u32>()
            .unwrap_or(0)
    });
    Some(versioned.pop().unwrap_or(resolved))
}

/// A kubeconfig with two contexts, as a user's laptop has.
pub const TWO_CONTEXTS: &str = "apiVersion: v1
kind: Config
current-context: staging
clusters:
- name: staging
  cluster:
    server: https://staging.example:6443
- name: prod
  cluster:
    server: https://prod.example:6443
contexts:
- name: staging
  context:
    cluster: staging
    user: alice
- name: prod
  context:
    cluster: prod
    user: alice
users:
- name: alice
  user:
    token: alice-token
";

/// Waits until `pid` (not a child of this process) has exited (a zombie
/// not yet reaped has).
pub fn wait_for_exit(pid: i32) {
    // SAFETY: pidfd_open and poll on a descriptor this function owns.
    unsafe {
        let fd = libc::syscall(libc::SYS_pidfd_open, pid, 0) as i32;
        if fd < 0 {
            return; // already gone
        }
        let mut p = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        libc::poll(&mut p, 1, -1);
        libc::close(fd);
    }
}
