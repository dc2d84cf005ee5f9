//! Replacing a file atomically: readers see the old content or the new,
//! never a half-written file.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// `path`, then each path its symlinks lead to, as far as the kernel
/// follows (40 links).
fn hops(path: &Path) -> impl Iterator<Item = PathBuf> {
    std::iter::successors(Some(path.to_path_buf()), |current| {
        let next = std::fs::read_link(current).ok()?;
        Some(match current.parent() {
            Some(dir) => dir.join(next),
            None => next,
        })
    })
    .take(41)
}

/// The file a path names: the path, or where its symlinks end, even when
/// that file does not exist (yet).
pub fn final_target(path: &Path) -> PathBuf {
    hops(path).last().expect("the path itself is the first hop")
}

/// The first symlink on the way from `path` to its file that belongs to
/// neither this user nor root, and its owner: the path's own directories
/// too, and those of every link it leads through. stackhook follows links
/// itself (to keep them), so the kernel's `protected_symlinks` does not
/// guard it: a link another user planted in a shared directory (`/tmp`)
/// would have it write wherever that user chose.
pub fn foreign_link(path: &Path) -> Option<(PathBuf, u32)> {
    use std::os::unix::fs::MetadataExt;
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    hops(path).find_map(|hop| {
        hop.ancestors()
            .filter(|a| !a.as_os_str().is_empty())
            .find_map(|step| {
                let meta = std::fs::symlink_metadata(step).ok()?;
                let foreign = meta.file_type().is_symlink() && meta.uid() != me && meta.uid() != 0;
                foreign.then(|| (step.to_path_buf(), meta.uid()))
            })
    })
}

/// Writes `content` to `dest` atomically (a 0600 file in the same
/// directory, synced, then renamed), creating the directory 0700. A
/// symlink (a mounted file) is written through, not replaced, even when it
/// points at a file that does not exist yet.
pub fn write(dest: &Path, content: &[u8]) -> std::io::Result<()> {
    if let Some((link, uid)) = foreign_link(dest) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            format!(
                "{} is a symlink of another user (uid {uid})",
                link.display()
            ),
        ));
    }
    let resolved = final_target(dest);
    let dest = resolved.as_path();
    let dir = dest
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".stackhook-")
        .permissions(std::fs::Permissions::from_mode(0o600))
        .tempfile_in(dir)?;
    // The file keeps its owner (a run as root must not take a user's
    // kubeconfig away from them); only root can give a file away.
    if let Ok(old) = std::fs::metadata(dest) {
        use std::os::unix::fs::MetadataExt;
        let _ = std::os::unix::fs::fchown(tmp.as_file(), Some(old.uid()), Some(old.gid()));
    }
    tmp.write_all(content)?;
    tmp.as_file().sync_all()?;
    tmp.persist(dest).map_err(|e| e.error)?;
    std::fs::set_permissions(dest, std::fs::Permissions::from_mode(0o600))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_symlinked_file_is_written_through() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("mounted");
        std::fs::write(&target, "old").unwrap();
        let link = dir.path().join("config");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        write(&link, b"new").unwrap();
        assert!(link.is_symlink());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "new");
    }

    #[test]
    fn a_dangling_symlink_is_written_through() {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("config");
        std::os::unix::fs::symlink("sub/target", &link).unwrap();
        write(&link, b"new").unwrap();
        assert!(link.is_symlink());
        assert_eq!(
            std::fs::read_to_string(dir.path().join("sub/target")).unwrap(),
            "new"
        );
    }

    #[test]
    fn the_file_is_private_and_nothing_else_is_left() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("sub/f");
        write(&dest, b"x").unwrap();
        let mode = std::fs::metadata(&dest).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let entries = std::fs::read_dir(dest.parent().unwrap()).unwrap().count();
        assert_eq!(entries, 1);
    }
}
