//! Finding an executable on a PATH, as `sh` would.

use std::path::{Path, PathBuf};

/// The executable `name` resolves to on `path_var`.
pub fn find_on_path(name: &str, path_var: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    if name.contains('/') {
        return Some(PathBuf::from(name)).filter(|p| p.is_file());
    }
    path_var
        .split(':')
        .filter(|d| !d.is_empty())
        .map(|d| Path::new(d).join(name))
        .find(|p| {
            p.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_only_executable_files() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let exe = dir.path().join("tool");
        std::fs::write(&exe, "").unwrap();
        let path = format!("/nonexistent::{}", dir.path().display());
        assert_eq!(find_on_path("tool", &path), None, "not executable");
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(find_on_path("tool", &path), Some(exe));
        std::fs::create_dir(dir.path().join("adir")).unwrap();
        assert_eq!(find_on_path("adir", &path), None, "a directory");
    }
}
