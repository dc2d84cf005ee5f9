//! One run at a time on a kubeconfig: a sibling lock file, held (flock)
//! from before the snapshot until after commit or rollback, so that a run
//! never restores a snapshot over another run's login. A second run waits,
//! saying so, for a bounded time. The file is removed by its holder; a
//! waiter that locked a file already removed starts over.

use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::base::atomic_file;
use crate::base::diagnostic::{Code, Diag};
use crate::base::failure::Failure;
use crate::base::paint::visible_line;
use crate::run::signals;

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
    /// The lock file cannot be opened or locked, or is not a lock file of
    /// this user: `why` ends the sentence "the lock file PATH ...". A run
    /// that went on without the lock could restore its snapshot over
    /// another run's login, so it does not start.
    Refused {
        path: PathBuf,
        why: String,
    },
    /// The lock file cannot be created (its directory is on a read-only
    /// file system), yet the kubeconfig itself can be written (a file
    /// mounted read-write there): a step could change it, and the run
    /// could neither lock it nor put it back (by rename) after a failure.
    ReadOnlyDir {
        path: PathBuf,
    },
    /// A signal came while waiting.
    Interrupted(i32),
    Io(std::io::Error),
}

impl LockError {
    /// Why a run did not start, for a lock it could not take (an I/O
    /// error is the caller's to say: it is not about the lock).
    pub fn failure(self, kubeconfig: &Path, waited: Duration) -> Failure {
        let shown = |p: &Path| visible_line(&p.display().to_string()).into_owned();
        let (message, help) = match self {
            LockError::Busy { path, holder } => (
                format!(
                    "another stackhook run (pid {holder}) held {} for longer than {}",
                    shown(kubeconfig),
                    humantime::format_duration(waited)
                ),
                format!(
                    "nothing ran; retry when it is done, or wait longer with --lock-timeout (its lock: {})",
                    shown(&path)
                ),
            ),
            LockError::Refused { path, why } => (
                format!(
                    "cannot lock the kubeconfig {}: its lock file {} {why}",
                    shown(kubeconfig),
                    shown(&path)
                ),
                "nothing ran. The lock file must be a regular file of this user, in a directory this user can write: another user may have put something there to make runs skip the lock. Remove it (or have its owner remove it), or choose a kubeconfig in a directory of your own with --kubeconfig".to_string(),
            ),
            LockError::ReadOnlyDir { path } => {
                let dir = path.parent().unwrap_or(Path::new("/"));
                (
                    format!(
                        "cannot lock the kubeconfig {}: {}",
                        shown(kubeconfig),
                        read_only_why(dir)
                    ),
                    read_only_help(dir),
                )
            }
            LockError::Interrupted(sig) => {
                let message = format!(
                    "interrupted by {} while waiting for the kubeconfig",
                    signals::name(sig)
                );
                return Failure::Interrupted(sig, vec![Diag::new(Code::RunInterrupted, message)]);
            }
            LockError::Io(e) => {
                let message = format!("cannot lock the kubeconfig {}: {e}", shown(kubeconfig));
                return Failure::Invalid(vec![Diag::new(Code::RunLock, message)]);
            }
        };
        Failure::Invalid(vec![Diag::new(Code::RunLock, message).help(help)])
    }
}

/// Why a writable kubeconfig in the read-only directory `dir` is refused
/// (by preflight, and by the lock should preflight have been passed).
pub fn read_only_why(dir: &Path) -> String {
    format!(
        "its directory {} is on a read-only file system, yet the file itself can be written (a file mounted read-write): a run could neither lock it there nor put it back (by rename) after a failed step",
        visible_line(&dir.display().to_string())
    )
}

pub fn read_only_help(dir: &Path) -> String {
    format!(
        "nothing ran. Mount {} read-write, or point --kubeconfig at a file in a directory this user can write (copy the kubeconfig there)",
        visible_line(&dir.display().to_string())
    )
}

/// Whether this user may write the existing file at `path` (its own file
/// system read-write, its mode allowing), without opening it: opening
/// could block on a FIFO.
pub fn can_write(path: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: a valid NUL-terminated path; access has no other preconditions.
    unsafe { libc::access(c.as_ptr(), libc::W_OK) == 0 }
}

/// The lock file of a kubeconfig: `.NAME.stackhook-lock` beside the file
/// it names, so that two runs reaching one file through different paths
/// (a symlink, a symlinked directory) take the same lock.
pub fn lock_path(kubeconfig: &Path) -> PathBuf {
    let target = atomic_file::final_target(kubeconfig);
    let dir = target
        .parent()
        .and_then(|d| fs::canonicalize(d).ok())
        .or_else(|| kubeconfig.parent().map(Path::to_path_buf))
        .unwrap_or_default();
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    dir.join(format!(".{name}.stackhook-lock"))
}

/// Opens the lock file only if it is a regular file of our own, without
/// following a symlink (another user of a shared directory could point
/// one at a file of ours) and without blocking (nothing stackhook does
/// may wait on a file another user can plant: a FIFO). Whatever else is
/// there refuses the run: another user who could make runs skip the lock
/// (a 0600 file of theirs, which this user cannot open) could have two
/// runs restore over each other's logins. `None`: the file system is
/// read-only (whether the kubeconfig can be written anyway is the
/// caller's to check).
fn open(path: &Path) -> Result<Option<File>, LockError> {
    let refused = |why: String| LockError::Refused {
        path: path.to_path_buf(),
        why,
    };
    let file = match OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
    {
        Ok(f) => f,
        Err(e) => {
            return match e.raw_os_error() {
                Some(libc::EROFS) => Ok(None),
                Some(libc::ELOOP) => Err(refused(not_ours("a symlink"))),
                Some(libc::EISDIR) => Err(refused(not_ours("a directory"))),
                Some(libc::EACCES | libc::EPERM) => Err(refused(format!(
                    "cannot be opened by this user ({e}): a file of another user, an immutable file, or a directory this user cannot write"
                ))),
                _ => Err(refused(format!("cannot be opened: {e}"))),
            };
        }
    };
    let meta = file
        .metadata()
        .map_err(|e| refused(format!("cannot be read: {e}")))?;
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    if !meta.is_file() {
        return Err(refused(not_ours(kind(meta.file_type()))));
    }
    if meta.uid() != me {
        return Err(refused(not_ours(&format!(
            "a file of another user, uid {}",
            meta.uid()
        ))));
    }
    Ok(Some(file))
}

fn not_ours(what: &str) -> String {
    format!("is not a lock file of this user: it is {what}")
}

fn kind(t: fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_char_device() || t.is_block_device() {
        "a device"
    } else {
        "not a regular file"
    }
}

/// Takes the lock of `kubeconfig`, whose directory must exist; `waiting`
/// is told once when another run holds it. `None` when the file system is
/// read-only and the kubeconfig cannot be written there either: no step
/// can change it, so there is nothing to guard.
pub fn acquire(
    kubeconfig: &Path,
    wait: Duration,
    waiting: impl Fn(&str),
) -> Result<Option<Lock>, LockError> {
    let path = lock_path(kubeconfig);
    let deadline = Instant::now().checked_add(wait);
    let mut told = false;
    loop {
        let Some(file) = open(&path)? else {
            if can_write(kubeconfig) {
                return Err(LockError::ReadOnlyDir { path });
            }
            return Ok(None);
        };
        match file.try_lock() {
            Ok(()) => {
                // The holder before us removes the file when done: a lock
                // on a removed file guards nothing.
                if same_file(&file, &path) {
                    let mut lock = Lock { path, file };
                    lock.record_holder();
                    return Ok(Some(lock));
                }
                continue;
            }
            Err(std::fs::TryLockError::WouldBlock) => {}
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(LockError::Refused {
                    path,
                    why: format!("cannot be locked: {e}"),
                });
            }
        }
        let holder = holder_of(&file);
        if deadline.is_some_and(|d| Instant::now() >= d) {
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

/// The holder's pid, read from the lock file this run opened and checked
/// (not by its path again), and only if it is a number: the file is
/// another process's, and its text ends up in a message.
fn holder_of(file: &File) -> String {
    let mut buf = [0u8; 24];
    let n = file.read_at(&mut buf, 0).unwrap_or(0);
    let text = std::str::from_utf8(&buf[..n]).unwrap_or_default().trim();
    match text.parse::<u32>() {
        Ok(pid) => pid.to_string(),
        Err(_) => String::new(),
    }
}

/// Who holds a kubeconfig's lock, as `doctor` tells it: found without
/// taking the lock, creating the file or following a symlink.
#[derive(Debug, PartialEq, Eq)]
pub enum LockState {
    /// No lock file: no run is using the kubeconfig.
    Free,
    /// A run holds it (its pid, when the file says one).
    Held(Option<u32>),
    /// A file that no process holds: left by a run that was killed; the
    /// next run takes it.
    Left(Option<u32>),
    /// Why it cannot be told (a symlink, not a regular file, no /proc).
    Unknown(String),
}

/// The state of `kubeconfig`'s lock. Whether a flock is held is read from
/// /proc/locks (by the file's device and inode), not by trying to take it.
pub fn inspect(kubeconfig: &Path) -> LockState {
    let path = lock_path(kubeconfig);
    let file = match OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(&path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return LockState::Free,
        Err(e) => return LockState::Unknown(format!("{}: {e}", path.display())),
    };
    let meta = match file.metadata() {
        Ok(m) if m.is_file() => m,
        Ok(_) => return LockState::Unknown(format!("{} is not a regular file", path.display())),
        Err(e) => return LockState::Unknown(e.to_string()),
    };
    let pid = holder_of(&file).parse().ok();
    let Ok(locks) = fs::read_to_string("/proc/locks") else {
        return LockState::Unknown("/proc/locks cannot be read".into());
    };
    let dev = format!(
        "{:02x}:{:02x}",
        libc::major(meta.dev()),
        libc::minor(meta.dev())
    );
    let held = holds(&locks, &dev, meta.ino(), pid);
    if held {
        LockState::Held(pid)
    } else {
        LockState::Left(pid)
    }
}

/// Whether /proc/locks (`locks`) has a flock held on the file at device
/// `dev` (`fd:01`) and inode `ino`. A line: `1: FLOCK  ADVISORY  WRITE 4242
/// fd:01:1234 0 EOF`. On an overlay filesystem the device it names may not
/// be the one stat gives: the inode then counts with the pid the lock file
/// holds.
fn holds(locks: &str, dev: &str, ino: u64, pid: Option<u32>) -> bool {
    locks.lines().any(|l| {
        let w: Vec<&str> = l.split_whitespace().collect();
        // `->` marks a process waiting for the lock, not holding it.
        let Some(at) = w
            .iter()
            .position(|x| *x == "FLOCK")
            .filter(|_| !w.contains(&"->"))
        else {
            return false;
        };
        let (Some(lock_pid), Some(id)) = (w.get(at + 3), w.get(at + 4)) else {
            return false;
        };
        let Some((lock_dev, lock_ino)) = id.rsplit_once(':') else {
            return false;
        };
        lock_ino == ino.to_string()
            && (lock_dev == dev || pid.is_some_and(|p| p.to_string() == *lock_pid))
    })
}

fn same_file(file: &File, path: &Path) -> bool {
    match (file.metadata(), fs::symlink_metadata(path)) {
        (Ok(a), Ok(b)) => (a.dev(), a.ino()) == (b.dev(), b.ino()),
        _ => false,
    }
}

impl Lock {
    /// A lock this process holds through a descriptor of the holder's open
    /// file, handed over by the process that took it (recovery.rs): a
    /// flock belongs to the open file, so it stays held while any process
    /// has it open, until one of them releases it.
    pub fn handed_over(path: PathBuf, file: File) -> Lock {
        Lock { path, file }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn file(&self) -> &File {
        &self.file
    }

    fn record_holder(&mut self) {
        // Written over, then cut to length: on ext4 a truncation to zero
        // makes the last close allocate and write out the file
        // (auto_da_alloc), and removing it then frees blocks, which a
        // `discard` mount waits for: 0.1 to 0.3 ms of every run.
        let text = format!("{}\n", std::process::id());
        let _ = self.file.write_all_at(text.as_bytes(), 0);
        let len = text.len() as u64;
        if self.file.metadata().is_ok_and(|m| m.len() > len) {
            let _ = self.file.set_len(len);
        }
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
    fn a_symlink_or_a_file_of_another_user_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let kube = dir.path().join("config");
        let victim = dir.path().join("victim");
        fs::write(&victim, "keep me").unwrap();
        std::os::unix::fs::symlink(&victim, lock_path(&kube)).unwrap();
        assert!(acquire(&kube, Duration::ZERO, |_| {}).is_err());
        assert_eq!(fs::read_to_string(&victim).unwrap(), "keep me");
    }

    /// A symlink is refused as not ours; a FIFO of our own too (it opens
    /// at once, without waiting for a writer, but is not a lock file), and
    /// a directory; any other failure is said as it is.
    #[test]
    fn only_a_regular_file_of_our_own_is_a_lock_file() {
        let dir = tempfile::tempdir().unwrap();
        let kube = dir.path().join("config");
        let lock = lock_path(&kube);
        let why = |r: Result<Option<Lock>, LockError>| match r {
            Err(LockError::Refused { path, why }) => {
                assert_eq!(path, lock);
                why
            }
            other => panic!("{:?}", other.map(|l| l.is_some())),
        };
        std::os::unix::fs::symlink(dir.path().join("victim"), &lock).unwrap();
        let refused = why(acquire(&kube, Duration::ZERO, |_| {}));
        assert_eq!(refused, "is not a lock file of this user: it is a symlink");
        assert!(!dir.path().join("victim").exists());
        fs::remove_file(&lock).unwrap();
        let c = std::ffi::CString::new(lock.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let refused = why(acquire(&kube, Duration::ZERO, |_| {}));
        assert_eq!(refused, "is not a lock file of this user: it is a FIFO");
        fs::remove_file(&lock).unwrap();
        fs::create_dir(&lock).unwrap();
        let refused = why(acquire(&kube, Duration::ZERO, |_| {}));
        assert_eq!(
            refused,
            "is not a lock file of this user: it is a directory"
        );
        match acquire(&dir.path().join("missing/config"), Duration::ZERO, |_| {}) {
            Err(LockError::Refused { why, .. }) => assert!(why.contains("No such file"), "{why}"),
            other => panic!("{:?}", other.map(|l| l.is_some())),
        }
    }

    /// `inspect` tells a held lock from one left behind, and takes none.
    #[test]
    fn inspect_tells_held_from_left_without_locking() {
        let dir = tempfile::tempdir().unwrap();
        let kube = dir.path().join("config");
        assert_eq!(inspect(&kube), LockState::Free);
        let lock = acquire(&kube, Duration::ZERO, |_| {}).unwrap().unwrap();
        assert_eq!(inspect(&kube), LockState::Held(Some(std::process::id())));
        // Inspecting released nothing: a second run still finds it busy.
        assert!(matches!(
            acquire(&kube, Duration::ZERO, |_| {}),
            Err(LockError::Busy { .. })
        ));
        drop(lock);
        assert_eq!(inspect(&kube), LockState::Free);
        fs::write(lock_path(&kube), "42\n").unwrap();
        assert_eq!(inspect(&kube), LockState::Left(Some(42)));
    }

    #[test]
    fn proc_locks_lines_are_read_by_inode_device_and_pid() {
        let locks = "1: POSIX  ADVISORY  WRITE 7 fd:01:99 0 EOF\n\
                     2: FLOCK  ADVISORY  WRITE 42 fd:01:1234 0 EOF\n\
                     2: -> FLOCK  ADVISORY  WRITE 43 fd:01:5678 0 EOF\n";
        assert!(holds(locks, "fd:01", 1234, None));
        assert!(!holds(locks, "fd:02", 1234, None), "another device");
        assert!(holds(locks, "00:2a", 1234, Some(42)), "overlay: the pid");
        assert!(!holds(locks, "fd:01", 5678, Some(43)), "only waiting");
        assert!(!holds(locks, "fd:01", 99, None), "not a flock");
        assert!(!holds(locks, "fd:01", 123, None));
    }

    /// A lock taken on a file that its holder removed meanwhile is no
    /// lock: the path names another file now.
    #[test]
    fn a_file_removed_and_made_anew_is_not_the_same_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.lock");
        fs::write(&path, "").unwrap();
        let file = File::open(&path).unwrap();
        assert!(same_file(&file, &path));
        fs::remove_file(&path).unwrap();
        assert!(!same_file(&file, &path));
        fs::write(&path, "").unwrap();
        assert!(!same_file(&file, &path));
    }

    /// A lock file this user cannot open is refused, not skipped (sysfs
    /// refuses to create a file, even to root, with EACCES).
    #[test]
    fn a_lock_file_that_cannot_be_opened_refuses_the_run() {
        match acquire(Path::new("/sys/config"), Duration::ZERO, |_| {}) {
            Err(LockError::Refused { why, .. }) => {
                assert!(why.starts_with("cannot be opened by this user"), "{why}")
            }
            other => panic!("{:?}", other.map(|l| l.is_some())),
        }
    }

    #[test]
    fn a_link_and_its_target_share_one_lock() {
        let dir = tempfile::tempdir().unwrap();
        let kube = dir.path().join("config");
        fs::write(&kube, "").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&kube, &link).unwrap();
        assert_eq!(lock_path(&kube), lock_path(&link));
        let _held = acquire(&kube, Duration::ZERO, |_| {}).unwrap().unwrap();
        assert!(matches!(
            acquire(&link, Duration::ZERO, |_| {}),
            Err(LockError::Busy { .. })
        ));
    }

    #[test]
    fn a_second_holder_waits_then_gives_up_and_the_file_goes_with_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let kube = dir.path().join("config");
        let first = acquire(&kube, Duration::ZERO, |_| {}).unwrap().unwrap();
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
        let again = acquire(&kube, Duration::ZERO, |_| {}).unwrap().unwrap();
        drop(again);
    }

    #[test]
    fn a_lock_file_left_with_a_longer_holder_says_only_the_new_one() {
        let dir = tempfile::tempdir().unwrap();
        let kube = dir.path().join("config");
        // A crash left the file, holding a pid longer than ours.
        fs::write(lock_path(&kube), "12345678901234567890\n").unwrap();
        let lock = acquire(&kube, Duration::ZERO, |_| {}).unwrap().unwrap();
        let text = fs::read_to_string(lock_path(&kube)).unwrap();
        assert_eq!(text, format!("{}\n", std::process::id()));
        drop(lock);
    }

    #[test]
    fn a_holder_that_is_not_a_pid_is_not_repeated() {
        let dir = tempfile::tempdir().unwrap();
        let kube = dir.path().join("config");
        let first = acquire(&kube, Duration::ZERO, |_| {}).unwrap().unwrap();
        // The holder's file, as another process could leave it.
        fs::write(lock_path(&kube), "\u{1b}[2Jtoken=abc\n").unwrap();
        match acquire(&kube, Duration::ZERO, |_| {}) {
            Err(LockError::Busy { holder, .. }) => assert_eq!(holder, ""),
            other => panic!("{other:?}"),
        }
        drop(first);
    }
}
