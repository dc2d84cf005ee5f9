//! The run's journal: what it created or changed (its private temp
//! directory, the kubeconfig and the directories made for it), and a guard
//! that undoes all of it unless the run commits. Secrets go first: the temp
//! files are removed before the kubeconfig is restored. The kubeconfig is
//! locked from before its snapshot until after commit or rollback, so that
//! a run only ever restores what it changed itself.
//!
//! The journal is handed over to the guardian as it is made (recovery.rs):
//! the run's directory and the kubeconfig's lock, then a record of the
//! kubeconfig's snapshot, a file in the run's directory that stays until
//! the kubeconfig is restored. A worker that dies before its journal is
//! finished leaves that to its guardian, which `recover`s the journal and
//! rolls it back with this same code.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::Write;
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::base::atomic_file;
use crate::base::bounded_file::{self, KUBECONFIG_CAP, Refused};
use crate::run::lock::{self, Lock, LockError};
use crate::run::recovery::{Channel, Handover, Held};
use crate::run::snapshot::Snapshot;

const RUN_DIR_PREFIX: &str = "stackhook-";
/// Names no temp file can have (theirs never start with a dot).
const LOCK: &str = ".lock";
const RECORD: &str = ".kubeconfig-record";

#[derive(Default)]
pub struct Journal {
    run_dir: Option<RunDir>,
    kubeconfig: Option<Kubeconfig>,
    committed: bool,
    /// Where the journal is handed over to as it is made.
    guardian: Option<&'static Channel>,
}

struct RunDir {
    path: PathBuf,
    /// Held (flock) for the whole run: a directory whose lock can be taken
    /// belongs to a run that is gone, whatever its pid says.
    lock: File,
}

/// The record is this, but its lock.
#[derive(Serialize, Deserialize)]
struct Kubeconfig {
    snapshot: Snapshot,
    /// Released (and its file removed) after the restore or commit.
    #[serde(skip)]
    lock: Option<Lock>,
    /// Whether kubectl's own lock file existed before the run.
    kubectl_lock_existed: bool,
    /// Directories created to hold the kubeconfig, deepest last (UTF-8,
    /// like the kubeconfig's path).
    created_dirs: Vec<PathBuf>,
}

impl Journal {
    /// A journal handed over to `guardian` as it is made.
    pub fn handed_over_to(guardian: Option<&'static Channel>) -> Journal {
        Journal {
            run_dir: None,
            kubeconfig: None,
            committed: false,
            guardian,
        }
    }

    /// Creates the run's private directory (0700) under `base`.
    pub fn create_run_dir(&mut self, base: &Path) -> std::io::Result<PathBuf> {
        let dir = tempfile::Builder::new()
            .prefix(&format!("{RUN_DIR_PREFIX}{}-", std::process::id()))
            .permissions(fs::Permissions::from_mode(0o700))
            .tempdir_in(base)?
            .keep();
        // The lock file appears under its name already locked: another
        // run's sweep that found it unlocked, between its creation and its
        // flock, would take this live directory for a killed run's and
        // remove it. So it is made and locked under another name, then
        // renamed (a flock belongs to the file, not its name).
        let unnamed = dir.join(".lock-new");
        let lock = OpenOptions::new()
            .create_new(true)
            .write(true)
            .mode(0o600)
            .open(&unnamed)?;
        lock.try_lock()
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        fs::rename(&unnamed, dir.join(LOCK))?;
        let run_dir = RunDir {
            path: dir.clone(),
            lock,
        };
        let handed = self.guardian.map_or(Ok(()), |g| {
            g.hand_over(Held::RunDir, &run_dir.path, run_dir.lock.as_fd())
        });
        self.run_dir = Some(run_dir);
        handed?;
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

    /// Locks the kubeconfig (waiting up to `wait` for another run) and
    /// records it as it is, creating its directory (0700) when missing.
    pub fn take_kubeconfig(
        &mut self,
        path: &Path,
        wait: Duration,
        waiting: impl Fn(&str),
    ) -> Result<(), LockError> {
        let created_dirs = create_dirs(path).map_err(LockError::Io)?;
        // Recorded before anything can fail, so that a rollback removes them.
        let lock = match lock::acquire(path, wait, waiting) {
            Ok(l) => l,
            Err(e) => {
                remove_dirs(&created_dirs);
                return Err(e);
            }
        };
        let snapshot = match Snapshot::take(path) {
            Ok(s) => s,
            Err(e) => {
                drop(lock);
                remove_dirs(&created_dirs);
                return Err(LockError::Io(e));
            }
        };
        self.kubeconfig = Some(Kubeconfig {
            snapshot,
            lock,
            kubectl_lock_existed: kubectl_lock(path).exists(),
            created_dirs,
        });
        // A run its guardian could not finish for does not start.
        self.hand_over_kubeconfig().map_err(LockError::Io)
    }

    /// Hands the kubeconfig's lock to the guardian, then records the rest
    /// where the guardian looks for it. In that order: a guardian that
    /// finds the record holds the lock.
    fn hand_over_kubeconfig(&self) -> std::io::Result<()> {
        let (Some(guardian), Some(k)) = (self.guardian, &self.kubeconfig) else {
            return Ok(());
        };
        if let Some(lock) = &k.lock {
            guardian.hand_over(Held::KubeconfigLock, lock.path(), lock.file().as_fd())?;
        }
        let record = serde_json::to_vec(k).map_err(std::io::Error::other)?;
        self.write_tempfile(RECORD, &record)?;
        Ok(())
    }

    /// The run succeeded: temp files go, the kubeconfig stays (mode 0600 if
    /// the run wrote it).
    pub fn commit(mut self) -> std::io::Result<()> {
        self.committed = true;
        self.finish();
        if let Some(k) = &mut self.kubeconfig {
            let path = atomic_file::final_target(k.snapshot.path());
            let result = if k.snapshot.changed() && path.exists() {
                fs::set_permissions(&path, fs::Permissions::from_mode(0o600))
            } else {
                Ok(())
            };
            k.lock.take();
            result?;
        }
        Ok(())
    }

    /// Undoes the run; returns what could not be undone.
    pub fn rollback(&mut self) -> Vec<String> {
        self.committed = true;
        let mut problems = Vec::new();
        self.remove_temp_files();
        if let Some(mut k) = self.kubeconfig.take() {
            let path = k.snapshot.path().to_path_buf();
            if let Err(e) = k.snapshot.restore() {
                problems.push(format!("could not restore {}: {e}", path.display()));
            }
            // A command killed mid-write leaves kubectl's lock behind, which
            // would make every later kubectl call fail.
            if !k.kubectl_lock_existed {
                let _ = fs::remove_file(kubectl_lock(&path));
            }
            self.finish();
            k.lock.take();
            remove_dirs(&k.created_dirs);
        }
        self.finish();
        problems
    }

    /// Everything in the run's directory but its lock and the record.
    fn remove_temp_files(&self) {
        let Some(entries) = self.run_dir().and_then(|d| fs::read_dir(d).ok()) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            if name == LOCK || name == RECORD {
                continue;
            }
            let _ = if entry.file_type().is_ok_and(|t| t.is_dir()) {
                fs::remove_dir_all(entry.path())
            } else {
                fs::remove_file(entry.path())
            };
        }
    }

    /// The run's directory goes, and the guardian learns that nothing is
    /// left to roll back. Only then may the kubeconfig's lock go: the
    /// guardian restores only what it holds the lock of.
    fn finish(&mut self) {
        if let Some(dir) = self.run_dir.take() {
            let _ = fs::remove_dir_all(&dir.path);
        }
        if let Some(guardian) = self.guardian.take() {
            guardian.done();
        }
    }
}

/// What the guardian did for a worker that died before its journal was
/// finished.
#[derive(Debug)]
pub struct Recovered {
    /// The kubeconfig it restored, if the run had taken one.
    pub kubeconfig: Option<PathBuf>,
    /// What could not be undone.
    pub problems: Vec<String>,
}

/// In the guardian, once the worker has ended and no command is left:
/// rolls back the journal the worker handed over, unless the worker
/// finished it. `None` when nothing was left to do.
pub fn recover(handover: Handover) -> Option<Recovered> {
    let (path, dir_lock) = handover.run_dir?;
    if handover.done || !path.is_dir() {
        return None;
    }
    let mut problems = Vec::new();
    let mut kubeconfig = read_record(&path.join(RECORD)).unwrap_or_else(|e| {
        let kind = "could not read the record of the kubeconfig in";
        problems.push(format!("{kind} {}: {e}", path.display()));
        None
    });
    match (&mut kubeconfig, handover.kubeconfig_lock) {
        (Some(k), lock) => {
            k.lock = lock.map(|(lock_path, fd)| Lock::handed_over(lock_path, File::from(fd)));
        }
        // The record is written right after the lock is handed over: a
        // lock without one means the worker died in between (nothing ran
        // yet) or a step removed it. Either way, say it.
        (None, Some((lock_path, _))) if problems.is_empty() => problems.push(format!(
            "no record of the kubeconfig locked by {} was found: it was not checked",
            lock_path.display()
        )),
        (None, _) => {}
    }
    let restored = kubeconfig.as_ref().map(|k| k.snapshot.path().to_path_buf());
    let mut journal = Journal {
        run_dir: Some(RunDir {
            path,
            lock: File::from(dir_lock),
        }),
        kubeconfig,
        committed: false,
        guardian: None,
    };
    problems.extend(journal.rollback());
    Some(Recovered {
        kubeconfig: restored,
        problems,
    })
}

/// `None`: the worker died before it recorded the kubeconfig (before any
/// step ran). The error never quotes the record, which holds the
/// kubeconfig's bytes.
fn read_record(path: &Path) -> std::io::Result<Option<Kubeconfig>> {
    // Without blocking, and bounded: a step could have put a FIFO there,
    // and the guardian, holding the kubeconfig's lock, would wait for a
    // writer for ever. A snapshot's byte takes at most 4 characters ("255,").
    match bounded_file::read(path, 4 * KUBECONFIG_CAP + (1 << 20)) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|_| std::io::Error::other("not a record stackhook wrote")),
        Err(r) if r.is_not_found() => Ok(None),
        Err(Refused::Io(e)) => Err(e),
        Err(r) => Err(std::io::Error::other(r.to_string())),
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

/// kubectl's own lock file beside the kubeconfig.
fn kubectl_lock(kubeconfig: &Path) -> PathBuf {
    let mut s = kubeconfig.as_os_str().to_owned();
    s.push(".lock");
    PathBuf::from(s)
}

/// Creates the missing directories above `path` (0700); returns them,
/// deepest last.
fn create_dirs(path: &Path) -> std::io::Result<Vec<PathBuf>> {
    let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) else {
        return Ok(Vec::new());
    };
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
    Ok(missing)
}

fn remove_dirs(created: &[PathBuf]) {
    for dir in created.iter().rev() {
        let _ = fs::remove_dir(dir);
    }
}

/// Removes run directories under `base` left by runs that were killed
/// (SIGKILL, power loss): their lock is free. Returns what was removed.
///
/// `base` may be shared (/tmp), and another user can put anything there
/// under a name like ours: only a directory of this user that no other
/// can write is looked into, and its lock file is opened without
/// blocking (a FIFO would wait for a writer for ever, and hang every
/// run) and only kept if it is a regular file of this user.
pub fn sweep_stale(base: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(base) else {
        return Vec::new();
    };
    let mut removed = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if !entry
            .file_name()
            .as_bytes()
            .starts_with(RUN_DIR_PREFIX.as_bytes())
            || !is_private_dir_of_ours(&path)
        {
            continue;
        }
        let Some(lock) = open_file_of_ours(&path.join(LOCK)) else {
            continue;
        };
        if lock.try_lock().is_ok() {
            drop(lock);
            // Never follows a symlink in it, nor one put at its place.
            if fs::remove_dir_all(&path).is_ok() {
                removed.push(path);
            }
        }
    }
    removed
}

fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() }
}

/// A directory itself (not a symlink to one), of this user, that no
/// other user can write into.
fn is_private_dir_of_ours(path: &Path) -> bool {
    fs::symlink_metadata(path)
        .is_ok_and(|m| m.file_type().is_dir() && m.uid() == euid() && m.mode() & 0o022 == 0)
}

/// The regular file of this user at `path`, opened for reading without
/// blocking or following a symlink.
fn open_file_of_ours(path: &Path) -> Option<File> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW | libc::O_NOCTTY)
        .open(path)
        .ok()?;
    let meta = file.metadata().ok()?;
    (meta.is_file() && meta.uid() == euid()).then_some(file)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::recovery::{self, Receiver};

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
        j.take_kubeconfig(&kube, Duration::ZERO, |_| {}).unwrap();
        fs::write(&kube, b"after").unwrap();
        fs::write(kubectl_lock(&kube), b"").unwrap();
        drop(j);
        assert!(!dir.exists());
        assert_eq!(fs::read(&kube).unwrap(), b"before");
        assert_eq!(
            fs::metadata(&kube).unwrap().permissions().mode() & 0o777,
            0o640
        );
        assert!(!kubectl_lock(&kube).exists());
    }

    #[test]
    fn rollback_removes_a_kubeconfig_and_dirs_that_did_not_exist() {
        let base = tempfile::tempdir().unwrap();
        let kube = base.path().join("a/b/config");
        let mut j = Journal::default();
        j.take_kubeconfig(&kube, Duration::ZERO, |_| {}).unwrap();
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
        j.take_kubeconfig(&kube, Duration::ZERO, |_| {}).unwrap();
        fs::write(&kube, b"new").unwrap();
        fs::set_permissions(&kube, fs::Permissions::from_mode(0o644)).unwrap();
        j.commit().unwrap();
        assert!(!dir.exists());
        assert_eq!(
            fs::metadata(&kube).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    /// A journal handed over to a guardian, on a kubeconfig that does not
    /// exist yet.
    fn handed_over(base: &Path) -> (Journal, &'static Channel, Receiver, PathBuf) {
        let (receiver, channel) = recovery::pair().unwrap();
        let channel: &'static Channel = Box::leak(Box::new(channel));
        let kube = base.join("a/config");
        let mut j = Journal::handed_over_to(Some(channel));
        j.create_run_dir(base).unwrap();
        j.take_kubeconfig(&kube, Duration::ZERO, |_| {}).unwrap();
        (j, channel, receiver, kube)
    }

    #[test]
    fn the_guardian_rolls_back_the_journal_of_a_worker_that_died() {
        let base = tempfile::tempdir().unwrap();
        let (j, _, receiver, kube) = handed_over(base.path());
        let dir = j.run_dir().unwrap().to_path_buf();
        j.write_tempfile("token", b"s3cret").unwrap();
        fs::write(&kube, b"half-written: [").unwrap();
        // The worker dies: nothing of its own rollback runs.
        std::mem::forget(j);
        let recovered = recover(receiver.receive()).unwrap();
        assert!(recovered.problems.is_empty(), "{:?}", recovered.problems);
        assert_eq!(recovered.kubeconfig, Some(kube));
        assert!(!dir.exists());
        // The kubeconfig, its lock file and the directory made for them.
        assert!(!base.path().join("a").exists());
    }

    /// A step that removed the record leaves the guardian a lock and no
    /// snapshot: it says the kubeconfig was not checked, not "restored".
    #[test]
    fn a_missing_record_is_said() {
        let base = tempfile::tempdir().unwrap();
        let (j, _, receiver, kube) = handed_over(base.path());
        fs::write(&kube, b"half-written: [").unwrap();
        fs::remove_file(j.run_dir().unwrap().join(RECORD)).unwrap();
        std::mem::forget(j);
        let recovered = recover(receiver.receive()).unwrap();
        assert_eq!(recovered.kubeconfig, None);
        assert!(
            recovered
                .problems
                .iter()
                .any(|p| p.contains("no record of the kubeconfig")),
            "{:?}",
            recovered.problems
        );
    }

    /// A record that cannot be read is said as that, once: not also as
    /// missing. One a step replaced with a FIFO is not waited on (bounded
    /// here: on a hang, the FIFO's other end is opened to free it).
    #[test]
    fn an_unreadable_record_is_said_once() {
        for corrupt in [
            |record: &Path| fs::write(record, b"{not json").unwrap(),
            |record: &Path| {
                fs::remove_file(record).unwrap();
                fs::create_dir(record).unwrap();
            },
            |record: &Path| {
                fs::remove_file(record).unwrap();
                let c = std::ffi::CString::new(record.to_str().unwrap()).unwrap();
                // SAFETY: a valid NUL-terminated path.
                assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
            },
        ] {
            let base = tempfile::tempdir().unwrap();
            let (j, _, receiver, _) = handed_over(base.path());
            let record = j.run_dir().unwrap().join(RECORD);
            corrupt(&record);
            std::mem::forget(j);
            let (sender, result) = std::sync::mpsc::channel();
            let handover = receiver.receive();
            std::thread::spawn(move || sender.send(recover(handover)));
            let recovered = result.recv_timeout(Duration::from_secs(60));
            if recovered.is_err() {
                let _ = OpenOptions::new()
                    .write(true)
                    .custom_flags(libc::O_NONBLOCK)
                    .open(&record);
            }
            let recovered = recovered.expect("the guardian hung on the record").unwrap();
            assert_eq!(recovered.problems.len(), 1, "{:?}", recovered.problems);
            assert!(recovered.problems[0].contains("could not read the record"));
        }
    }

    #[test]
    fn nothing_is_recovered_of_a_journal_that_was_finished() {
        let base = tempfile::tempdir().unwrap();
        let (j, _, receiver, kube) = handed_over(base.path());
        fs::write(&kube, b"login").unwrap();
        j.commit().unwrap();
        assert!(recover(receiver.receive()).is_none());
        assert_eq!(fs::read(&kube).unwrap(), b"login");
        // Told it is done, the guardian leaves even a directory that could
        // not be removed.
        let base = tempfile::tempdir().unwrap();
        let (j, channel, receiver, kube) = handed_over(base.path());
        fs::write(&kube, b"login").unwrap();
        channel.done();
        std::mem::forget(j);
        assert!(recover(receiver.receive()).is_none());
        assert_eq!(fs::read(&kube).unwrap(), b"login");
    }

    /// Another run's sweep never removes a live run's directory, however
    /// the two interleave (the lock file only ever appears locked).
    #[test]
    fn a_sweep_beside_runs_being_set_up_leaves_them() {
        let base = tempfile::tempdir().unwrap();
        let stop = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|scope| {
            let sweeper = scope.spawn(|| {
                let mut swept = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    swept += sweep_stale(base.path()).len();
                }
                swept
            });
            let mut lost = Vec::new();
            for _ in 0..2000 {
                let mut j = Journal::default();
                match j.create_run_dir(base.path()) {
                    Ok(dir) if dir.join(LOCK).exists() => {}
                    other => lost.push(format!("{other:?}")),
                }
                j.rollback();
            }
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
            let swept = sweeper.join().unwrap();
            assert!(lost.is_empty() && swept == 0, "{swept} swept: {lost:?}");
        });
    }

    /// A lock file that is not a regular file of this user (a FIFO would
    /// block the open for ever) and a directory others can write into
    /// are left, not waited on.
    #[test]
    fn sweep_waits_on_nothing_and_leaves_what_others_can_plant_into() {
        let base = tempfile::tempdir().unwrap();
        let fifo_dir = base.path().join("stackhook-1-fifo");
        fs::create_dir(&fifo_dir).unwrap();
        let c = std::ffi::CString::new(fifo_dir.join(LOCK).to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let shared = base.path().join("stackhook-1-shared");
        fs::create_dir(&shared).unwrap();
        fs::write(shared.join(LOCK), b"").unwrap();
        fs::set_permissions(&shared, fs::Permissions::from_mode(0o770)).unwrap();
        let stale = base.path().join("stackhook-1-stale");
        fs::create_dir(&stale).unwrap();
        fs::set_permissions(&stale, fs::Permissions::from_mode(0o700)).unwrap();
        fs::write(stale.join(LOCK), b"").unwrap();
        // Bounded: on a hang, the FIFO's other end is opened to free it.
        let (sender, receiver) = std::sync::mpsc::channel();
        let swept = base.path().to_path_buf();
        std::thread::spawn(move || sender.send(sweep_stale(&swept)));
        let removed = receiver.recv_timeout(Duration::from_secs(60));
        if removed.is_err() {
            let _ = OpenOptions::new()
                .write(true)
                .custom_flags(libc::O_NONBLOCK)
                .open(fifo_dir.join(LOCK));
        }
        assert_eq!(removed.expect("the sweep hung on a FIFO"), vec![stale]);
        assert!(fifo_dir.join(LOCK).exists() && shared.join(LOCK).exists());
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
        // Another program's directory with a lock file of the same name.
        let foreign = base.path().join("other-tool");
        fs::create_dir(&foreign).unwrap();
        fs::write(foreign.join(LOCK), b"").unwrap();
        assert_eq!(sweep_stale(base.path()), vec![stale.clone()]);
        assert!(live_dir.exists());
        assert!(unrelated.exists());
        assert!(foreign.exists());
        live.rollback();
    }
}
