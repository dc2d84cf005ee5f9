//! A path as it was before a run, and putting back only what changed: a
//! symlink stays a symlink (to the same target, even one that does not
//! exist), a file gets its bytes, mode and owner back, a file that was
//! not there goes. What did not change is not touched. A snapshot can be
//! written down, so that another process can put it back (recovery.rs).

use std::fs;
use std::io::ErrorKind;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::base::atomic_file;
use crate::base::bounded_file::{KUBECONFIG_CAP, Refused, read as read_bounded};

#[derive(Debug, Serialize, Deserialize)]
pub struct Snapshot {
    #[serde(with = "os_path")]
    path: PathBuf,
    /// Where the path pointed, when it was a symlink.
    #[serde(with = "os_path::option")]
    link: Option<PathBuf>,
    /// The file the path names: the path, or the end of its links.
    #[serde(with = "os_path")]
    target: PathBuf,
    file: Option<FileState>,
    /// The file's device and inode: the file itself, told from one a step
    /// put in its place.
    #[serde(default)]
    inode: Option<(u64, u64)>,
}

#[derive(Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct FileState {
    bytes: Vec<u8>,
    mode: u32,
    uid: u32,
    gid: u32,
}

fn file_state(path: &Path) -> std::io::Result<Option<FileState>> {
    let meta = match fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    // Bounded like every file stackhook reads from the environment: the
    // snapshot is held in memory and written to the run's record.
    let bytes = read_bounded(path, KUBECONFIG_CAP).map_err(|r| match r {
        Refused::Io(e) => e,
        Refused::TooLarge(_) => std::io::Error::new(
            ErrorKind::FileTooLarge,
            format!("{} is larger than 16 MiB", path.display()),
        ),
        other => std::io::Error::other(format!("{}: {other}", path.display())),
    })?;
    Ok(Some(FileState {
        bytes,
        mode: meta.permissions().mode() & 0o7777,
        uid: meta.uid(),
        gid: meta.gid(),
    }))
}

impl Snapshot {
    pub fn take(path: &Path) -> std::io::Result<Snapshot> {
        let link = match fs::symlink_metadata(path) {
            Ok(m) if m.file_type().is_symlink() => Some(fs::read_link(path)?),
            _ => None,
        };
        let target = atomic_file::final_target(path);
        Ok(Snapshot {
            path: path.to_path_buf(),
            link,
            file: file_state(&target)?,
            inode: fs::metadata(&target).ok().map(|m| (m.dev(), m.ino())),
            target,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the path is no longer as it was.
    pub fn changed(&self) -> bool {
        let link = fs::read_link(&self.path).ok();
        link != self.link || file_state(&self.target).ok().flatten() != self.file
    }

    /// Puts back what changed, and only that. What a step left at the
    /// file's place that is not a regular file (a directory, full or
    /// empty, a FIFO, a symlink) goes, without following a link or
    /// reaching past that path: the snapshot holds what was there. An
    /// error says what is left.
    pub fn restore(&self) -> std::io::Result<()> {
        let current = fs::read_link(&self.path).ok();
        match (&self.link, &current) {
            (Some(link), current) if current.as_ref() != Some(link) => {
                // A symlink is renamed over anything but a directory.
                let dir = fs::symlink_metadata(&self.path).is_ok_and(|m| m.is_dir());
                if dir {
                    remove(&self.path, true)?;
                }
                replace_with_symlink(&self.path, link).map_err(|e| {
                    let left = match dir {
                        true => "nothing is there",
                        false => "it is left as the failed step left it",
                    };
                    std::io::Error::new(e.kind(), format!("{e}; {left}"))
                })?;
            }
            (None, Some(_)) => remove(&self.path, false)?,
            _ => {}
        }
        let now = self.current_file()?;
        match (&self.file, now) {
            (Some(before), now) if now.as_ref().map(|(s, _)| s) != Some(before) => {
                self.put_back(before, now)?;
            }
            (None, Some(_)) => remove(&self.target, false)?,
            _ => {}
        }
        Ok(())
    }

    /// The regular file at the target now, once anything else a step left
    /// there is removed. A file that cannot be read now (grown past the
    /// cap) is not what the snapshot holds: it is put back too.
    fn current_file(&self) -> std::io::Result<Option<(FileState, fs::Metadata)>> {
        let meta = match fs::symlink_metadata(&self.target) {
            Ok(m) => m,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        if !meta.is_file() {
            remove(&self.target, meta.is_dir())?;
            return Ok(None);
        }
        match file_state(&self.target) {
            Ok(now) => Ok(now.map(|s| (s, meta))),
            Err(e) if e.kind() == ErrorKind::FileTooLarge => Ok(Some((FileState::default(), meta))),
            Err(e) => Err(e),
        }
    }

    /// Writes the file as it was: a new file renamed over the path, or,
    /// when the file itself is still there and has other hard links, into
    /// it (a new file would leave the other names with the step's edit).
    fn put_back(
        &self,
        before: &FileState,
        now: Option<(FileState, fs::Metadata)>,
    ) -> std::io::Result<()> {
        let in_place = now
            .as_ref()
            .is_some_and(|(_, m)| m.nlink() > 1 && Some((m.dev(), m.ino())) == self.inode);
        if in_place {
            write_in_place(&self.target, &before.bytes, self.inode)?;
        } else {
            // A new file, renamed over the old one only once written.
            let left = match now {
                Some(_) => "it is left as the failed step left it",
                None => "nothing is there",
            };
            atomic_file::write(&self.target, &before.bytes)
                .map_err(|e| std::io::Error::new(e.kind(), format!("{e}; {left}")))?;
        }
        fs::set_permissions(&self.target, fs::Permissions::from_mode(before.mode)).map_err(
            |e| {
                let left = "its bytes are back, but not its mode";
                std::io::Error::new(e.kind(), format!("{e}; {left}"))
            },
        )?;
        if now
            .as_ref()
            .is_none_or(|(n, _)| (n.uid, n.gid) != (before.uid, before.gid))
        {
            // Only root may give a file away; others keep their own.
            let _ = std::os::unix::fs::chown(&self.target, Some(before.uid), Some(before.gid));
        }
        Ok(())
    }
}

/// Removes what a step left at `path`: a directory with all it holds
/// (never following a symlink in it), or any other entry itself (a
/// symlink, not what it points at).
fn remove(path: &Path, dir: bool) -> std::io::Result<()> {
    let removed = if dir {
        fs::remove_dir_all(path)
    } else {
        fs::remove_file(path)
    };
    removed.map_err(|e| {
        let what = if dir { "the directory" } else { "what" };
        std::io::Error::new(
            e.kind(),
            format!("cannot remove {what} a step left there: {e}; it is still there"),
        )
    })
}

/// Writes `bytes` into the file at `path` itself, if it is still the file
/// `inode` names. The space is reserved first, so that a full disk stops
/// it before any byte is changed; a failure after that is said as leaving
/// the file partly written.
fn write_in_place(path: &Path, bytes: &[u8], inode: Option<(u64, u64)>) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::{FileExt, OpenOptionsExt};
    let file = fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() || Some((meta.dev(), meta.ino())) != inode {
        return Err(std::io::Error::other(
            "it was replaced while being restored; it is left as it is",
        ));
    }
    let len = bytes.len() as u64;
    if len > meta.len() {
        // SAFETY: a descriptor this function owns; the range is in bounds.
        let err = unsafe { libc::posix_fallocate(file.as_raw_fd(), 0, len as libc::off_t) };
        if err != 0 && err != libc::EOPNOTSUPP && err != libc::EINVAL {
            let e = std::io::Error::from_raw_os_error(err);
            let left = "it is left as the failed step left it";
            return Err(std::io::Error::new(e.kind(), format!("{e}; {left}")));
        }
    }
    file.write_all_at(bytes, 0)
        .and_then(|()| file.set_len(len))
        .and_then(|()| file.sync_all())
        .map_err(|e| {
            let left = "it may be left partly written over (the original's bytes, then the step's)";
            std::io::Error::new(e.kind(), format!("{e}; {left}"))
        })
}

/// Atomically makes `path` a symlink to `link` again (a step may have
/// replaced the link with a file by writing a new file and renaming it).
fn replace_with_symlink(path: &Path, link: &Path) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    // A fresh name each try: a name another user can guess and take first
    // in a shared directory is never removed or followed.
    for attempt in 0..16 {
        let name = format!(
            ".stackhook-link-{}-{attempt}-{:x}",
            std::process::id(),
            nonce()
        );
        let tmp = dir.join(name);
        match std::os::unix::fs::symlink(link, &tmp) {
            Ok(()) => return fs::rename(&tmp, path),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::other(
        "no free name for a temporary symlink",
    ))
}

/// Paths as their bytes: a link may name a file whose name is not UTF-8.
mod os_path {
    use std::ffi::OsString;
    use std::path::{Path, PathBuf};

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(path: &Path, s: S) -> Result<S::Ok, S::Error> {
        path.as_os_str().serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<PathBuf, D::Error> {
        OsString::deserialize(d).map(PathBuf::from)
    }

    pub mod option {
        use super::*;

        pub fn serialize<S: Serializer>(path: &Option<PathBuf>, s: S) -> Result<S::Ok, S::Error> {
            path.as_deref().map(Path::as_os_str).serialize(s)
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<PathBuf>, D::Error> {
            Option::<OsString>::deserialize(d).map(|p| p.map(PathBuf::from))
        }
    }
}

/// Some bits that differ between calls.
fn nonce() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_gets_bytes_and_mode_back_and_is_untouched_when_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("config");
        fs::write(&f, "before").unwrap();
        fs::set_permissions(&f, fs::Permissions::from_mode(0o640)).unwrap();
        let s = Snapshot::take(&f).unwrap();
        assert!(!s.changed());
        let inode = fs::metadata(&f).unwrap().ino();
        s.restore().unwrap();
        assert_eq!(
            fs::metadata(&f).unwrap().ino(),
            inode,
            "rewritten though unchanged"
        );
        fs::write(&f, "after").unwrap();
        fs::set_permissions(&f, fs::Permissions::from_mode(0o600)).unwrap();
        assert!(s.changed());
        s.restore().unwrap();
        assert_eq!(fs::read_to_string(&f).unwrap(), "before");
        assert_eq!(
            fs::metadata(&f).unwrap().permissions().mode() & 0o777,
            0o640
        );
    }

    #[test]
    fn a_symlink_replaced_by_a_file_comes_back_as_the_link() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("mounted");
        fs::write(&target, "mounted").unwrap();
        let link = dir.path().join("config");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let s = Snapshot::take(&link).unwrap();
        // A step writes a new file and renames it over the link.
        fs::write(dir.path().join("new"), "replaced").unwrap();
        fs::rename(dir.path().join("new"), &link).unwrap();
        s.restore().unwrap();
        assert_eq!(fs::read_link(&link).unwrap(), target);
        assert_eq!(fs::read_to_string(&target).unwrap(), "mounted");
    }

    #[test]
    fn a_dangling_symlink_is_kept_and_what_was_written_through_it_goes() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("not-yet");
        let link = dir.path().join("config");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let s = Snapshot::take(&link).unwrap();
        s.restore().unwrap();
        assert_eq!(fs::read_link(&link).unwrap(), target, "untouched");
        fs::write(&link, "written through").unwrap();
        s.restore().unwrap();
        assert_eq!(fs::read_link(&link).unwrap(), target);
        assert!(!target.exists());
    }

    #[test]
    fn a_snapshot_written_down_restores_as_the_original_would() {
        use std::os::unix::ffi::OsStrExt;
        let dir = tempfile::tempdir().unwrap();
        // A link to a name that is not UTF-8.
        let target = dir
            .path()
            .join(std::ffi::OsStr::from_bytes(b"mounted-\xff"));
        fs::write(&target, "mounted").unwrap();
        fs::set_permissions(&target, fs::Permissions::from_mode(0o640)).unwrap();
        let link = dir.path().join("config");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let text = serde_json::to_string(&Snapshot::take(&link).unwrap()).unwrap();
        let s: Snapshot = serde_json::from_str(&text).unwrap();
        fs::remove_file(&link).unwrap();
        fs::write(&link, "replaced").unwrap();
        fs::write(&target, "changed").unwrap();
        s.restore().unwrap();
        assert_eq!(fs::read_link(&link).unwrap(), target);
        assert_eq!(fs::read_to_string(&target).unwrap(), "mounted");
        assert_eq!(
            fs::metadata(&target).unwrap().permissions().mode() & 0o777,
            0o640
        );
    }

    /// A link written through (its target changed, the link not) keeps
    /// the very link: only what changed is put back.
    #[test]
    fn a_link_written_through_is_not_recreated() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("mounted");
        fs::write(&target, "mounted").unwrap();
        let link = dir.path().join("config");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let inode = fs::symlink_metadata(&link).unwrap().ino();
        let s = Snapshot::take(&link).unwrap();
        fs::write(&link, "written through").unwrap();
        s.restore().unwrap();
        assert_eq!(fs::symlink_metadata(&link).unwrap().ino(), inode);
        assert_eq!(fs::read_to_string(&target).unwrap(), "mounted");
    }

    /// A file a step replaced with a link comes back as the file; the
    /// link's target is not written.
    #[test]
    fn a_file_replaced_by_a_link_comes_back_as_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config");
        fs::write(&config, "original").unwrap();
        let other = dir.path().join("other");
        fs::write(&other, "someone else's").unwrap();
        let s = Snapshot::take(&config).unwrap();
        fs::remove_file(&config).unwrap();
        std::os::unix::fs::symlink(&other, &config).unwrap();
        s.restore().unwrap();
        assert!(
            !fs::symlink_metadata(&config)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(fs::read_to_string(&config).unwrap(), "original");
        assert_eq!(fs::read_to_string(&other).unwrap(), "someone else's");
    }

    /// A kubeconfig is read with a bound, like every file named by the
    /// environment; one a step grew past it is put back all the same.
    #[test]
    fn a_kubeconfig_past_the_bound_is_refused_and_one_grown_past_it_restored() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config");
        fs::File::create(&config)
            .unwrap()
            .set_len(KUBECONFIG_CAP + 1)
            .unwrap();
        let err = Snapshot::take(&config).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::FileTooLarge);
        fs::write(&config, "original").unwrap();
        let s = Snapshot::take(&config).unwrap();
        fs::OpenOptions::new()
            .write(true)
            .open(&config)
            .unwrap()
            .set_len(KUBECONFIG_CAP + 1)
            .unwrap();
        s.restore().unwrap();
        assert_eq!(fs::read_to_string(&config).unwrap(), "original");
    }

    /// Only a file that is not there is recorded as absent: one that
    /// cannot be read (here, its directory is a file) is an error, or a
    /// rollback would remove what it could not see.
    #[test]
    fn a_path_that_cannot_be_read_is_an_error_not_an_absent_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("file"), "x").unwrap();
        let err = Snapshot::take(&dir.path().join("file/config")).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::NotADirectory);
    }

    /// What a step left at the file's place goes, whatever it is, and
    /// nothing it points at or holds a link to; the file comes back.
    #[test]
    fn a_directory_fifo_or_link_left_in_the_files_place_goes() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config");
        let outside = dir.path().join("outside");
        fs::create_dir(&outside).unwrap();
        fs::write(outside.join("keep"), "keep").unwrap();
        let leave: [&dyn Fn(&Path); 4] = [
            &|p| fs::create_dir(p).unwrap(),
            &|p| {
                fs::create_dir_all(p.join("a")).unwrap();
                std::os::unix::fs::symlink(&outside, p.join("a/out")).unwrap();
            },
            &|p| {
                let c = std::ffi::CString::new(p.to_str().unwrap()).unwrap();
                // SAFETY: a valid NUL-terminated path.
                assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
            },
            &|p| std::os::unix::fs::symlink(outside.join("keep"), p).unwrap(),
        ];
        for left in leave {
            fs::write(&config, "original").unwrap();
            let s = Snapshot::take(&config).unwrap();
            fs::remove_file(&config).unwrap();
            left(&config);
            s.restore().unwrap();
            assert!(fs::symlink_metadata(&config).unwrap().is_file());
            assert_eq!(fs::read_to_string(&config).unwrap(), "original");
            assert_eq!(fs::read_to_string(outside.join("keep")).unwrap(), "keep");
            assert_eq!(fs::read_dir(&outside).unwrap().count(), 1);
        }
        // Where there was nothing, nothing is left.
        fs::remove_file(&config).unwrap();
        let s = Snapshot::take(&config).unwrap();
        fs::create_dir_all(config.join("sub")).unwrap();
        s.restore().unwrap();
        assert!(fs::symlink_metadata(&config).is_err());
    }

    /// A file with another hard link is written back into itself; a name
    /// a step made a hard link of another file gets a new file, and the
    /// other file is not written.
    #[test]
    fn a_hard_linked_file_is_restored_in_place_and_only_itself() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config");
        let second = dir.path().join("second");
        fs::write(&config, "original, longer than the edit").unwrap();
        fs::hard_link(&config, &second).unwrap();
        let inode = fs::metadata(&config).unwrap().ino();
        let s = Snapshot::take(&config).unwrap();
        fs::write(&config, "edit").unwrap();
        s.restore().unwrap();
        assert_eq!(fs::metadata(&config).unwrap().ino(), inode);
        assert_eq!(
            fs::read_to_string(&second).unwrap(),
            "original, longer than the edit"
        );
        fs::write(&config, "an edit longer than the original file").unwrap();
        s.restore().unwrap();
        assert_eq!(
            fs::read_to_string(&second).unwrap(),
            "original, longer than the edit"
        );
        let other = dir.path().join("other");
        fs::write(&other, "someone else's").unwrap();
        fs::remove_file(&config).unwrap();
        fs::hard_link(&other, &config).unwrap();
        s.restore().unwrap();
        assert_eq!(fs::read_to_string(&other).unwrap(), "someone else's");
        assert_eq!(
            fs::read_to_string(&config).unwrap(),
            "original, longer than the edit"
        );
    }

    #[test]
    fn a_file_that_was_not_there_goes() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("config");
        let s = Snapshot::take(&f).unwrap();
        fs::write(&f, "new").unwrap();
        s.restore().unwrap();
        assert!(!f.exists());
    }
}
