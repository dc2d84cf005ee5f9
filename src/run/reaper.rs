//! Ending every process a command leaves behind, including those that
//! left its process group (`setsid`, a double fork). The runner is a child
//! subreaper: an orphan among its descendants is handed to it instead of
//! init, so it stays a child that can be found in /proc and ended. This
//! needs no privilege, cgroup or namespace.

use std::io;

/// Makes this process the reaper of its orphaned descendants.
pub fn become_subreaper() -> io::Result<()> {
    // SAFETY: prctl with integer arguments only.
    if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Whether this process has any child, running or not yet reaped. One
/// system call, and reaps nothing.
pub fn has_children() -> bool {
    // SAFETY: waitid fills the zeroed siginfo it is given; WNOWAIT leaves
    // every child as it is.
    unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        libc::waitid(
            libc::P_ALL,
            0,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        ) == 0
    }
}

/// Whether `pid`, a child, has exited (it is not reaped).
pub fn has_exited(pid: i32) -> bool {
    // SAFETY: as in `has_children`.
    unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        let r = libc::waitid(
            libc::P_PID,
            pid as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        );
        r != 0 || info.si_pid() != 0
    }
}

/// This process's children: from /proc/self/task/*/children, or by
/// reading every process's parent where the kernel lacks that file.
pub fn children() -> Vec<i32> {
    let mut kids = Vec::new();
    let mut listed = false;
    if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
        for task in tasks.flatten() {
            if let Ok(text) = std::fs::read_to_string(task.path().join("children")) {
                listed = true;
                kids.extend(
                    text.split_whitespace()
                        .filter_map(|p| p.parse::<i32>().ok()),
                );
            }
        }
    }
    if !listed || kids.is_empty() && has_children() {
        kids = scan_proc();
    }
    kids
}

/// Every process whose parent is this one, from /proc/PID/stat.
fn scan_proc() -> Vec<i32> {
    let me = std::process::id() as i32;
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            // The fields after the command name, which may hold spaces.
            let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
            rest.split_whitespace().nth(1).and_then(|p| p.parse().ok()) == Some(me)
        })
        .collect()
}

/// A process this one may not signal, so cannot end: another user's (a
/// command run with sudo), which it stopped waiting for.
#[derive(Debug)]
pub struct Refused {
    pub pid: i32,
    /// Its owner, if it could still be seen.
    pub uid: Option<u32>,
    pub error: io::Error,
}

impl Refused {
    /// `pid 123 (user 0): Operation not permitted (os error 1)`.
    pub fn describe(&self) -> String {
        let user = self.uid.map_or("?".to_string(), |u| u.to_string());
        format!("pid {} (user {user}): {}", self.pid, self.error)
    }
}

/// Whether `pid`, a child that has not exited, refuses signals from this
/// process (EPERM): the process a command became with sudo.
pub fn refuses(pid: i32) -> Option<Refused> {
    if has_exited(pid) {
        return None;
    }
    // SAFETY: kill with signal 0 only checks permission and existence.
    if unsafe { libc::kill(pid, 0) } == 0 {
        return None;
    }
    let error = io::Error::last_os_error();
    (error.raw_os_error() == Some(libc::EPERM)).then(|| Refused {
        pid,
        uid: owner(pid),
        error,
    })
}

fn owner(pid: i32) -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(format!("/proc/{pid}"))
        .ok()
        .map(|m| m.uid())
}

/// Sends `sig` to a child and, if it leads a process group of its own (it
/// left ours with setsid or setpgid), to that whole group.
fn signal_child(pid: i32, sig: i32) {
    // SAFETY: kill, killpg and getpgid have no memory-safety preconditions.
    unsafe {
        if libc::getpgid(pid) == pid {
            libc::killpg(pid, sig);
        }
        libc::kill(pid, sig);
    }
}

/// Sends `sig` to every child but `except` (the command itself, which its
/// group signal reaches).
pub fn signal_children(sig: i32, except: i32) {
    if !has_children() {
        return;
    }
    for pid in children().into_iter().filter(|p| *p != except) {
        signal_child(pid, sig);
    }
}

/// Kills and reaps every child until none is left; the orphans of each
/// come back as children and are ended in turn. Only for when no child
/// is still wanted (no `std::process::Child` is waiting to be reaped).
/// A child that may not be signalled (another user's) is not waited for,
/// which would last as long as it likes: it is returned instead.
pub fn end_children() -> Vec<Refused> {
    let mut refused: Vec<Refused> = Vec::new();
    while has_children() {
        let kids: Vec<i32> = children()
            .into_iter()
            .filter(|p| refused.iter().all(|r| r.pid != *p))
            .collect();
        for &pid in &kids {
            signal_child(pid, libc::SIGKILL);
        }
        for &pid in &kids {
            if let Some(r) = refuses(pid) {
                refused.push(r);
                continue;
            }
            // SAFETY: reaping a child we just killed.
            unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
        }
        if kids.is_empty() {
            // Listed nowhere yet: a zombie that is being handed over; or
            // only refused children are left, and one may have ended.
            // SAFETY: reaping any child that has ended.
            let reaped = unsafe { libc::waitpid(-1, std::ptr::null_mut(), libc::WNOHANG) };
            if reaped <= 0 && !refused.is_empty() {
                break;
            }
        }
    }
    refused
}
