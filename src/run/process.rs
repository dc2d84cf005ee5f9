//! One command of a step: `sh -c` in its own process group, stdin closed,
//! output streamed in blocks with secrets masked, a deadline, signals
//! forwarded, and nothing of it left running when it ends.
//!
//! One loop per command waits on both output pipes and the signal pipe
//! (SIGCHLD included): no thread, no timer. `sh` is spawned by its
//! absolute path, which lets std use posix_spawn.

use std::collections::BTreeMap;
use std::io::Read;
use std::os::fd::AsRawFd;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::base::which;
use crate::run::masker::{Masker, Stream};
use crate::run::outlet::Outlet;
use crate::run::reaper;
use crate::run::signals;

/// Environment variables, as the runner hands them to commands.
pub type Env = BTreeMap<String, String>;

/// How long a command's processes get between SIGTERM and SIGKILL.
const KILL_GRACE: Duration = Duration::from_secs(10);
/// How long output may stay open after the command exits (a background
/// process holding the pipe) before what is left of it is killed.
const DRAIN_GRACE: Duration = Duration::from_secs(5);
/// Lines of stderr kept for the failure report.
const STDERR_TAIL: usize = 20;
/// Bytes read from a pipe at once.
const BLOCK: usize = 128 * 1024;
/// Blocks read from one pipe per round of the loop: a command that prints
/// without pause cannot keep the loop from looking at its deadline.
const READS_PER_ROUND: usize = 8;
/// The size asked for the output pipes (Linux allows 1 MiB unprivileged):
/// a command that prints fast runs ahead instead of waking stackhook for
/// every 4 KiB it writes.
const PIPE_SIZE: i32 = 1 << 20;

/// How a command ended.
#[derive(Debug)]
pub enum Outcome {
    Ok,
    Failed {
        status: String,
        stderr: Vec<String>,
    },
    TimedOut {
        stderr: Vec<String>,
    },
    Interrupted(i32),
    /// The command left processes stackhook may not signal (another
    /// user's, as with sudo), and it stopped waiting for them after the
    /// grace period: `left` says which and why, `after` how the command
    /// ended otherwise.
    Abandoned {
        left: Vec<String>,
        after: Box<Outcome>,
    },
}

impl Outcome {
    /// A failure before the command could start.
    pub fn not_started(status: String) -> Self {
        Outcome::Failed {
            status,
            stderr: Vec::new(),
        }
    }

    /// The signal that interrupted the command, if one did.
    pub fn signal(&self) -> Option<i32> {
        match self {
            Outcome::Interrupted(sig) => Some(*sig),
            Outcome::Abandoned { after, .. } => after.signal(),
            _ => None,
        }
    }
}

/// Where a command's output goes.
pub struct Output<'a> {
    /// Variables of stackhook's environment that are not UTF-8, passed on
    /// as they are.
    pub raw_env: &'a [(std::ffi::OsString, std::ffi::OsString)],
    /// Each line is prefixed with this (`[step] `).
    pub prefix: String,
    pub masker: &'a Masker,
    /// Print nothing (the tail is still kept for the report).
    pub quiet: bool,
}

/// The `sh` that PATH names, looked up once per PATH: an absolute path
/// lets std spawn with posix_spawn instead of fork and an exec per PATH
/// entry.
fn shell(env: &Env) -> PathBuf {
    static LAST: Mutex<Option<(String, PathBuf)>> = Mutex::new(None);
    let path = env
        .get("PATH")
        .cloned()
        .or_else(|| std::env::var("PATH").ok())
        .unwrap_or_default();
    let mut last = LAST.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((p, sh)) = last.as_ref()
        && *p == path
    {
        return sh.clone();
    }
    let sh = which::find_on_path("sh", &path).unwrap_or_else(|| PathBuf::from("/bin/sh"));
    *last = Some((path, sh.clone()));
    sh
}

/// Runs `command` with `sh -c` until it ends, `deadline` passes or a
/// signal arrives; then ends whatever it left running.
pub fn run(command: &str, env: &Env, deadline: Instant, output: &Output) -> Outcome {
    let spawn_error = |e: std::io::Error| Outcome::not_started(format!("could not start sh: {e}"));
    let pipes = os_pipe::pipe().and_then(|o| Ok((o, os_pipe::pipe()?)));
    let ((out_r, out_w), (err_r, err_w)) = match pipes {
        Ok(p) => p,
        Err(e) => return spawn_error(e),
    };
    let mut cmd = Command::new(shell(env));
    cmd.arg("-c")
        .arg(command)
        .env_clear()
        .envs(env)
        .envs(output.raw_env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(out_w)
        .stderr(err_w)
        // Its own process group, so that a timeout or a signal reaches
        // everything the command started.
        .process_group(0);
    let spawned = cmd.spawn();
    // The write ends go with `cmd`: output ends when the command's
    // processes close theirs.
    drop(cmd);
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => return spawn_error(e),
    };
    let group = child.id() as i32;
    signals::set_child_group(group);
    // A signal that came before the group was known is forwarded now.
    if let Some(sig) = signals::received() {
        signals::signal_group(group, sig);
    }
    let mut io = Io::new(out_r, err_r, output);
    let mut watch = Watch::new(group, deadline);
    while !watch.done(io.open()) {
        io.poll(watch.until(), watch.write_until());
        watch.check(io.open());
    }
    signals::clear_child_group();
    // Whatever is left of the command is killed while its zombie still
    // holds the group's id, then reaped, with every orphan it left; what
    // may not be killed is left, and reported.
    signals::signal_group(group, libc::SIGKILL);
    let mut left: Vec<reaper::Refused> = watch.refused.take().into_iter().collect();
    let status = if left.is_empty() {
        child.wait()
    } else {
        Err(std::io::Error::other("it could not be ended"))
    };
    for r in reaper::end_children() {
        if left.iter().all(|l| l.pid != r.pid) {
            left.push(r);
        }
    }
    let stderr = io.finish(watch.write_until());
    let after = outcome(status, &watch, stderr);
    if left.is_empty() {
        return after;
    }
    Outcome::Abandoned {
        left: left.iter().map(reaper::Refused::describe).collect(),
        after: Box::new(after),
    }
}

fn outcome(status: std::io::Result<ExitStatus>, watch: &Watch, stderr: Vec<String>) -> Outcome {
    if let Some(sig) = signals::received() {
        return Outcome::Interrupted(sig);
    }
    if watch.timed_out {
        return Outcome::TimedOut { stderr };
    }
    match status {
        Ok(s) if s.success() => Outcome::Ok,
        Ok(s) => Outcome::Failed {
            status: match (s.code(), s.signal()) {
                (Some(c), _) => format!("exited with status {c}"),
                (None, Some(sig)) => format!("was killed by {}", signals::name(sig)),
                _ => "failed".into(),
            },
            stderr,
        },
        Err(e) => Outcome::Failed {
            status: format!("could not be waited for: {e}"),
            stderr,
        },
    }
}

/// The command's life: its exit, the deadline, signals, and when the
/// waiting ends.
struct Watch {
    /// The command's pid, which is also its process group.
    group: i32,
    deadline: Instant,
    exited_at: Option<Instant>,
    timed_out: bool,
    /// A received signal has been passed to the leftovers too.
    forwarded: bool,
    /// When SIGKILL follows SIGTERM (or a forwarded signal).
    kill_at: Option<Instant>,
    killed: bool,
    /// The command still ran after SIGKILL, which it refused (it became
    /// another user): it is no longer waited for.
    refused: Option<reaper::Refused>,
}

impl Watch {
    fn new(group: i32, deadline: Instant) -> Self {
        Watch {
            group,
            deadline,
            exited_at: None,
            timed_out: false,
            forwarded: false,
            kill_at: None,
            killed: false,
            refused: None,
        }
    }

    /// How long output may still be read after the command exited.
    fn drain_until(&self) -> Option<Instant> {
        let drain = self.exited_at? + DRAIN_GRACE;
        Some(self.kill_at.map_or(drain, |k| k.min(drain)))
    }

    /// The next moment something is due, if any.
    fn until(&self) -> Option<Instant> {
        let deadline = (!self.timed_out).then_some(self.deadline);
        let kill = self.kill_at.filter(|_| !self.killed);
        [deadline, kill, self.drain_until()]
            .into_iter()
            .flatten()
            .min()
    }

    /// How long a write to stackhook's own stdout or stderr may wait for
    /// their reader: until the deadline, and not at all once the command
    /// is being ended (a timeout or a signal), so that a reader that is
    /// slow or stalled cannot hold the run past its deadline.
    fn write_until(&self) -> Instant {
        if self.timed_out || signals::received().is_some() {
            Instant::now()
        } else {
            self.deadline
        }
    }

    fn done(&self, output_open: bool) -> bool {
        self.refused.is_some()
            || self.exited_at.is_some()
                && (!output_open || self.drain_until().is_some_and(|t| Instant::now() >= t))
    }

    /// Looks at what changed after a wake-up and acts on it.
    fn check(&mut self, output_open: bool) {
        let now = Instant::now();
        if self.exited_at.is_none() && reaper::has_exited(self.group) {
            self.exited_at = Some(now);
        }
        let finished = self.exited_at.is_some() && !output_open;
        if !self.timed_out && !finished && now >= self.deadline {
            self.timed_out = true;
            self.terminate(libc::SIGTERM, now);
        }
        if let Some(sig) = signals::received()
            && !self.forwarded
        {
            // The handler signalled the group; the leftovers get it here.
            self.terminate(sig, now);
        }
        if !self.killed && self.kill_at.is_some_and(|t| now >= t) {
            self.killed = true;
            signals::signal_group(self.group, libc::SIGKILL);
            reaper::signal_children(libc::SIGKILL, self.group);
            // A command that became another user (sudo) refuses both: the
            // grace period is over, so it is not waited for any longer.
            self.refused = reaper::refuses(self.group);
        }
    }

    /// Asks the command and everything it left to end; SIGKILL follows.
    fn terminate(&mut self, sig: i32, now: Instant) {
        self.forwarded |= signals::received().is_some();
        signals::signal_group(self.group, sig);
        reaper::signal_children(sig, self.group);
        self.kill_at.get_or_insert(now + KILL_GRACE);
    }
}

thread_local! {
    /// The read buffer, zeroed once per process rather than per command.
    static READ_BUFFER: std::cell::Cell<Vec<u8>> = std::cell::Cell::new(vec![0; BLOCK]);
}

/// The command's two output pipes, read as they become readable.
struct Io<'a> {
    pipes: [Option<os_pipe::PipeReader>; 2],
    streams: [Stream<'a>; 2],
    quiet: bool,
    outlet: Outlet,
    buf: Vec<u8>,
    out: Vec<u8>,
}

impl<'a> Io<'a> {
    fn new(stdout: os_pipe::PipeReader, stderr: os_pipe::PipeReader, output: &Output<'a>) -> Self {
        for p in [&stdout, &stderr] {
            // SAFETY: fcntl on a descriptor we own.
            unsafe {
                let fd = p.as_raw_fd();
                libc::fcntl(
                    fd,
                    libc::F_SETFL,
                    libc::fcntl(fd, libc::F_GETFL) | libc::O_NONBLOCK,
                );
                libc::fcntl(fd, libc::F_SETPIPE_SZ, PIPE_SIZE);
            }
        }
        Io {
            pipes: [Some(stdout), Some(stderr)],
            streams: [
                Stream::new(output.masker, &output.prefix, 0),
                Stream::new(output.masker, &output.prefix, STDERR_TAIL),
            ],
            quiet: output.quiet,
            outlet: Outlet::new(&output.prefix),
            buf: Some(READ_BUFFER.take())
                .filter(|b| b.len() == BLOCK)
                .unwrap_or_else(|| vec![0; BLOCK]),
            out: Vec::new(),
        }
    }

    fn open(&self) -> bool {
        self.pipes.iter().any(Option::is_some)
    }

    /// Waits for output, a signal (SIGCHLD too) or `until`; reads what
    /// came and writes it.
    fn poll(&mut self, until: Option<Instant>, write_until: Instant) {
        self.outlet.until = write_until;
        let mut fds: Vec<libc::pollfd> = self
            .pipes
            .iter()
            .flatten()
            .map(|p| libc::pollfd {
                fd: p.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        signals::poll(&mut fds, until);
        for i in 0..2 {
            if self.pipes[i].is_some() {
                self.read(i);
            }
        }
    }

    /// Reads pipe `i` until it would block, at most `READS_PER_ROUND`
    /// blocks; closes it at its end.
    fn read(&mut self, i: usize) {
        for _ in 0..READS_PER_ROUND {
            let Some(pipe) = self.pipes[i].as_mut() else {
                return;
            };
            match pipe.read(&mut self.buf) {
                Ok(0) => {
                    self.pipes[i] = None;
                    return;
                }
                Ok(n) => {
                    if self.quiet && i == 0 {
                        continue;
                    }
                    self.streams[i].push(&self.buf[..n], &mut self.out);
                    self.outlet.write(i, self.quiet, &mut self.out);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
                Err(_) => {
                    self.pipes[i] = None;
                    return;
                }
            }
        }
    }

    /// Reads what is left without waiting, writes last lines without a
    /// newline, and returns the stderr tail.
    fn finish(mut self, write_until: Instant) -> Vec<String> {
        self.outlet.until = write_until;
        for i in 0..2 {
            self.read(i);
            self.streams[i].finish(&mut self.out);
            self.outlet.write(i, self.quiet, &mut self.out);
        }
        READ_BUFFER.set(std::mem::take(&mut self.buf));
        self.streams[1].tail()
    }
}
