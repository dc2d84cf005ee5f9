//! SIGINT, SIGTERM and SIGHUP during a run: forwarded to the running
//! command's process group and remembered, so that the runner rolls back
//! and exits 128+N instead of dying with files left behind.

use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::Duration;

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};

static CHILD_GROUP: AtomicI32 = AtomicI32::new(0);
static RECEIVED: AtomicI32 = AtomicI32::new(0);
static WAKE: OnceLock<(Mutex<()>, Condvar)> = OnceLock::new();

fn wake() -> &'static (Mutex<()>, Condvar) {
    WAKE.get_or_init(|| (Mutex::new(()), Condvar::new()))
}

/// Takes over the three signals for the rest of the process. A second
/// signal is forwarded too, but cannot cut the rollback short.
pub fn install() -> std::io::Result<()> {
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])?;
    std::thread::spawn(move || {
        for sig in signals.forever() {
            let _ = RECEIVED.compare_exchange(0, sig, Ordering::SeqCst, Ordering::SeqCst);
            let group = CHILD_GROUP.load(Ordering::SeqCst);
            if group > 0 {
                signal_group(group, sig);
            }
            let (lock, cvar) = wake();
            let _guard = lock.lock();
            cvar.notify_all();
        }
    });
    Ok(())
}

/// The first signal received, if any.
pub fn received() -> Option<i32> {
    match RECEIVED.load(Ordering::SeqCst) {
        0 => None,
        s => Some(s),
    }
}

pub fn set_child_group(group: i32) {
    CHILD_GROUP.store(group, Ordering::SeqCst);
}

pub fn clear_child_group() {
    CHILD_GROUP.store(0, Ordering::SeqCst);
}

/// Sends `sig` to every process of a group; a group that is already gone
/// is not an error.
pub fn signal_group(group: i32, sig: i32) {
    // SAFETY: killpg has no memory-safety preconditions.
    unsafe {
        libc::killpg(group, sig);
    }
}

/// Sleeps for `d`, returning early (true) when a signal arrives.
pub fn sleep(d: Duration) -> bool {
    let (lock, cvar) = wake();
    let guard = lock.lock().unwrap_or_else(|e| e.into_inner());
    if received().is_some() {
        return true;
    }
    let _ = cvar
        .wait_timeout_while(guard, d, |_| received().is_none())
        .unwrap_or_else(|e| e.into_inner());
    received().is_some()
}

pub fn name(sig: i32) -> &'static str {
    match sig {
        SIGINT => "SIGINT",
        SIGTERM => "SIGTERM",
        SIGHUP => "SIGHUP",
        libc::SIGKILL => "SIGKILL",
        _ => "a signal",
    }
}
