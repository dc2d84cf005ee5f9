//! Which spec files a command reads: the one for this stack when none is
//! given (so that one hook line serves every stack), or every spec under
//! the paths `validate` is given.

use std::path::{Path, PathBuf};

use crate::base::diagnostic::{Code, Diag, finish};

/// The spec for this run: `$STACKHOOK_SPEC`, else
/// `specs/$TF_VAR_spacelift_stack_id.yaml` (or `specs/$SPACELIFT_STACK_ID.yaml`),
/// else `.stackhook.yaml`.
pub fn spec(
    get: impl Fn(&str) -> Option<String>,
    exists: impl Fn(&Path) -> bool,
) -> Result<PathBuf, Diag> {
    let mut tried = Vec::new();
    if let Some(p) = get("STACKHOOK_SPEC").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    tried.push("$STACKHOOK_SPEC (not set)".to_string());
    for var in ["TF_VAR_spacelift_stack_id", "SPACELIFT_STACK_ID"] {
        match get(var).filter(|v| !v.is_empty()) {
            Some(id) => {
                let p = PathBuf::from(format!("specs/{id}.yaml"));
                if exists(&p) {
                    return Ok(p);
                }
                tried.push(format!("{} (from ${var}: not found)", p.display()));
            }
            None => tried.push(format!("specs/${var}.yaml (${var} not set)")),
        }
    }
    let p = PathBuf::from(".stackhook.yaml");
    if exists(&p) {
        return Ok(p);
    }
    tried.push(".stackhook.yaml (not found)".into());
    Err(
        Diag::new(Code::SpecNotFound, "no spec given and none found").help(format!(
            "pass a spec path, or set STACKHOOK_SPEC. Tried, in order:\n  - {}",
            tried.join("\n  - ")
        )),
    )
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

    #[test]
    fn discovery_order() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        let all = |_: &Path| true;
        assert_eq!(
            spec(
                env(&[("STACKHOOK_SPEC", "x.yaml"), ("SPACELIFT_STACK_ID", "a")]),
                all
            )
            .unwrap(),
            PathBuf::from("x.yaml")
        );
        assert_eq!(
            spec(env(&[("TF_VAR_spacelift_stack_id", "prod")]), all).unwrap(),
            PathBuf::from("specs/prod.yaml")
        );
        assert_eq!(
            spec(env(&[("SPACELIFT_STACK_ID", "dev")]), all).unwrap(),
            PathBuf::from("specs/dev.yaml")
        );
        let none = |_: &Path| false;
        let err = spec(env(&[("SPACELIFT_STACK_ID", "dev")]), none).unwrap_err();
        let help = err.help.unwrap();
        assert!(
            help.contains("specs/dev.yaml (from $SPACELIFT_STACK_ID: not found)"),
            "{help}"
        );
        assert!(help.contains(".stackhook.yaml (not found)"), "{help}");
    }
}
