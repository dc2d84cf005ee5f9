//! Where the kubeconfig is: one rule for `plan`, `run` and every
//! subcommand. The result is always absolute, so that a command that
//! changes directory still writes the same file.

use std::path::{Path, PathBuf};

use crate::base::diagnostic::{Code, Diag};

/// Where the path comes from, in order of precedence: `--kubeconfig`, the
/// spec's `kubeconfig:` (already interpolated; relative to the spec's
/// directory), else the environment.
pub enum Given<'a> {
    Flag(&'a Path),
    Spec { text: String, dir: &'a Path },
    Env,
}

/// `--kubeconfig`, else the spec's `kubeconfig:`, else the first entry of
/// `$KUBECONFIG`, else `~/.kube/config`. `~/` is expanded in the flag and
/// the spec; relative paths are made absolute against `cwd`.
pub fn locate(
    given: Given,
    env: impl Fn(&str) -> Option<String>,
    cwd: &Path,
) -> Result<PathBuf, Diag> {
    let home = env("HOME").filter(|h| !h.is_empty());
    let path = match given {
        Given::Flag(p) => expand_home(&p.to_string_lossy(), home.as_deref())?,
        Given::Spec { text, dir } => dir.join(expand_home(&text, home.as_deref())?),
        Given::Env => match env("KUBECONFIG")
            .as_deref()
            .and_then(|k| k.split(':').find(|p| !p.is_empty()))
        {
            Some(first) => PathBuf::from(first),
            None => match &home {
                Some(h) => Path::new(h).join(".kube").join("config"),
                None => {
                    return Err(Diag::new(
                        Code::KubeconfigPath,
                        "cannot tell where the kubeconfig goes: HOME and KUBECONFIG are unset",
                    )
                    .help("set `kubeconfig:` in the spec, pass --kubeconfig, or set KUBECONFIG"));
                }
            },
        },
    };
    Ok(absolute(cwd, &path))
}

fn expand_home(text: &str, home: Option<&str>) -> Result<PathBuf, Diag> {
    let rest = match text.strip_prefix('~') {
        Some("") => "",
        Some(rest) if rest.starts_with('/') => &rest[1..],
        _ => return Ok(PathBuf::from(text)),
    };
    match home {
        Some(h) => Ok(Path::new(h).join(rest)),
        None => Err(Diag::new(
            Code::KubeconfigPath,
            format!("cannot expand `~` in the kubeconfig path {text}: HOME is unset or empty"),
        )
        .help("give an absolute path, or set HOME")),
    }
}

/// `path` made absolute against `cwd`, with `.` and `..` components of the
/// relative part removed lexically (the file may not exist yet).
fn absolute(cwd: &Path, path: &Path) -> PathBuf {
    use std::path::Component;
    let joined = if path.is_absolute() {
        path.to_path_buf()
    } else {
        cwd.join(path)
    };
    let mut out = PathBuf::new();
    for c in joined.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
    }

    const CWD: &str = "/work/repo";

    fn locate_in(given: Given, pairs: &[(&str, &str)]) -> Result<PathBuf, Diag> {
        locate(given, env(pairs), Path::new(CWD))
    }

    #[test]
    fn precedence_is_flag_then_spec_then_env_then_home() {
        let e = [("HOME", "/home/u"), ("KUBECONFIG", "/a/first:/b/second")];
        let flag = Path::new("/flag/config");
        assert_eq!(locate_in(Given::Flag(flag), &e).unwrap(), flag);
        let spec = Given::Spec {
            text: "/spec/config".into(),
            dir: Path::new("specs"),
        };
        assert_eq!(locate_in(spec, &e).unwrap(), Path::new("/spec/config"));
        assert_eq!(locate_in(Given::Env, &e).unwrap(), Path::new("/a/first"));
        assert_eq!(
            locate_in(Given::Env, &[("HOME", "/home/u"), ("KUBECONFIG", "::")]).unwrap(),
            Path::new("/home/u/.kube/config")
        );
    }

    #[test]
    fn relative_paths_become_absolute() {
        let spec = Given::Spec {
            text: "../kube/config".into(),
            dir: Path::new("specs"),
        };
        assert_eq!(
            locate_in(spec, &[]).unwrap(),
            Path::new("/work/repo/kube/config")
        );
        assert_eq!(
            locate_in(Given::Flag(Path::new("./k")), &[]).unwrap(),
            Path::new("/work/repo/k")
        );
        assert_eq!(
            locate_in(Given::Env, &[("KUBECONFIG", "rel/config")]).unwrap(),
            Path::new("/work/repo/rel/config")
        );
    }

    #[test]
    fn tilde_expands_to_home_and_needs_one() {
        let spec = |t: &str| Given::Spec {
            text: t.into(),
            dir: Path::new("/specs"),
        };
        assert_eq!(
            locate_in(spec("~/.kube/x"), &[("HOME", "/home/u")]).unwrap(),
            Path::new("/home/u/.kube/x")
        );
        assert_eq!(
            locate_in(Given::Flag(Path::new("~/k")), &[("HOME", "/h")]).unwrap(),
            Path::new("/h/k")
        );
        assert_eq!(
            locate_in(Given::Flag(Path::new("~")), &[("HOME", "/h")]).unwrap(),
            Path::new("/h")
        );
        // `~user` is not ours to expand: a relative name, like sh would
        // leave it unquoted.
        assert_eq!(
            locate_in(spec("~bob/k"), &[("HOME", "/h")]).unwrap(),
            Path::new("/specs/~bob/k")
        );
        for home in [vec![], vec![("HOME", "")]] {
            let err = locate_in(spec("~/k"), &home).unwrap_err();
            assert_eq!(err.code, Code::KubeconfigPath);
        }
    }

    #[test]
    fn empty_home_and_no_kubeconfig_is_an_error() {
        for pairs in [
            vec![],
            vec![("HOME", "")],
            vec![("HOME", ""), ("KUBECONFIG", "")],
        ] {
            let err = locate_in(Given::Env, &pairs).unwrap_err();
            assert!(err.message.contains("HOME and KUBECONFIG are unset"));
        }
    }
}
