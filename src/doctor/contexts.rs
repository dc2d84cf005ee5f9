//! The kubeconfig a run writes: its path (as `run` finds it), whether it
//! and its directory are writable, who holds its lock (read, never
//! taken), and each context with its cluster's server and how its user
//! gets a credential: for an exec user, whether its command is found.
//! Names and servers are shown (escaped); no credential of a user is read.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::base::bounded_file::{self, KUBECONFIG_CAP};
use crate::base::paint::visible;
use crate::base::which::find_on_path;
use crate::doctor::cluster::ClusterReport;
use crate::doctor::finding::Finding;
use crate::doctor::visible_env::VisibleEnv;
use crate::run::lock::{self, LockState};

const CHECK: &str = "kubeconfig";

#[derive(Debug, Default, Deserialize)]
struct File {
    #[serde(rename = "current-context", default)]
    current_context: Option<String>,
    #[serde(default)]
    contexts: Option<Vec<Named<Context>>>,
    #[serde(default)]
    clusters: Option<Vec<Named<Cluster>>>,
    #[serde(default)]
    users: Option<Vec<Named<User>>>,
}

#[derive(Debug, Deserialize)]
struct Named<T> {
    name: String,
    #[serde(alias = "context", alias = "cluster", alias = "user")]
    body: Option<T>,
}

#[derive(Debug, Default, Deserialize)]
struct Context {
    cluster: Option<String>,
    user: Option<String>,
    namespace: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct Cluster {
    server: Option<String>,
}

/// How a user gets its credential; the credential itself is never kept.
#[derive(Debug, Default, Deserialize)]
struct User {
    exec: Option<Exec>,
    token: Option<serde::de::IgnoredAny>,
    #[serde(rename = "tokenFile")]
    token_file: Option<serde::de::IgnoredAny>,
    #[serde(rename = "client-certificate-data")]
    cert_data: Option<serde::de::IgnoredAny>,
    #[serde(rename = "client-certificate")]
    cert: Option<serde::de::IgnoredAny>,
    #[serde(rename = "auth-provider")]
    auth_provider: Option<serde::de::IgnoredAny>,
    username: Option<serde::de::IgnoredAny>,
}

#[derive(Debug, Default, Deserialize)]
struct Exec {
    command: Option<String>,
    #[serde(default)]
    args: Option<Vec<String>>,
    #[serde(default)]
    env: Option<Vec<ExecEnv>>,
}

#[derive(Debug, Default, Deserialize)]
struct ExecEnv {
    name: String,
    #[serde(default)]
    value: String,
}

#[derive(Debug, Serialize)]
pub struct KubeconfigReport {
    pub path: String,
    pub exists: bool,
    /// The file (or, while it does not exist, its directory) can be written.
    pub writable: bool,
    /// `free`, `held`, `left` or `unknown`.
    pub lock: &'static str,
    pub lock_holder_pid: Option<u32>,
    pub current_context: Option<String>,
    pub contexts: Vec<ContextReport>,
    pub findings: Vec<Finding>,
}

#[derive(Debug, Serialize)]
pub struct ContextReport {
    pub name: String,
    pub current: bool,
    pub cluster: Option<String>,
    pub server: Option<String>,
    pub namespace: Option<String>,
    pub user: Option<String>,
    /// `exec`, `token`, `token file`, `client certificate`,
    /// `auth-provider`, `basic`, `none`, or `missing` (no such user).
    pub auth: &'static str,
    pub exec_command: Option<String>,
    pub exec_found: Option<bool>,
    pub findings: Vec<Finding>,
    /// With `--cluster`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster_check: Option<ClusterReport>,
}

fn writable(path: &Path) -> bool {
    let Ok(c) = CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: a valid NUL-terminated path.
    unsafe { libc::access(c.as_ptr(), libc::W_OK) == 0 }
}

/// The nearest directory of `path` that exists.
fn existing_dir(path: &Path) -> PathBuf {
    let mut dir = path.parent().unwrap_or(Path::new("/")).to_path_buf();
    while !dir.is_dir() && dir.pop() {}
    dir
}

pub fn check(path: &Path, env: &VisibleEnv) -> KubeconfigReport {
    let shown = visible(&path.display().to_string()).into_owned();
    let mut r = KubeconfigReport {
        path: path.display().to_string(),
        exists: path.exists(),
        writable: false,
        lock: "free",
        lock_holder_pid: None,
        current_context: None,
        contexts: Vec::new(),
        findings: Vec::new(),
    };
    let dir = existing_dir(path);
    let dir_ok = writable(&dir);
    r.writable = dir_ok && (!r.exists || writable(path));
    let where_ = match r.exists {
        true => format!("{shown} exists"),
        false => format!("{shown} does not exist yet (a run creates it)"),
    };
    r.findings.push(match r.writable {
        true => Finding::ok(
            CHECK,
            format!("{where_}; it and its directory are writable"),
        ),
        false => Finding::problem(
            CHECK,
            format!(
                "{where_}, but {} is not writable: a run cannot write it",
                if dir_ok {
                    shown.clone()
                } else {
                    visible(&dir.display().to_string()).into_owned()
                }
            ),
        ),
    });
    lock_finding(path, &mut r);
    if r.exists {
        contexts(path, env, &mut r);
    }
    r
}

fn lock_finding(path: &Path, r: &mut KubeconfigReport) {
    let (state, finding) = match lock::inspect(path) {
        LockState::Free => (
            "free",
            Finding::ok("lock", "no run holds the kubeconfig's lock"),
        ),
        LockState::Held(pid) => {
            r.lock_holder_pid = pid;
            let who = pid.map_or("pid unknown".into(), |p| format!("pid {p}"));
            (
                "held",
                Finding::problem(
                    "lock",
                    format!(
                        "another stackhook run ({who}) holds the kubeconfig's lock: a run now waits for it"
                    ),
                ),
            )
        }
        LockState::Left(pid) => {
            r.lock_holder_pid = pid;
            (
                "left",
                Finding::note(
                    "lock",
                    "a lock file is left by a run that ended without removing it; no process holds it, and the next run takes it",
                ),
            )
        }
        LockState::Unknown(why) => (
            "unknown",
            Finding::problem(
                "lock",
                format!("the lock cannot be read: {}", visible(&why)),
            ),
        ),
    };
    r.lock = state;
    r.findings.push(finding);
}

fn contexts(path: &Path, env: &VisibleEnv, r: &mut KubeconfigReport) {
    let text = match bounded_file::read_to_string(path, KUBECONFIG_CAP) {
        Ok(t) => t,
        Err(e) => {
            r.findings
                .push(Finding::problem(CHECK, format!("cannot read it: {e}")));
            return;
        }
    };
    let file: File = match serde_saphyr::from_str(&text) {
        Ok(f) => f,
        Err(_) => {
            r.findings.push(Finding::problem(
                CHECK,
                "it is not a valid kubeconfig (YAML)",
            ));
            return;
        }
    };
    r.current_context = file.current_context.clone().filter(|c| !c.is_empty());
    let clusters = file.clusters.unwrap_or_default();
    let users = file.users.unwrap_or_default();
    for c in file.contexts.unwrap_or_default() {
        let body = c.body.unwrap_or_default();
        let server = body
            .cluster
            .as_ref()
            .and_then(|n| clusters.iter().find(|k| &k.name == n))
            .and_then(|k| k.body.as_ref()?.server.clone());
        let user = body
            .user
            .as_ref()
            .and_then(|n| users.iter().find(|u| &u.name == n));
        let mut ctx = ContextReport {
            current: r.current_context.as_deref() == Some(&c.name),
            name: c.name,
            cluster: body.cluster,
            server,
            namespace: body.namespace,
            user: body.user,
            auth: "missing",
            exec_command: None,
            exec_found: None,
            findings: Vec::new(),
            cluster_check: None,
        };
        user_findings(
            user.and_then(|u| u.body.as_ref()),
            user.is_some(),
            env,
            &mut ctx,
        );
        r.contexts.push(ctx);
    }
    if r.current_context.is_none() {
        r.findings
            .push(Finding::note(CHECK, "it has no current-context"));
    } else if !r.contexts.iter().any(|c| c.current) {
        r.findings.push(Finding::problem(
            CHECK,
            "its current-context names no context in the file",
        ));
    }
}

fn user_findings(user: Option<&User>, exists: bool, env: &VisibleEnv, ctx: &mut ContextReport) {
    const CHECK: &str = "context";
    if !exists {
        ctx.findings
            .push(Finding::problem(CHECK, "its user is not in the file"));
        return;
    }
    let Some(u) = user else {
        ctx.auth = "none";
        ctx.findings
            .push(Finding::note(CHECK, "its user has no credential"));
        return;
    };
    ctx.auth = if u.exec.is_some() {
        "exec"
    } else if u.token.is_some() {
        "token"
    } else if u.token_file.is_some() {
        "token file"
    } else if u.cert_data.is_some() || u.cert.is_some() {
        "client certificate"
    } else if u.auth_provider.is_some() {
        "auth-provider"
    } else if u.username.is_some() {
        "basic"
    } else {
        "none"
    };
    let Some(exec) = &u.exec else {
        ctx.findings.push(match ctx.auth {
            "token" => Finding::note(
                CHECK,
                "its user holds a static token: it works until the token expires",
            ),
            "auth-provider" => Finding::problem(
                CHECK,
                "its user uses an auth-provider, which kubectl 1.26 and later no longer have",
            ),
            auth => Finding::ok(CHECK, format!("its user authenticates with: {auth}")),
        });
        return;
    };
    let Some(command) = exec.command.as_deref().filter(|c| !c.is_empty()) else {
        ctx.findings
            .push(Finding::problem(CHECK, "its exec user names no command"));
        return;
    };
    let shown = visible(command).into_owned();
    ctx.exec_command = Some(command.to_string());
    let found = find_on_path(command, env.get("PATH").unwrap_or_default());
    ctx.exec_found = Some(found.is_some());
    match found {
        Some(p) => ctx.findings.push(Finding::ok(
            CHECK,
            format!(
                "its exec user runs {shown}, found at {}",
                visible(&p.display().to_string())
            ),
        )),
        None => ctx.findings.push(Finding::problem(
            CHECK,
            format!(
                "its exec user runs {shown}, which is not found{}",
                if command.contains('/') {
                    ""
                } else {
                    " on PATH"
                }
            ),
        )),
    }
    // `stackhook exec-credential --from-env=VAR` needs VAR at each call.
    let args = exec.args.clone().unwrap_or_default();
    if args.first().is_some_and(|a| a == "exec-credential") {
        for var in args.iter().filter_map(|a| a.strip_prefix("--from-env=")) {
            ctx.findings.push(match env.is_set(var) {
                true => Finding::ok(
                    CHECK,
                    format!("{} is set for its exec-credential", visible(var)),
                ),
                false => Finding::problem(
                    CHECK,
                    format!(
                        "its exec-credential reads {}, which is not set here",
                        visible(var)
                    ),
                ),
            });
        }
    }
    exec_env_files(exec, ctx);
}

/// The files an exec user's environment names for its plugin at each call
/// (AWS_WEB_IDENTITY_TOKEN_FILE, AZURE_FEDERATED_TOKEN_FILE, ...): each
/// must be there. Said by the variable's name: the path is not shown.
fn exec_env_files(exec: &Exec, ctx: &mut ContextReport) {
    const CHECK: &str = "context";
    let files = exec
        .env
        .iter()
        .flatten()
        .filter(|e| e.name.ends_with("_FILE"));
    for e in files {
        let name = visible(&e.name);
        ctx.findings.push(match std::fs::metadata(&e.value) {
            Ok(m) if m.is_file() => Finding::ok(
                CHECK,
                format!("the file its exec user's {name} names is there"),
            ),
            Ok(_) => Finding::problem(
                CHECK,
                format!("its exec user's {name} names something that is not a regular file"),
            ),
            Err(_) => Finding::problem(
                CHECK,
                format!(
                    "its exec user's {name} names a file that is not there: the plugin fails at each call"
                ),
            ),
        });
    }
}
