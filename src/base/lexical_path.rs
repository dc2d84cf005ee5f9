//! A path with `.` and `..` resolved by name, not by following links: what
//! the path says, for comparing paths and making them absolute without
//! touching the file system.

use std::path::{Component, Path, PathBuf};

/// `path` with `.` dropped and `..` taking off the component before it.
pub fn resolved(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
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
