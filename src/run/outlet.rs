//! stackhook's own stdout and stderr as a command's output goes to them:
//! written without waiting for their reader past the step's deadline, so
//! that a reader that is slow or stalled (a CI pipe) cannot hold a run
//! past its timeout.

use std::io::Write;
use std::time::Instant;

use crate::run::signals;

/// Bytes written at once, after poll said there is room, where how much
/// room is not known (a terminal, a socket): a pipe with room takes
/// PIPE_BUF bytes without blocking.
const WRITE_CHUNK: usize = libc::PIPE_BUF;

/// How long a line of stackhook's own to stdout waits for room.
const LINE_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Writes a line of stackhook's own to stdout (GitHub's group markers),
/// waiting for room at most `LINE_WAIT`: a stalled reader loses it (it is
/// not the run's result) instead of holding the run, and its rollback,
/// for ever.
pub fn line_to_stdout(text: &str) {
    let mut lock = std::io::stdout().lock();
    let _ = lock.flush();
    write_within(
        libc::STDOUT_FILENO,
        text.as_bytes(),
        Instant::now() + LINE_WAIT,
    );
}

/// Where one command's output is written.
pub struct Outlet {
    /// Our stdout or stderr was not read in time: the command's output to
    /// it is dropped from then on.
    dropped: [bool; 2],
    /// How long a write may wait for room (`Watch::write_until`).
    pub until: Instant,
    prefix: String,
}

impl Outlet {
    pub fn new(prefix: &str) -> Self {
        Outlet {
            dropped: [false; 2],
            until: Instant::now(),
            prefix: prefix.to_string(),
        }
    }

    /// Writes what stream `i` (stdout, stderr) produced and empties `out`,
    /// waiting for our reader no later than `until`; past it, the output
    /// of the command to that stream is dropped, which is said once on
    /// stderr (if it takes it at once).
    pub fn write(&mut self, i: usize, quiet: bool, out: &mut Vec<u8>) {
        if !quiet && !self.dropped[i] && !out.is_empty() {
            let written = match i {
                0 => {
                    // Whatever std buffered goes first (nothing, normally:
                    // every other write to stdout flushes).
                    let mut lock = std::io::stdout().lock();
                    let _ = lock.flush();
                    write_within(libc::STDOUT_FILENO, out, self.until)
                }
                _ => write_within(libc::STDERR_FILENO, out, self.until),
            };
            if !written {
                self.dropped[i] = true;
                let name = ["stdout", "stderr"][i];
                let note = format!(
                    "\n{}stackhook: {name} was not read in time: the rest of this command's output to it is dropped\n",
                    self.prefix
                );
                write_within(libc::STDERR_FILENO, note.as_bytes(), Instant::now());
            }
        }
        out.clear();
    }
}

/// Writes `bytes` to `fd` (stackhook's stdout or stderr), waiting for room
/// no later than `until` nor after a signal; false when it gave up.
///
/// The descriptor is shared with whoever started stackhook (the shell, the
/// CI runner), so it is not made non-blocking: O_NONBLOCK belongs to the
/// open file description, and the caller would see EAGAIN after we exit.
/// A writer thread would leave a write blocked for ever, holding the
/// stdout lock. Instead poll() says when there is room; a pipe is written
/// through a non-blocking description of our own (`reopened_pipe`), and
/// anything else (or a pipe without /proc) at most PIPE_BUF at a time,
/// which a pipe with room takes without blocking. A failed write (the
/// reader went away) drops its block, as before.
fn write_within(fd: i32, mut bytes: &[u8], until: Instant) -> bool {
    let pipe = reopened_pipe(fd);
    let (fd, chunk) = match &pipe {
        Some(p) => (std::os::fd::AsRawFd::as_raw_fd(p), usize::MAX),
        None => (fd, room(fd)),
    };
    while !bytes.is_empty() {
        let mut fds = vec![libc::pollfd {
            fd,
            events: libc::POLLOUT,
            revents: 0,
        }];
        signals::poll(&mut fds, Some(until));
        if fds[0].revents == 0 {
            if Instant::now() >= until || signals::received().is_some() {
                return false;
            }
            continue;
        }
        let n = bytes.len().min(chunk);
        // SAFETY: `bytes` holds at least `n` bytes.
        match unsafe { libc::write(fd, bytes.as_ptr().cast(), n) } {
            n if n > 0 => bytes = &bytes[n as usize..],
            0 => return true,
            _ => match std::io::Error::last_os_error().kind() {
                std::io::ErrorKind::Interrupted | std::io::ErrorKind::WouldBlock => {}
                _ => return true,
            },
        }
    }
    true
}

/// How much `fd` takes at once without blocking, once poll said it has
/// room: everything for a file or /dev/null (no reader to wait for), else
/// PIPE_BUF.
fn room(fd: i32) -> usize {
    // SAFETY: fstat on an open descriptor, into a local.
    let mode = unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        if libc::fstat(fd, &mut st) != 0 {
            return WRITE_CHUNK;
        }
        st.st_mode & libc::S_IFMT
    };
    match mode {
        libc::S_IFREG => usize::MAX,
        // SAFETY: isatty on an open descriptor.
        libc::S_IFCHR if unsafe { libc::isatty(fd) } == 0 => usize::MAX,
        _ => WRITE_CHUNK,
    }
}

/// A pipe `fd` opened again, non-blocking: a new open file description of
/// our own (unlike dup), so the caller's stays blocking; it takes as much
/// as fits at once.
fn reopened_pipe(fd: i32) -> Option<std::fs::File> {
    use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
    let path = format!("/proc/self/fd/{fd}");
    if !std::fs::metadata(&path).ok()?.file_type().is_fifo() {
        return None;
    }
    std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .ok()
}
