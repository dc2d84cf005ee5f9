//! Whether a run can start. Everything is checked, and every problem
//! reported at once, before anything runs or is written: no variable
//! missing, every CLI on PATH, the kubeconfig and env-file paths usable,
//! the env file expressible without a secret value.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use indexmap::IndexMap;

use crate::base::atomic_file;
use crate::base::diagnostic::{Code, Diag};
use crate::base::failure::Failure;
use crate::base::paint::visible_line;
use crate::base::value::Value;
use crate::plan::assemble::Plan;
use crate::plan::resolve;
use crate::run::env_file;
use crate::run::lock;
use crate::spec::document::Spec;

/// Checks the plan; on success, the env file's contents when one is asked
/// for.
pub fn check(
    spec: &Spec,
    plan: &Plan,
    env_file: Option<&Path>,
) -> Result<Option<IndexMap<String, Value>>, Failure> {
    let mut diags = Vec::new();
    if !plan.missing_env.is_empty() {
        diags.push(resolve::missing_diag(spec.source(), &plan.missing_env));
    }
    missing_clis(spec, plan, &mut diags);
    for expired in &plan.expired_tokens {
        diags.push(
            Diag::new(Code::PreflightTokenExpired, expired.clone()).help(
                "the platform writes a fresh OIDC token for each run and phase: run again, or check that the step reads the current token (its file or variable)",
            ),
        );
    }
    diags.extend(shared_tmpdir(&std::env::temp_dir()));
    let kubeconfig = Path::new(&plan.kubeconfig);
    diags.extend(unwritable(kubeconfig, "the kubeconfig", true));
    let mut contents = None;
    if let Some(path) = env_file {
        diags.extend(unwritable(path, "the env file", false));
        diags.extend(clobbers(path, kubeconfig));
        match env_file::contents(plan) {
            Ok(c) => contents = Some(c),
            Err(d) => diags.push(d),
        }
    }
    if diags.is_empty() {
        Ok(contents)
    } else {
        Err(Failure::Invalid(diags))
    }
}

fn missing_clis(spec: &Spec, plan: &Plan, diags: &mut Vec<Diag>) {
    let src = spec.source();
    for tool in plan.tools.iter().filter(|t| !t.found) {
        let mut d = Diag::new(
            Code::PreflightMissingCli,
            format!("`{}` is not on PATH", tool.name),
        );
        let needing = plan
            .steps
            .iter()
            .filter(|s| s.requires.contains(&tool.name));
        for (i, step) in needing.enumerate() {
            let label = format!("step `{}` needs {}", step.name, tool.name);
            d = if i == 0 {
                d.at(src, step.span, label)
            } else {
                d.and(step.span, label)
            };
        }
        let help = match &tool.hint {
            Some(h) => format!("install {} or run on an image that has it: {h}", tool.name),
            None => format!("install {} or add its directory to PATH", tool.name),
        };
        diags.push(d.help(help));
    }
}

/// Why a file cannot be written (atomically: a new file beside it, then a
/// rename) at `path`, if it cannot. A kubeconfig may be a dangling symlink
/// (a mount still to come): it is written through.
fn unwritable(path: &Path, what: &str, dangling_ok: bool) -> Option<Diag> {
    let fail = |why: String| {
        Diag::new(
            Code::PreflightPath,
            format!("{what} {}: {why}", path.display()),
        )
        .help("choose a path of a regular file in a directory this user can write")
    };
    if let Some((link, uid)) = atomic_file::foreign_link(path) {
        return Some(fail(format!(
            "leads through {}, a symlink of another user (uid {uid}): stackhook follows only this user's and root's links",
            link.display()
        )));
    }
    let link = std::fs::symlink_metadata(path).ok();
    match (link, std::fs::metadata(path)) {
        (_, Ok(m)) if m.is_dir() => return Some(fail("is a directory".into())),
        (_, Ok(m)) if !m.is_file() => return Some(fail("is not a regular file".into())),
        (Some(l), Err(_)) if l.file_type().is_symlink() && !dangling_ok => {
            return Some(fail("is a symlink to nothing".into()));
        }
        _ => {}
    }
    // The file's directory, or the nearest ancestor that exists (the
    // directories in between are created), must be a writable directory:
    // a run takes the kubeconfig's lock there, and a rollback writes the
    // file back there, which would fail after the step had changed it. A
    // kubeconfig that exists may be on a read-only file system (a mounted
    // file): if no step can change it either, nothing is locked or
    // restored.
    let target = std::fs::canonicalize(path)
        .ok()
        .or_else(|| {
            std::fs::read_link(path)
                .ok()
                .map(|t| path.parent().unwrap_or(Path::new("/")).join(t))
        })
        .unwrap_or_else(|| path.to_path_buf());
    let mut dir = target.parent();
    while let Some(d) = dir {
        match std::fs::metadata(d) {
            Ok(m) if m.is_dir() => {
                return match writable(d) {
                    Ok(()) => None,
                    // A file that can be written all the same (mounted
                    // read-write over the read-only directory) is not safe.
                    Err(e) if e == libc::EROFS && dangling_ok && path.exists() => {
                        lock::can_write(path).then(|| {
                            Diag::new(
                                Code::PreflightPath,
                                format!("{what} {}: {}", path.display(), lock::read_only_why(d)),
                            )
                            .help(lock::read_only_help(d))
                        })
                    }
                    Err(e) => {
                        let why = if e == libc::EROFS {
                            "is on a read-only file system"
                        } else {
                            "is not writable by this user"
                        };
                        let kubeconfig = ": a run locks the kubeconfig there, and puts it back there after a failed step";
                        let then = if dangling_ok { kubeconfig } else { "" };
                        Some(fail(format!("{} {why}{then}", d.display())))
                    }
                };
            }
            Ok(_) => return Some(fail(format!("{} is not a directory", d.display()))),
            Err(_) => dir = d.parent(),
        }
    }
    None
}

/// Why the temp directory cannot hold the run's private directory, if it
/// cannot: when it, or a directory above it, lets another user rename
/// what is in it (writable by others without the sticky bit, or owned by
/// another user than root), that user could move the run's directory away
/// mid-run, and its temp files (secrets) and kubeconfig record would stay
/// on disk where the run no longer finds them to remove.
fn shared_tmpdir(tmp: &Path) -> Option<Diag> {
    use std::os::unix::fs::MetadataExt;
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    let canonical = std::fs::canonicalize(tmp).ok();
    let dirs = tmp
        .ancestors()
        .chain(canonical.iter().flat_map(|c| c.ancestors()));
    for dir in dirs {
        let Ok(m) = std::fs::metadata(dir) else {
            continue;
        };
        let why = if m.uid() != me && m.uid() != 0 {
            format!(
                "belongs to another user (uid {}), who can move anything in it",
                m.uid()
            )
        } else if m.mode() & 0o022 != 0 && m.mode() & 0o1000 == 0 {
            "is writable by other users and has no sticky bit, so they can move anything in it"
                .into()
        } else {
            continue;
        };
        let shown = |p: &Path| visible_line(&p.display().to_string()).into_owned();
        return Some(
            Diag::new(
                Code::PreflightPath,
                format!(
                    "the temp directory (TMPDIR) {}: {} {why}: another user could move the run's private directory away, leaving its temp files (secrets) on disk where the run cannot remove them",
                    shown(tmp),
                    shown(dir)
                ),
            )
            .help("set TMPDIR to a directory of this user that others cannot write (e.g. `mkdir -m 700 ~/.tmp`), or give the shared directory the sticky bit (`chmod +t`), as /tmp has"),
        );
    }
    None
}

/// The env file must not replace the kubeconfig or a lock beside it.
fn clobbers(env_file: &Path, kubeconfig: &Path) -> Option<Diag> {
    let target = |p: &Path| {
        let t = atomic_file::final_target(p);
        match (
            t.parent().and_then(|d| std::fs::canonicalize(d).ok()),
            t.file_name(),
        ) {
            (Some(dir), Some(name)) => dir.join(name),
            _ => t,
        }
    };
    let env_file_target = target(env_file);
    let kube = target(kubeconfig);
    let mut kubectl_lock = kube.clone().into_os_string();
    kubectl_lock.push(".lock");
    let taken = [kube, lock::lock_path(kubeconfig), kubectl_lock.into()];
    taken.contains(&env_file_target).then(|| {
        Diag::new(
            Code::PreflightPath,
            format!(
                "the env file {} is the kubeconfig {} or its lock",
                env_file.display(),
                kubeconfig.display()
            ),
        )
        .help("write the env file somewhere else, e.g. /mnt/workspace/.stackhook.env")
    })
}

/// Whether this user can create files in `dir`; the errno if not.
fn writable(dir: &Path) -> Result<(), i32> {
    let Ok(c) = CString::new(dir.as_os_str().as_bytes()) else {
        return Err(libc::EINVAL);
    };
    // SAFETY: a valid NUL-terminated path; access has no other preconditions.
    match unsafe { libc::access(c.as_ptr(), libc::W_OK | libc::X_OK) } {
        0 => Ok(()),
        _ => Err(std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EACCES)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_that_cannot_hold_a_file_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("file");
        std::fs::write(&file, "").unwrap();
        let dangling = dir.path().join("dangling");
        std::os::unix::fs::symlink(dir.path().join("nowhere"), &dangling).unwrap();
        let cases = [
            (dir.path().to_path_buf(), "is a directory"),
            (file.join("config"), "is not a directory"),
            (file.join("a/b/config"), "is not a directory"),
        ];
        for (path, why) in cases {
            let d = unwritable(&path, "the kubeconfig", true).expect("refused");
            assert!(d.message.contains(why), "{}", d.message);
            assert!(d.message.contains(&path.display().to_string()));
        }
        assert!(unwritable(&dangling, "the env file", false).is_some());
        assert!(unwritable(&dangling, "the kubeconfig", true).is_none());
        assert!(unwritable(&dir.path().join("new/dir/config"), "k", true).is_none());
        assert!(unwritable(&file, "k", true).is_none());
    }

    #[test]
    fn a_temp_directory_others_can_rename_in_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path, m: u32| {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
        };
        let dir = tempfile::tempdir().unwrap();
        let shared = dir.path().join("shared");
        let private = shared.join("private");
        std::fs::create_dir_all(&private).unwrap();
        mode(&private, 0o700);
        for (m, refused) in [
            (0o777, true),
            (0o775, true),
            (0o1777, false),
            (0o755, false),
        ] {
            mode(&shared, m);
            let d = shared_tmpdir(&shared);
            assert_eq!(d.is_some(), refused, "{m:o}");
            // A private directory inside it can be moved away all the same.
            let inner = shared_tmpdir(&private);
            assert_eq!(inner.is_some(), refused, "{m:o}");
            if let Some(d) = inner {
                let why = format!("{}: {} is writable", private.display(), shared.display());
                assert!(d.message.contains(&why), "{}", d.message);
            }
        }
        assert!(shared_tmpdir(Path::new("/tmp")).is_none());
    }
}
