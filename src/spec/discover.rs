//! Which spec files a command reads: the one for this stack when none is
//! given (so that one hook line serves every stack), or every spec under
//! the paths `validate` is given.

use std::path::{Path, PathBuf};

use crate::base::diagnostic::{Code, Diag, finish};
use crate::base::source_file;

/// The spec for this run: `$STACKHOOK_SPEC`, else the first of
/// `specs/<stack id>.yaml` and `.stackhook.yaml` in the working directory
/// `cwd` (absolute), then in each parent up to the repository root (as
/// `just` finds its justfile): Spacelift runs hooks in the stack's project
/// root, below the repository's root. The stack id is
/// `$TF_VAR_spacelift_stack_id`, else `$SPACELIFT_STACK_ID`. Outside a
/// repository only the working directory is searched.
pub fn spec(
    get: impl Fn(&str) -> Option<String>,
    cwd: &Path,
    exists: impl Fn(&Path) -> bool,
) -> Result<PathBuf, Diag> {
    if let Some(p) = get("STACKHOOK_SPEC").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    let mut tried = vec!["$STACKHOOK_SPEC (not set)".to_string()];
    let id = stack_id(&get)?;
    let dirs: Vec<&Path> = match source_file::repository_root(cwd, &exists) {
        Some(root) => cwd
            .ancestors()
            .take_while(|d| d.starts_with(root))
            .collect(),
        None => vec![cwd],
    };
    for (up, dir) in dirs.iter().enumerate() {
        let rel: PathBuf = std::iter::repeat_n("..", up).collect();
        let mut names = Vec::new();
        if let Some((_, id)) = &id {
            names.push(format!("specs/{id}.yaml"));
        }
        names.push(".stackhook.yaml".into());
        for name in names {
            if exists(&dir.join(&name)) {
                return Ok(rel.join(name));
            }
            tried.push(format!("{} (not found)", rel.join(name).display()));
        }
    }
    if id.is_none() {
        tried.push(
            "specs/<stack id>.yaml ($TF_VAR_spacelift_stack_id and $SPACELIFT_STACK_ID not set)"
                .into(),
        );
    }
    Err(
        Diag::new(Code::SpecNotFound, "no spec given and none found").help(format!(
            "pass a spec path, or set STACKHOOK_SPEC. Tried, in order, from {}:\n  - {}",
            cwd.display(),
            tried.join("\n  - ")
        )),
    )
}

/// The stack id and the variable it came from, if one is set. It names a
/// file in `specs/`: one that could name another file is refused.
fn stack_id(get: &impl Fn(&str) -> Option<String>) -> Result<Option<(&'static str, String)>, Diag> {
    let Some((var, id)) = ["TF_VAR_spacelift_stack_id", "SPACELIFT_STACK_ID"]
        .into_iter()
        .find_map(|var| get(var).map(|id| (var, id)))
    else {
        return Ok(None);
    };
    if id.is_empty() || id.contains('/') || id.contains("..") || id.contains('\0') {
        return Err(Diag::new(
            Code::SpecStackId,
            format!("${var} is {id:?}, which cannot name a spec file"),
        )
        .help("a stack id is a name without `/`, `..` or NUL; pass the spec's path instead"));
    }
    Ok(Some((var, id)))
}

/// Spec files under the given paths (directories: their YAML files,
/// sorted); `specs/` when none is given.
pub fn spec_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, Vec<Diag>> {
    let defaults = [PathBuf::from("specs")];
    let paths = if paths.is_empty() {
        &defaults[..]
    } else {
        paths
    };
    let mut files = Vec::new();
    let mut diags = Vec::new();
    for p in paths {
        if p.is_dir() {
            let found = yaml_files(p);
            if found.is_empty() {
                diags.push(Diag::new(
                    Code::ValidateEmpty,
                    format!("{} holds no .yaml spec", p.display()),
                ));
            }
            files.extend(found);
        } else if p.exists() {
            files.push(p.clone());
        } else {
            diags.push(
                Diag::new(
                    Code::ValidateNotFound,
                    format!("{} does not exist", p.display()),
                )
                .help("pass spec files or directories; the default is specs/"),
            );
        }
    }
    finish(files, diags)
}

/// The `*.yaml` and `*.yml` files of a directory, sorted; none when it
/// cannot be read.
pub fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    found.retain(|f| f.is_file() && f.extension().is_some_and(|x| x == "yaml" || x == "yml"));
    found.sort();
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k: &str| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn discovery_order() {
        let cwd = Path::new("/repo/stacks/prod");
        let all = |_: &Path| true;
        assert_eq!(
            spec(
                env(&[("STACKHOOK_SPEC", "x.yaml"), ("SPACELIFT_STACK_ID", "a")]),
                cwd,
                all
            )
            .unwrap(),
            PathBuf::from("x.yaml")
        );
        assert_eq!(
            spec(env(&[("TF_VAR_spacelift_stack_id", "prod")]), cwd, all).unwrap(),
            PathBuf::from("specs/prod.yaml")
        );
        assert_eq!(
            spec(env(&[("SPACELIFT_STACK_ID", "dev")]), cwd, all).unwrap(),
            PathBuf::from("specs/dev.yaml")
        );
        let none = |_: &Path| false;
        let err = spec(env(&[("SPACELIFT_STACK_ID", "dev")]), cwd, none).unwrap_err();
        let help = err.help.unwrap();
        assert!(help.contains("specs/dev.yaml (not found)"), "{help}");
        assert!(help.contains(".stackhook.yaml (not found)"), "{help}");
        assert!(
            !help.contains("../"),
            "no repository: only the working directory: {help}"
        );
    }

    /// From a project root, up to the repository root and no further: the
    /// stack's spec before `.stackhook.yaml` in each directory, the
    /// nearest directory first.
    #[test]
    fn discovery_climbs_to_the_repository_root() {
        let cwd = Path::new("/home/r/repo/stacks/prod");
        let files = |present: &'static [&'static str]| {
            move |p: &Path| present.iter().any(|f| p == Path::new(f))
        };
        let id = env(&[("SPACELIFT_STACK_ID", "k8s-prod")]);
        let found = |present| spec(&id, cwd, files(present));
        assert_eq!(
            found(&["/home/r/repo/.git", "/home/r/repo/specs/k8s-prod.yaml"]).unwrap(),
            PathBuf::from("../../specs/k8s-prod.yaml")
        );
        assert_eq!(
            found(&[
                "/home/r/repo/.git",
                "/home/r/repo/specs/k8s-prod.yaml",
                "/home/r/repo/stacks/.stackhook.yaml"
            ])
            .unwrap(),
            PathBuf::from("../.stackhook.yaml")
        );
        assert_eq!(
            found(&[
                "/home/r/repo/.git",
                "/home/r/repo/stacks/prod/.stackhook.yaml",
                "/home/r/repo/stacks/prod/specs/k8s-prod.yaml"
            ])
            .unwrap(),
            PathBuf::from("specs/k8s-prod.yaml")
        );
        // Above the repository root is another project's business.
        let err = found(&["/home/r/repo/.git", "/home/r/specs/k8s-prod.yaml"]).unwrap_err();
        let help = err.help.unwrap();
        assert!(help.contains("../../.stackhook.yaml (not found)"), "{help}");
        assert!(!help.contains("../../../"), "{help}");
        // Spacelift's checkout is a root even without `.git`.
        let cwd = Path::new("/mnt/workspace/source/stacks/prod");
        let present = |p: &Path| p == Path::new("/mnt/workspace/source/specs/k8s-prod.yaml");
        assert_eq!(
            spec(&id, cwd, present).unwrap(),
            PathBuf::from("../../specs/k8s-prod.yaml")
        );
    }

    #[test]
    fn a_stack_id_that_could_name_another_file_is_refused() {
        let cwd = Path::new("/repo");
        for bad in ["", "../etc", "a/b", "..", "x\0y"] {
            let id = move |k: &str| (k == "SPACELIFT_STACK_ID").then(|| bad.to_string());
            let err = spec(id, cwd, |_: &Path| true).unwrap_err();
            assert_eq!(err.code, Code::SpecStackId, "{bad:?}");
        }
        let id = |k: &str| (k == "SPACELIFT_STACK_ID").then(|| "prod.v2".to_string());
        assert!(spec(id, cwd, |_: &Path| true).is_ok());
    }
}
