//! The process a caller starts for `stackhook run` stays a small
//! guardian: it forks the worker that does the run, forwards SIGINT,
//! SIGTERM and SIGHUP to it, and when the worker ends, however it ends,
//! kills every process the run left (both are child subreapers, so
//! descendants that escaped their process group are still found). The
//! worker gets SIGTERM when the guardian dies, so a SIGKILL of the process
//! the caller knows still ends the commands and rolls back.
//!
//! The fork happens before any thread exists.

use std::io;

use crate::reaper;
use crate::signals::INTERRUPTS;

/// The signal the worker gets when the guardian dies.
pub const PARENT_DEATH: i32 = libc::SIGTERM;

/// Forks the worker and returns in it; the calling process becomes the
/// guardian and exits with the worker's status. Must be called while the
/// process has one thread. If the fork fails, the run goes on in this
/// process alone (still a subreaper).
pub fn start() {
    // SAFETY: sigset operations on a local set; the mask is restored in
    // the worker below.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    unsafe {
        libc::sigemptyset(&mut set);
        for sig in INTERRUPTS.into_iter().chain([libc::SIGCHLD]) {
            libc::sigaddset(&mut set, sig);
        }
        // Blocked before the fork, so none is lost before the guardian
        // waits for them; the worker unblocks them.
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
    let _ = reaper::become_subreaper();
    let guardian = std::process::id() as i32;
    // SAFETY: this process has one thread, so the child may do anything.
    let pid = unsafe { libc::fork() };
    if pid > 0 {
        std::process::exit(guard(pid, &set));
    }
    if pid == 0 {
        worker_setup(guardian);
    }
    // SAFETY: unblocking, in the worker, what this function blocked.
    unsafe { libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut()) };
}

/// In the worker: leave the caller's process group, die with the
/// guardian, reap orphans, take signals.
fn worker_setup(guardian: i32) {
    // SAFETY: setpgid, prctl and getppid with integer arguments only.
    unsafe {
        // A caller that cancels with SIGKILL to its whole process group
        // (CI runners do) must not kill the worker along with the
        // guardian: the worker would die with no rollback, and the
        // commands, in groups of their own, would outlive the run. In a
        // group of its own the worker gets SIGTERM below instead. The
        // guardian stays in the caller's group and forwards what a
        // terminal sends there.
        libc::setpgid(0, 0);
        libc::prctl(libc::PR_SET_PDEATHSIG, PARENT_DEATH, 0, 0, 0);
        // The guardian may have died before the line above.
        if libc::getppid() != guardian {
            libc::raise(PARENT_DEATH);
        }
    }
    let _ = reaper::become_subreaper();
}

/// The guardian's life: forward interrupts until the worker ends, then
/// end what is left. Returns the exit code.
fn guard(worker: i32, set: &libc::sigset_t) -> i32 {
    let code = loop {
        // SAFETY: sigwaitinfo fills the zeroed siginfo it is given.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        let sig = unsafe { libc::sigwaitinfo(set, &mut info) };
        if INTERRUPTS.contains(&sig) {
            // SAFETY: kill has no memory-safety preconditions.
            unsafe { libc::kill(worker, sig) };
            continue;
        }
        if let Some(code) = worker_ended(worker) {
            break code;
        }
    };
    reaper::end_children();
    code
}

/// The worker's exit code once it has ended (128+N for a signal).
fn worker_ended(worker: i32) -> Option<i32> {
    let mut status = 0;
    // SAFETY: waitpid writes the status it is given.
    let r = unsafe { libc::waitpid(worker, &mut status, libc::WNOHANG) };
    if r == worker {
        if libc::WIFEXITED(status) {
            return Some(libc::WEXITSTATUS(status));
        }
        if libc::WIFSIGNALED(status) {
            return Some(128 + libc::WTERMSIG(status));
        }
    }
    if r < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::ECHILD) {
        return Some(1);
    }
    None
}
