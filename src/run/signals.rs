//! SIGINT, SIGTERM and SIGHUP during a run: forwarded to the running
//! command's process group and remembered, so that the runner rolls back
//! and exits 128+N instead of dying with files left behind. Every signal
//! (SIGCHLD too) also wakes the runner's I/O loop through a pipe, so that
//! it waits on events and never polls on a timer.

use std::io;
use std::os::fd::RawFd;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

use signal_hook::consts::{SIGCHLD, SIGHUP, SIGINT, SIGTERM};

/// The signals that interrupt a run.
pub const INTERRUPTS: [i32; 3] = [SIGINT, SIGTERM, SIGHUP];

static CHILD_GROUP: AtomicI32 = AtomicI32::new(0);
static RECEIVED: AtomicI32 = AtomicI32::new(0);
/// The write end of the wake pipe, for the handlers.
static WAKE_WRITE: AtomicI32 = AtomicI32::new(-1);
/// The read end, once installed.
static WAKE_READ: OnceLock<RawFd> = OnceLock::new();

/// Takes over the three signals (and SIGCHLD) for the rest of the process.
/// A second signal is forwarded too, but cannot cut the rollback short.
pub fn install() -> io::Result<()> {
    if WAKE_READ.get().is_some() {
        return Ok(());
    }
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two descriptors into the array it is given.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) } != 0 {
        return Err(io::Error::last_os_error());
    }
    WAKE_WRITE.store(fds[1], Ordering::SeqCst);
    let _ = WAKE_READ.set(fds[0]);
    for sig in INTERRUPTS {
        // SAFETY: the handler only touches atomics and calls killpg and
        // write, which are async-signal-safe.
        unsafe {
            signal_hook::low_level::register(sig, move || {
                let _ = RECEIVED.compare_exchange(0, sig, Ordering::SeqCst, Ordering::SeqCst);
                let group = CHILD_GROUP.load(Ordering::SeqCst);
                if group > 0 {
                    libc::killpg(group, sig);
                }
                wake();
            })?;
        }
    }
    // SAFETY: as above.
    unsafe { signal_hook::low_level::register(SIGCHLD, wake)? };
    Ok(())
}

/// Async-signal-safe: one byte into the wake pipe (a full pipe is fine,
/// it is readable already).
fn wake() {
    let fd = WAKE_WRITE.load(Ordering::Relaxed);
    if fd >= 0 {
        // SAFETY: writing one byte from a static buffer.
        unsafe { libc::write(fd, b"!".as_ptr().cast(), 1) };
    }
}

/// The descriptor that becomes readable when a signal arrives, if the
/// handlers are installed.
pub fn wake_fd() -> Option<RawFd> {
    WAKE_READ.get().copied()
}

/// Empties the wake pipe (the caller then looks at what changed).
pub fn clear_wake() {
    if let Some(fd) = wake_fd() {
        let mut buf = [0u8; 64];
        // SAFETY: reading into a local buffer of the given size.
        while unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) } > 0 {}
    }
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
    if group > 0 {
        // SAFETY: killpg has no memory-safety preconditions.
        unsafe {
            libc::killpg(group, sig);
        }
    }
}

/// Waits until `fds` (plus the wake pipe) are readable or `until` passes;
/// `revents` of each entry are filled in.
pub fn poll(fds: &mut Vec<libc::pollfd>, until: Option<Instant>) {
    if let Some(fd) = wake_fd() {
        fds.push(libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        });
    }
    let timeout = match until {
        None if wake_fd().is_some() => -1,
        // Without handlers nothing wakes the loop on a child's exit: look
        // again often.
        None => 10,
        Some(t) => {
            let left = t.saturating_duration_since(Instant::now());
            let ms = left.as_nanos().div_ceil(1_000_000).min(i32::MAX as u128) as i32;
            if wake_fd().is_some() { ms } else { ms.min(10) }
        }
    };
    // SAFETY: `fds` is a valid array of pollfd of the given length.
    unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout) };
    clear_wake();
}

/// Sleeps for `d`, returning early (true) when a signal arrives.
pub fn sleep(d: Duration) -> bool {
    let until = Instant::now() + d;
    while received().is_none() && Instant::now() < until {
        poll(&mut Vec::new(), Some(until));
    }
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
