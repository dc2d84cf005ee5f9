//! Where the kubeconfig is: one rule for `plan`, `run` and every
//! subcommand. The result is always absolute, so that a command that
//! changes directory still writes the same file. Paths are bytes here: one
//! that is not UTF-8 names its own file, never a lossy copy's, nor the
//! default's.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::base::diagnostic::{Code, Diag};
use crate::base::lexical_path;
use crate::base::paint::visible_path;

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
    env: impl Fn(&str) -> Option<OsString>,
    cwd: &Path,
) -> Result<PathBuf, Diag> {
    let home = env("HOME").filter(|h| !h.is_empty());
    let path = match given {
        Given::Flag(p) => expand_home(p.as_os_str(), home.as_deref())?,
        Given::Spec { text, dir } => dir.join(expand_home(OsStr::new(&text), home.as_deref())?),
        Given::Env => match env("KUBECONFIG")
            .as_deref()
            .and_then(|k| k.as_bytes().split(|b| *b == b':').find(|p| !p.is_empty()))
        {
            Some(first) => PathBuf::from(OsStr::from_bytes(first)),
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

fn expand_home(text: &OsStr, home: Option<&OsStr>) -> Result<PathBuf, Diag> {
    let rest = match text.as_bytes().strip_prefix(b"~") {
        Some(b"") => OsStr::new(""),
        Some([b'/', rest @ ..]) => OsStr::from_bytes(rest),
        _ => return Ok(PathBuf::from(text)),
    };
    match home {
        Some(h) => Ok(Path::new(h).join(rest)),
        None => Err(Diag::new(
            Code::KubeconfigPath,
            format!(
                "cannot expand `~` in the kubeconfig path {}: HOME is unset or empty",
                visible_path(Path::new(text))
            ),
        )
        .help("give an absolute path, or set HOME")),
    }
}

/// The path as text, for a run: it reaches commands in KUBECONFIG, which
/// the runner builds as text, and the plan shows it. One that is not UTF-8
/// is refused rather than changed into another file's name. `what` names
/// where it came from.
pub fn utf8<'p>(path: &'p Path, what: &str) -> Result<&'p str, Diag> {
    path.to_str().ok_or_else(|| {
        Diag::new(
            Code::KubeconfigPath,
            format!("{what} {} is not UTF-8", visible_path(path)),
        )
        .help("a run passes the kubeconfig's path to its commands as text and shows it in the plan: rename the file, or give a path that is UTF-8")
    })
}

/// `path` made absolute against `cwd`, with `.` and `..` components of the
/// relative part removed lexically (the file may not exist yet).
fn absolute(cwd: &Path, path: &Path) -> PathBuf {
    lexical_path::resolved(&cwd.join(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> {
        let pairs: Vec<(String, OsString)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.into()))
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

    #[test]
    fn bytes_that_are_not_utf8_name_their_own_file() {
        use std::os::unix::ffi::OsStringExt;
        let raw = OsString::from_vec(b"/k/caf\xe9:/second".to_vec());
        let env = |k: &str| match k {
            "KUBECONFIG" => Some(raw.clone()),
            "HOME" => Some(OsString::from_vec(b"/h\xff".to_vec())),
            _ => None,
        };
        let cwd = Path::new(CWD);
        let found = locate(Given::Env, env, cwd).unwrap();
        assert_eq!(found.as_os_str().as_bytes(), b"/k/caf\xe9");
        let flag = Path::new(OsStr::from_bytes(b"~/caf\xe9"));
        let found = locate(Given::Flag(flag), env, cwd).unwrap();
        assert_eq!(found.as_os_str().as_bytes(), b"/h\xff/caf\xe9");
        let err = utf8(&found, "--kubeconfig").unwrap_err();
        assert_eq!(err.message, "--kubeconfig /h\\xff/caf\\xe9 is not UTF-8");
        assert_eq!(utf8(Path::new("/k/café"), "x").unwrap(), "/k/café");
    }
}
