//! The process a caller starts for `stackhook run` stays a small
//! guardian: it forks the worker that does the run, forwards SIGINT,
//! SIGTERM and SIGHUP to it, and when the worker ends, however it ends,
//! kills every process the run left (both are child subreapers, so
//! descendants that escaped their process group are still found). The
//! worker gets SIGTERM when the guardian dies, so a SIGKILL of the process
//! the caller knows still ends the commands and rolls back. A worker that
//! dies before its journal is finished (SIGKILL, the kernel's OOM killer)
//! leaves the rollback to the guardian, which holds the kubeconfig's lock
//! until it is done (recovery.rs) and says in one line what it did.
//!
//! The fork happens before any thread exists.

use std::io::{self, Write};
use std::panic::AssertUnwindSafe;

use crate::base::paint::visible_line;
use crate::base::timeline;
use crate::run::reaper;
use crate::run::recovery::{self, Receiver};
use crate::run::rollback::{self, Recovered};
use crate::run::signals::{self, INTERRUPTS};

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
    // Without it, the run goes on as before: the next run sweeps what a
    // killed worker leaves.
    let channel = recovery::pair().ok();
    // SAFETY: this process has one thread, so the child may do anything.
    let pid = unsafe { libc::fork() };
    if pid > 0 {
        let receiver = channel.map(|(receiver, _)| receiver);
        std::process::exit(guard(pid, &set, receiver));
    }
    if pid == 0 {
        worker_setup(guardian);
        if let Some((_, channel)) = channel {
            recovery::keep(channel);
        }
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
        // Out of the terminal's foreground group, a write to the terminal
        // (the steps' output, an error) would stop the worker under `stty
        // tostop`, for good: the guardian does not see stops. Ignored, the
        // write goes through. Commands write to pipes; one that opens
        // /dev/tty itself inherits the ignored signal and writes too.
        libc::signal(libc::SIGTTOU, libc::SIG_IGN);
        libc::prctl(libc::PR_SET_PDEATHSIG, PARENT_DEATH, 0, 0, 0);
        // The guardian may have died before the line above.
        if libc::getppid() != guardian {
            libc::raise(PARENT_DEATH);
        }
    }
    let _ = reaper::become_subreaper();
}

/// The guardian's life: forward interrupts until the worker ends, then
/// end what is left and finish the worker's rollback if it could not.
/// Returns the exit code.
fn guard(worker: i32, set: &libc::sigset_t, handover: Option<Receiver>) -> i32 {
    let ended = loop {
        // SAFETY: sigwaitinfo fills the zeroed siginfo it is given.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        let sig = unsafe { libc::sigwaitinfo(set, &mut info) };
        if INTERRUPTS.contains(&sig) {
            // SAFETY: kill has no memory-safety preconditions.
            unsafe { libc::kill(worker, sig) };
            continue;
        }
        if let Some(ended) = worker_ended(worker) {
            break ended;
        }
    };
    timeline::mark("worker exited");
    // What may not be ended (another user's) is not waited for: a worker
    // that ended on its own has said so already.
    let left = reaper::end_children();
    // Only now, with no command left to write it, is the kubeconfig put
    // back. Whatever happens there, the exit code is the worker's.
    let recovered = handover.and_then(|h| {
        std::panic::catch_unwind(AssertUnwindSafe(|| rollback::recover(h.receive())))
            .unwrap_or_else(|_| {
                Some(Recovered {
                    kubeconfig: None,
                    problems: vec!["the guardian failed while rolling back".into()],
                })
            })
    });
    if let Some(line) = what_happened(ended, recovered, &left) {
        let _ = io::stderr().write_all(line.as_bytes());
    }
    timeline::mark("guardian done");
    ended.code()
}

#[derive(Clone, Copy, Debug)]
enum Ended {
    Exited(i32),
    Killed(i32),
}

impl Ended {
    /// The exit code (128+N for a signal).
    fn code(self) -> i32 {
        match self {
            Ended::Exited(code) => code,
            Ended::Killed(sig) => 128 + sig,
        }
    }
}

/// How the worker ended, once it has.
fn worker_ended(worker: i32) -> Option<Ended> {
    let mut status = 0;
    // SAFETY: waitpid writes the status it is given.
    let r = unsafe { libc::waitpid(worker, &mut status, libc::WNOHANG) };
    if r == worker {
        if libc::WIFEXITED(status) {
            return Some(Ended::Exited(libc::WEXITSTATUS(status)));
        }
        if libc::WIFSIGNALED(status) {
            return Some(Ended::Killed(libc::WTERMSIG(status)));
        }
    }
    if r < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::ECHILD) {
        return Some(Ended::Exited(1));
    }
    None
}

/// The line for the log when the worker was killed, or did not finish its
/// rollback: what the guardian did. Paths only, never a secret.
fn what_happened(
    ended: Ended,
    recovered: Option<Recovered>,
    left: &[reaper::Refused],
) -> Option<String> {
    let how = match ended {
        Ended::Killed(sig) if sig == libc::SIGKILL || INTERRUPTS.contains(&sig) => {
            format!("the run was killed ({})", signals::name(sig))
        }
        Ended::Killed(sig) => format!("the run was killed (signal {sig})"),
        Ended::Exited(code) if recovered.is_some() => {
            format!("the run ended (exit {code}) before it had rolled back")
        }
        Ended::Exited(_) => return None,
    };
    let what = match recovered {
        None => "nothing was left to roll back".to_string(),
        Some(r) if r.problems.is_empty() => match r.kubeconfig {
            Some(path) => format!(
                "rolled back: temp files removed, {} restored",
                path.display()
            ),
            None => "rolled back: temp files removed".to_string(),
        },
        Some(r) => format!("rollback incomplete: {}", r.problems.join("; ")),
    };
    // One line that shows what a path holds, whatever it holds.
    let mut line = format!("stackhook: {how}; {what}");
    if !left.is_empty() {
        let left: Vec<String> = left.iter().map(reaper::Refused::describe).collect();
        line.push_str(&format!(
            "; left running, as it may not be signalled: {}",
            left.join(", ")
        ));
    }
    Some(visible_line(&line).into_owned() + "\n")
}
