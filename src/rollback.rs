//! The run's journal: what it created or changed (its private temp
//! directory, the kubeconfig and the directory made for it), and a guard
//! that undoes all of it unless the run commits. Secrets go first: the temp
//! directory is removed before the kubeconfig is restored.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::atomic_file;

const RUN_DIR_PREFIX: &str = "stackhook-";
const LOCK: &str = ".lock";

#[derive(Default)]
pub struct Journal {
    run_dir: Option<RunDir>,
    kubeconfig: Option<Snapshot>,
    committed: bool,
}

struct RunDir {
    path: PathBuf,
    /// Held (flock) for the whole run: a directory whose lock can be taken
    /// belongs to a run that is gone, whatever its pid says.
    _lock: File,
}

struct Snapshot {
    path: PathBuf,
    /// Content and mode before the run; none when there was no file.
    before: Option<(Vec<u8>, u32)>,
    /// Whether kubectl's lock file existed before the run.
    lock_existed: bool,
    /// Directories created to hold the kubeconfig, deepest last.
    created_dirs: Vec<PathBuf>,
}

impl Journal {
    /// Creates the run's private directory (0700) under `base`.
    pub fn create_run_dir(&mut self, base: &Path) -> std::io::Result<PathBuf> {
        let dir = tempfile::Builder::new()
            .prefix(&format!("{RUN_DIR_PREFIX}{}-", std::process::id()))
            .permissions(fs::Permissions::from_mode(0o700))
            .tempdir_in(base)?
            .keep();
        let lock = OpenOptions::new()
            .create_new(true)
            .write(true)
            .mode(0o600)
            .open(dir.join(LOCK))?;
        lock.try_lock()
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        self.run_dir = Some(RunDir {
            path: dir.clone(),
            _lock: lock,
        });
        Ok(dir)
    }

    pub fn run_dir(&self) -> Option<&Path> {
        self.run_dir.as_ref().map(|d| d.path.as_path())
    }

    /// Writes a temp file (0600, never replacing one) into the run dir.
    pub fn write_tempfile(&self, name: &str, content: &[u8]) -> std::io::Result<PathBuf> {
        let dir = self
            .run_dir()
            .ok_or_else(|| std::io::Error::other("no run directory"))?;
        let path = dir.join(name);
        let _ = fs::remove_file(&path);
        let mut f = OpenOptions::new()
            .create_new(true)
            .write(true)
            .mode(0o600)
            .open(&path)?;
        f.write_all(content)?;
        Ok(path)
    }

    pub fn remove_tempfile(&self, name: &str) {
        if let Some(dir) = self.run_dir() {
            let _ = fs::remove_file(dir.join(name));
        }
    }

    /// Records the kubeconfig as it is, creating its directory (0700) when
    /// it is missing.
    pub fn snapshot_kubeconfig(&mut self, path: &Path) -> std::io::Result<()> {
        let mut created_dirs = Vec::new();
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            let mut missing = Vec::new();
            let mut p = parent;
            while !p.exists() {
                missing.push(p.to_path_buf());
                match p.parent() {
                    Some(q) if !q.as_os_str().is_empty() => p = q,
                    _ => break,
                }
            }
            DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(parent)?;
            missing.reverse();
            created_dirs = missing;
        }
        let before = match fs::read(path) {
            Ok(bytes) => Some((bytes, fs::metadata(path)?.permissions().mode() & 0o7777)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        self.kubeconfig = Some(Snapshot {
            path: path.to_path_buf(),
            before,
            lock_existed: lock_path(path).exists(),
            created_dirs,
        });
        Ok(())
    }

    /// The run succeeded: temp files go, the kubeconfig stays (mode 0600).
    pub fn commit(mut self) -> std::io::Result<()> {
        self.committed = true;
        self.remove_run_dir();
        if let Some(s) = &self.kubeconfig
            && s.path.exists()
        {
            fs::set_permissions(&s.path, fs::Permissions::from_mode(0o600))?;
        }
        Ok(())
    }

    /// Undoes the run; returns what could not be undone.
    pub fn rollback(&mut self) -> Vec<String> {
        self.committed = true;
        let mut problems = Vec::new();
        self.remove_run_dir();
        if let Some(s) = self.kubeconfig.take() {
            let restored = match &s.before {
                Some((bytes, mode)) => atomic_file::write(&s.path, bytes)
                    .and_then(|_| fs::set_permissions(&s.path, fs::Permissions::from_mode(*mode))),
                None => match fs::remove_file(&s.path) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
                    _ => Ok(()),
                },
            };
            if let Err(e) = restored {
                problems.push(format!("could not restore {}: {e}", s.path.display()));
            }
            // A command killed mid-write leaves kubectl's lock behind, which
            // would make every later kubectl call fail.
            if !s.lock_existed {
                let _ = fs::remove_file(lock_path(&s.path));
            }
            for dir in s.created_dirs.iter().rev() {
                let _ = fs::remove_dir(dir);
            }
        }
        problems
    }

    fn remove_run_dir(&mut self) {
        if let Some(dir) = self.run_dir.take() {
            let _ = fs::remove_dir_all(&dir.path);
        }
    }
}

impl Drop for Journal {
    /// A panic (or an early return) still rolls back.
    fn drop(&mut self) {
        if !self.committed {
            self.rollback();
        }
    }
}

fn lock_path(kubeconfig: &Path) -> PathBuf {
    let mut s = kubeconfig.as_os_str().to_owned();
    s.push(".lock");
    PathBuf::from(s)
}

/// Removes run directories under `base` left by runs that were killed
/// (SIGKILL, power loss): their lock is free. Returns what was removed.
pub fn sweep_stale(base: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(base) else {
        return Vec::new();
    };
    let mut removed = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        let is_ours = entry
            .file_name()
            .to_string_lossy()
            .starts_with(RUN_DIR_PREFIX)
            && entry.file_type().is_ok_and(|t| t.is_dir());
        if !is_ours {
            continue;
        }
        // Only directories this user owns and that carry our lock file.
        let Ok(lock) = File::open(path.join(LOCK)) else {
            continue;
        };
        if lock.try_lock().is_ok() {
            drop(lock);
            if fs::remove_dir_all(&path).is_ok() {
                removed.push(path);
            }
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rollback_restores_bytes_and_mode_and_removes_the_run_dir() {
        let base = tempfile::tempdir().unwrap();
        let kube = base.path().join("config");
        fs::write(&kube, b"before").unwrap();
        fs::set_permissions(&kube, fs::Permissions::from_mode(0o640)).unwrap();
        let mut j = Journal::default();
        let dir = j.create_run_dir(base.path()).unwrap();
        assert_eq!(
            fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
            0o700
        );
        let f = j.write_tempfile("token", b"s3cret").unwrap();
        assert_eq!(
            fs::metadata(&f).unwrap().permissions().mode() & 0o777,
            0o600
        );
        j.snapshot_kubeconfig(&kube).unwrap();
        fs::write(&kube, b"after").unwrap();
        fs::write(lock_path(&kube), b"").unwrap();
        drop(j);
        assert!(!dir.exists());
        assert_eq!(fs::read(&kube).unwrap(), b"before");
        assert_eq!(
            fs::metadata(&kube).unwrap().permissions().mode() & 0o777,
            0o640
        );
        assert!(!lock_path(&kube).exists());
    }

    #[test]
    fn rollback_removes_a_kubeconfig_and_dirs_that_did_not_exist() {
        let base = tempfile::tempdir().unwrap();
        let kube = base.path().join("a/b/config");
        let mut j = Journal::default();
        j.snapshot_kubeconfig(&kube).unwrap();
        assert_eq!(
            fs::metadata(base.path().join("a/b"))
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o700
        );
        fs::write(&kube, b"new").unwrap();
        j.rollback();
        assert!(!base.path().join("a").exists());
    }

    #[test]
    fn commit_keeps_the_kubeconfig_private() {
        let base = tempfile::tempdir().unwrap();
        let kube = base.path().join("config");
        let mut j = Journal::default();
        let dir = j.create_run_dir(base.path()).unwrap();
        j.snapshot_kubeconfig(&kube).unwrap();
        fs::write(&kube, b"new").unwrap();
        fs::set_permissions(&kube, fs::Permissions::from_mode(0o644)).unwrap();
        j.commit().unwrap();
        assert!(!dir.exists());
        assert_eq!(
            fs::metadata(&kube).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    #[test]
    fn sweep_removes_only_unlocked_run_dirs() {
        let base = tempfile::tempdir().unwrap();
        let mut live = Journal::default();
        let live_dir = live.create_run_dir(base.path()).unwrap();
        let stale = base.path().join("stackhook-999999-abc");
        fs::create_dir(&stale).unwrap();
        fs::write(stale.join(LOCK), b"").unwrap();
        fs::write(stale.join("gke-token"), b"s").unwrap();
        let unrelated = base.path().join("stackhook-notes");
        fs::create_dir(&unrelated).unwrap();
        assert_eq!(sweep_stale(base.path()), vec![stale.clone()]);
        assert!(live_dir.exists());
        assert!(unrelated.exists());
        live.rollback();
    }
}
