//! The kubeconfig: which file, whether it is usable, and installing a new
//! one atomically. Messages never quote the file's content: it holds
//! credentials.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::diagnostic::Diag;
use crate::resolve::{MissingVar, Vars, interpolate_spanned};
use crate::spec::{self, Spec};

/// `--kubeconfig`, else the spec's `kubeconfig:` (relative to the spec
/// file), else the first entry of `$KUBECONFIG`, else `~/.kube/config`.
pub fn resolve_path(
    spec: &Spec,
    flag: Option<&Path>,
    vars: &Vars,
    missing: &mut Vec<MissingVar>,
) -> Result<PathBuf, Vec<Diag>> {
    if let Some(p) = flag {
        return Ok(p.to_path_buf());
    }
    let home = vars.process("HOME").filter(|h| !h.is_empty());
    if let Some(k) = &spec.kubeconfig {
        let src = spec.source();
        let value = interpolate_spanned(src, k, &vars.scope(None, false), "kubeconfig", missing);
        if value.has_secret() {
            return Err(vec![
                Diag::new(
                    "stackhook::spec::kubeconfig",
                    "the kubeconfig path uses a secret variable",
                )
                .at(src, spec::spanned(&src.text, k), "secret in a path")
                .help("a path is printed in previews and logs: use a non-secret variable"),
            ]);
        }
        let text = value.to_string();
        let path = match (text.strip_prefix("~/"), home) {
            (Some(rest), Some(h)) => Path::new(h).join(rest),
            _ => PathBuf::from(&text),
        };
        return Ok(if path.is_relative() {
            spec.dir().join(path)
        } else {
            path
        });
    }
    if let Some(first) = vars
        .process("KUBECONFIG")
        .and_then(|k| k.split(':').find(|p| !p.is_empty()))
    {
        return Ok(PathBuf::from(first));
    }
    match home {
        Some(h) => Ok(Path::new(h).join(".kube").join("config")),
        None => Err(vec![
            Diag::new(
                "stackhook::kubeconfig::path",
                "cannot tell where the kubeconfig goes: HOME and KUBECONFIG are unset",
            )
            .help("set `kubeconfig:` in the spec, pass --kubeconfig, or set KUBECONFIG"),
        ]),
    }
}

#[derive(Debug, Deserialize)]
struct Kubeconfig {
    #[serde(rename = "current-context", default)]
    current_context: Option<String>,
    #[serde(default)]
    contexts: Option<Vec<NamedContext>>,
    #[serde(default)]
    clusters: Option<Vec<NamedCluster>>,
    #[serde(default)]
    users: Option<Vec<Named>>,
}

#[derive(Debug, Deserialize)]
struct NamedContext {
    name: String,
    context: Option<Context>,
}

#[derive(Debug, Deserialize)]
struct Context {
    cluster: Option<String>,
    user: Option<String>,
}

#[derive(Debug, Deserialize)]
struct NamedCluster {
    name: String,
    cluster: Option<Cluster>,
}

#[derive(Debug, Deserialize)]
struct Cluster {
    server: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Named {
    name: String,
}

/// What a valid kubeconfig's current context resolves to.
#[derive(Debug, PartialEq, Eq)]
pub struct Current {
    pub context: String,
    pub cluster: String,
    pub user: String,
    pub server: String,
}

/// Checks that `text` is a kubeconfig whose current context names an
/// existing context, cluster and user. Errors describe the structure, never
/// the content.
pub fn validate(text: &str) -> Result<Current, String> {
    let kc: Kubeconfig = serde_saphyr::from_str(text).map_err(|e| match e.location() {
        Some(l) => format!(
            "not a valid kubeconfig (YAML error at line {}, column {})",
            l.line(),
            l.column()
        ),
        None => "not a valid kubeconfig (not YAML)".to_string(),
    })?;
    let contexts = kc.contexts.unwrap_or_default();
    let current = kc
        .current_context
        .filter(|c| !c.is_empty())
        .ok_or("it has no current-context: set one with `kubectl config use-context NAME`")?;
    let ctx = contexts
        .iter()
        .find(|c| c.name == current)
        .ok_or_else(|| format!("current-context `{current}` names no context in the file"))?;
    let body = ctx
        .context
        .as_ref()
        .ok_or_else(|| format!("context `{current}` is empty"))?;
    let cluster = body
        .cluster
        .clone()
        .ok_or_else(|| format!("context `{current}` names no cluster"))?;
    let user = body
        .user
        .clone()
        .ok_or_else(|| format!("context `{current}` names no user"))?;
    let server = kc
        .clusters
        .unwrap_or_default()
        .into_iter()
        .find(|c| c.name == cluster)
        .ok_or_else(|| {
            format!("context `{current}` uses cluster `{cluster}`, which is not in the file")
        })?
        .cluster
        .and_then(|c| c.server)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| format!("cluster `{cluster}` has no server"))?;
    if !kc.users.unwrap_or_default().iter().any(|u| u.name == user) {
        return Err(format!(
            "context `{current}` uses user `{user}`, which is not in the file"
        ));
    }
    Ok(Current {
        context: current,
        cluster,
        user,
        server,
    })
}

/// Reads and validates the kubeconfig at `path`.
pub fn check(path: &Path) -> Result<Current, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    validate(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Kubeconfig content as given: plain YAML, or base64 of it (as CI
/// variables often hold it).
pub fn decode(raw: &[u8]) -> Result<String, String> {
    use base64::Engine;
    if let Ok(text) = std::str::from_utf8(raw)
        && validate(text).is_ok()
    {
        return Ok(text.to_string());
    }
    let compact: Vec<u8> = raw
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    if let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(&compact)
        && let Ok(text) = String::from_utf8(bytes)
    {
        validate(&text)?;
        return Ok(text);
    }
    // Neither: report why the plain form is not a kubeconfig.
    let text = std::str::from_utf8(raw)
        .map_err(|_| "the content is neither a kubeconfig nor base64 of one".to_string())?;
    validate(text).map(|_| text.to_string())
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Writes `content` to `dest` atomically (a 0600 file in the same
/// directory, synced, then renamed), creating the directory 0700.
pub fn write_atomic(dest: &Path, content: &[u8]) -> std::io::Result<()> {
    // A symlinked kubeconfig (a mounted file) is written through, not replaced.
    let resolved;
    let dest = if dest.is_symlink() {
        resolved = std::fs::canonicalize(dest)?;
        resolved.as_path()
    } else {
        dest
    };
    let dir = dest
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".stackhook-kubeconfig-")
        .permissions(std::fs::Permissions::from_mode(0o600))
        .tempfile_in(dir)?;
    tmp.write_all(content)?;
    tmp.as_file().sync_all()?;
    tmp.persist(dest).map_err(|e| e.error)?;
    std::fs::set_permissions(dest, std::fs::Permissions::from_mode(0o600))?;
    Ok(())
}

/// Where `stackhook kubeconfig` subcommands read and write: the flag, else
/// the first entry of KUBECONFIG, else `~/.kube/config`.
pub fn target(flag: Option<&Path>) -> Result<PathBuf, String> {
    if let Some(p) = flag {
        return Ok(p.to_path_buf());
    }
    if let Some(k) = std::env::var_os("KUBECONFIG")
        && let Some(first) = k.to_string_lossy().split(':').find(|p| !p.is_empty())
    {
        return Ok(PathBuf::from(first));
    }
    std::env::var_os("HOME")
        .map(|h| Path::new(&h).join(".kube/config"))
        .ok_or_else(|| "set KUBECONFIG or pass --kubeconfig".into())
}

/// Installs a kubeconfig from a variable or a file: checksum, decode,
/// validate, then write atomically. The old file stays if any check fails.
pub fn install(raw: &[u8], sha256: Option<&str>, dest: &Path) -> Result<Current, String> {
    if let Some(want) = sha256 {
        let got = sha256_hex(raw);
        if !got.eq_ignore_ascii_case(want.trim()) {
            return Err(format!(
                "sha256 mismatch: expected {want}, got {got}; the kubeconfig at {} was left as it was",
                dest.display()
            ));
        }
    }
    let text = decode(raw)?;
    let current = validate(&text)?;
    write_atomic(dest, text.as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", dest.display()))?;
    Ok(current)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub const GOOD: &str = "apiVersion: v1\nkind: Config\ncurrent-context: c\ncontexts:\n- name: c\n  context: {cluster: k, user: u}\nclusters:\n- name: k\n  cluster: {server: 'https://127.0.0.1:6443'}\nusers:\n- name: u\n  user: {token: sekrit}\n";

    #[test]
    fn a_good_kubeconfig_resolves() {
        let c = validate(GOOD).unwrap();
        assert_eq!(c.user, "u");
        assert_eq!(c.server, "https://127.0.0.1:6443");
    }

    #[test]
    fn broken_ones_say_what_is_wrong_without_content() {
        let cases = [
            (
                GOOD.replace("current-context: c", "current-context: x"),
                "names no context",
            ),
            (
                GOOD.replace("current-context: c\n", ""),
                "no current-context",
            ),
            (
                GOOD.replace("cluster: k,", "cluster: nope,"),
                "cluster `nope`",
            ),
            (GOOD.replace("- name: u\n", "- name: other\n"), "user `u`"),
            ("token: sekrit: [".to_string(), "YAML error"),
        ];
        for (text, want) in cases {
            let e = validate(&text).unwrap_err();
            assert!(e.contains(want), "{e}");
            assert!(!e.contains("sekrit"), "{e}");
        }
    }

    #[test]
    fn base64_content_is_decoded() {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD.encode(GOOD);
        assert_eq!(decode(b64.as_bytes()).unwrap(), GOOD);
        assert_eq!(decode(GOOD.as_bytes()).unwrap(), GOOD);
    }

    #[test]
    fn a_symlinked_kubeconfig_is_written_through() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("mounted");
        std::fs::write(&target, "old").unwrap();
        let link = dir.path().join("config");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        write_atomic(&link, b"new").unwrap();
        assert!(link.is_symlink());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "new");
    }

    #[test]
    fn install_checks_the_sum_and_keeps_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("sub/config");
        let err = install(GOOD.as_bytes(), Some("00"), &dest).unwrap_err();
        assert!(err.contains("sha256 mismatch"));
        assert!(!dest.exists());
        install(GOOD.as_bytes(), Some(&sha256_hex(GOOD.as_bytes())), &dest).unwrap();
        assert_eq!(std::fs::read_to_string(&dest).unwrap(), GOOD);
        let mode = std::fs::metadata(&dest).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let dmode = std::fs::metadata(dest.parent().unwrap())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(dmode, 0o700);
        assert!(install(b"nonsense: [", None, &dest).is_err());
        assert_eq!(std::fs::read_to_string(&dest).unwrap(), GOOD);
    }
}
