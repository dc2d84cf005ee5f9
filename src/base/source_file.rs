//! Reading a spec or a provider file. These come from a repository, maybe
//! a pull request's: a file that is a FIFO, a device, huge, or a symlink
//! out of the repository (to `/proc/self/environ`, to a secret file) would
//! hang `validate` or put what it points at into an error message in a CI
//! log. So: what `bounded_file` reads (regular files only, opened without
//! blocking, bounded in size), and a symlink in the repository must stay
//! in it. The repository is the first of the working directory and its
//! parents that holds `.git` (or Spacelift's checkout), else the working
//! directory.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::base::bounded_file;
use crate::base::lexical_path;

/// Specs and provider files are small; 8 MiB holds a spec of tens of
/// thousands of steps.
pub const MAX_SIZE: u64 = 8 * 1024 * 1024;

/// The bytes of `path`, or why they cannot be read.
pub fn read(path: &Path) -> Result<Vec<u8>, String> {
    escapes(path)?;
    bounded_file::read(path, MAX_SIZE).map_err(|e| e.to_string())
}

/// Where Spacelift checks a stack's repository out; hooks run in its
/// project root below.
pub const SPACELIFT_ROOT: &str = "/mnt/workspace/source";

/// The repository `dir` (absolute) is in: the first of `dir` and its
/// parents that holds `.git` or is Spacelift's checkout.
pub fn repository_root(dir: &Path, exists: impl Fn(&Path) -> bool) -> Option<&Path> {
    dir.ancestors()
        .find(|d| *d == Path::new(SPACELIFT_ROOT) || exists(&d.join(".git")))
}

/// The working directory, canonical, found once: `validate` reads
/// thousands of files from the same place.
fn cwd() -> Option<&'static Path> {
    static CWD: OnceLock<Option<PathBuf>> = OnceLock::new();
    CWD.get_or_init(|| std::env::current_dir().and_then(std::fs::canonicalize).ok())
        .as_deref()
}

/// The repository of the working directory, canonical; the working
/// directory itself outside one.
pub fn repository() -> Option<&'static Path> {
    static REPO: OnceLock<Option<&'static Path>> = OnceLock::new();
    *REPO.get_or_init(|| {
        let cwd = cwd()?;
        Some(repository_root(cwd, |p| p.exists()).unwrap_or(cwd))
    })
}

/// The repository a spec file is in: the first of its directory and its
/// parents that holds `.git` (or is Spacelift's checkout); for a file in
/// none, the working directory's.
pub fn repository_of(file: &Path) -> Option<PathBuf> {
    let dir = absolute(file).parent()?.to_path_buf();
    let dir = std::fs::canonicalize(&dir).unwrap_or(dir);
    match repository_root(&dir, |p| p.exists()) {
        Some(root) => Some(root.to_path_buf()),
        None => repository().map(Path::to_path_buf),
    }
}

/// Whether `path` (relative to the working directory) stays in the
/// repository `repo`, by name and once symlinks are followed.
pub fn in_repository(path: &Path, repo: &Path) -> Result<(), String> {
    if !absolute(path).starts_with(repo) {
        return Err("it is above the repository's root".into());
    }
    match std::fs::canonicalize(path) {
        Ok(real) if !real.starts_with(repo) => Err(format!(
            "a symlink to {}, out of the repository",
            real.display()
        )),
        _ => Ok(()),
    }
}

/// `path` made absolute against the working directory, by name.
pub fn absolute(path: &Path) -> PathBuf {
    match cwd() {
        Some(cwd) => lexical_path::resolved(&cwd.join(path)),
        None => lexical_path::resolved(path),
    }
}

/// Refuses a path that leads out of the repository through a symlink, and
/// anything in the kernel's own trees.
fn escapes(path: &Path) -> Result<(), String> {
    let Ok(real) = std::fs::canonicalize(path) else {
        return Ok(()); // Opening it will say why.
    };
    if ["/proc", "/sys", "/dev"]
        .iter()
        .any(|d| real.starts_with(d))
    {
        return Err(format!("{} is not a file of a repository", real.display()));
    }
    let (Some(repo), Some(cwd)) = (repository(), cwd()) else {
        return Ok(());
    };
    let given = lexical_path::resolved(&cwd.join(path));
    if given.starts_with(repo) && !real.starts_with(repo) {
        return Err(format!(
            "a symlink to {}, out of the repository",
            real.display()
        ));
    }
    Ok(())
}

/// The path a spec at `spec` names with `value` (relative to the spec's
/// directory), if it stays in the spec's repository: by name (`../..`, an
/// absolute path) and by following links; else why not, naming no path
/// (what lies outside is none of a CI log's business). The repository is the current
/// directory for a spec in it; for a spec given from elsewhere, the
/// spec's own directory. A directory out of it is for `--templates`, a
/// flag of the caller, not for a file a pull request can change.
pub fn named_by(spec: &Path, value: &str) -> Result<PathBuf, String> {
    let cwd = std::env::current_dir()
        .and_then(std::fs::canonicalize)
        .map_err(|e| format!("cannot read the current directory: {e}"))?;
    let named = spec.parent().unwrap_or(Path::new(".")).join(value);
    let spec = lexical_path::resolved(&cwd.join(spec));
    let spec_dir = spec.parent().unwrap_or(&cwd);
    let repo = if spec.starts_with(&cwd) {
        cwd.clone()
    } else {
        spec_dir.to_path_buf()
    };
    let path = lexical_path::resolved(&spec_dir.join(value));
    if !path.starts_with(&repo) {
        return Err("leads out of the repository".into());
    }
    let real_repo = std::fs::canonicalize(&repo).unwrap_or(repo);
    match std::fs::canonicalize(&path) {
        Ok(real) if !real.starts_with(&real_repo) => {
            Err("leads out of the repository through a symlink".into())
        }
        _ => Ok(named),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_regular_files_of_a_bounded_size() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("spec.yaml");
        std::fs::write(&file, "version: 1").unwrap();
        assert_eq!(read(&file).unwrap(), b"version: 1");
        assert_eq!(
            read(Path::new("/dev/zero")).unwrap_err(),
            "/dev/zero is not a file of a repository"
        );
        assert!(read(dir.path()).unwrap_err().contains("not a regular file"));
        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        assert!(read(&fifo).unwrap_err().contains("not a regular file"));
        let big = dir.path().join("big");
        std::fs::File::create(&big)
            .unwrap()
            .set_len(MAX_SIZE + 1)
            .unwrap();
        assert!(read(&big).unwrap_err().contains("larger than"));
    }
}
