//! One run at a time on a kubeconfig: a sibling lock file, held (flock)
//! from before the snapshot until after commit or rollback, so that a run
//! never restores a snapshot over another run's login. A second run waits,
//! saying so, for a bounded time. The file is removed by its holder; a
//! waiter that locked a file already removed starts over.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::signals;

#[derive(Debug)]
pub struct Lock {
    path: PathBuf,
    file: File,
}

#[derive(Debug)]
pub enum LockError {
    /// Another run held it for longer than the wait.
    Busy {
        path: PathBuf,
        holder: String,
    },
    /// A signal came while waiting.
    Interrupted(i32),
    Io(std::io::Error),
}

/// The lock file of a kubeconfig: `.NAME.stackhook-lock` beside it.
pub fn lock_path(kubeconfig: &Path) -> PathBuf {
    let name = kubeconfig
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    kubeconfig.with_file_name(format!(".{name}.stackhook-lock"))
}

/// Takes the lock of `kubeconfig`, whose directory must exist; `waiting`
/// is told once when another run holds it.
pub fn acquire(
    kubeconfig: &Path,
    wait: Duration,
    waiting: impl Fn(&str),
) -> Result<Lock, LockError> {
    let path = lock_path(kubeconfig);
    let deadline = Instant::now() + wait;
    let mut told = false;
    loop {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .mode(0o600)
            .open(&path)
            .map_err(LockError::Io)?;
        match file.try_lock() {
            Ok(()) => {
                // The holder before us removes the file when done: a lock
                // on a removed file guards nothing.
                if same_file(&file, &path) {
                    let mut lock = Lock { path, file };
                    lock.record_holder();
                    return Ok(lock);
                }
                continue;
            }
            Err(std::fs::TryLockError::WouldBlock) => {}
            Err(std::fs::TryLockError::Error(e)) => return Err(LockError::Io(e)),
        }
        let holder = fs::read_to_string(&path)
            .unwrap_or_default()
            .trim()
            .to_string();
        if Instant::now() >= deadline {
            return Err(LockError::Busy { path, holder });
        }
        if !told {
            told = true;
            waiting(&format!(
                "waiting for another stackhook run ({}) that is using {}",
                if holder.is_empty() {
                    "pid unknown".into()
                } else {
                    format!("pid {holder}")
                },
                kubeconfig.display()
            ));
        }
        if signals::sleep(Duration::from_millis(50)) {
            return Err(LockError::Interrupted(
                signals::received().unwrap_or(libc::SIGINT),
            ));
        }
    }
}

fn same_file(file: &File, path: &Path) -> bool {
    match (file.metadata(), fs::metadata(path)) {
        (Ok(a), Ok(b)) => (a.dev(), a.ino()) == (b.dev(), b.ino()),
        _ => false,
    }
}

impl Lock {
    fn record_holder(&mut self) {
        let _ = self.file.set_len(0);
        let _ = writeln!(self.file, "{}", std::process::id());
    }
}

impl Drop for Lock {
    /// Removes the file while still holding the lock, then releases it.
    fn drop(&mut self) {
        // Left behind after a failure to remove it, it is harmless: the
        // next run locks it.
        if same_file(&self.file, &self.path) {
            let _ = fs::remove_file(&self.path);
        }
        let _ = self.file.unlock();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_waits_then_gives_up_and_the_file_goes_with_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let kube = dir.path().join("config");
        let first = acquire(&kube, Duration::ZERO, |_| {}).unwrap();
        assert!(lock_path(&kube).exists());
        let told = std::cell::RefCell::new(Vec::new());
        let second = acquire(&kube, Duration::from_millis(120), |m| {
            told.borrow_mut().push(m.to_string())
        });
        match second {
            Err(LockError::Busy { holder, .. }) => {
                assert_eq!(holder, std::process::id().to_string())
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(told.borrow().len(), 1, "told once: {:?}", told.borrow());
        drop(first);
        assert!(!lock_path(&kube).exists());
        let again = acquire(&kube, Duration::ZERO, |_| {}).unwrap();
        drop(again);
    }
}
