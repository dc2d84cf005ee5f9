//! One command of a step: `sh -c` in its own process group, stdin closed,
//! output streamed line by line with secrets masked, a deadline, and
//! signals forwarded to the group.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use crate::masker::Masker;
use crate::signals;

/// Environment variables, as the runner hands them to commands.
pub type Env = BTreeMap<String, String>;

/// How long a command's process group gets between SIGTERM and SIGKILL.
const KILL_GRACE: Duration = Duration::from_secs(10);
/// How long output may stay open after the command exits (a background
/// process holding the pipe) before its process group is killed.
const DRAIN_GRACE: Duration = Duration::from_secs(5);
/// Lines of stderr kept for the failure report.
const STDERR_TAIL: usize = 20;

/// How a command ended.
#[derive(Debug)]
pub enum Outcome {
    Ok,
    Failed { status: String, stderr: Vec<String> },
    TimedOut { stderr: Vec<String> },
    Interrupted(i32),
}

impl Outcome {
    /// A failure before the command could start.
    pub fn not_started(status: String) -> Self {
        Outcome::Failed {
            status,
            stderr: Vec::new(),
        }
    }
}

/// Where a command's output goes.
pub struct Output<'a> {
    /// Each line is prefixed with this (`[step] `).
    pub prefix: String,
    pub masker: &'a Masker,
    /// Print nothing (the tail is still kept for the report).
    pub quiet: bool,
}

/// Runs `command` with `sh -c` until it ends, `deadline` passes or a
/// signal arrives.
pub fn run(command: &str, env: &Env, deadline: Instant, output: &Output) -> Outcome {
    let spawn_error = |e: std::io::Error| Outcome::not_started(format!("could not start sh: {e}"));
    let (out_r, out_w) = match os_pipe::pipe() {
        Ok(p) => p,
        Err(e) => return spawn_error(e),
    };
    let (err_r, err_w) = match os_pipe::pipe() {
        Ok(p) => p,
        Err(e) => return spawn_error(e),
    };
    let handle = duct::cmd("sh", ["-c", command])
        .full_env(env)
        .stdin_null()
        .stdout_file(out_w)
        .stderr_file(err_w)
        .unchecked()
        // Its own process group, so that a timeout or a signal reaches
        // everything the command started.
        .before_spawn(|cmd| {
            cmd.process_group(0);
            Ok(())
        })
        .start();
    let handle = match handle {
        Ok(h) => h,
        Err(e) => return spawn_error(e),
    };
    let group = handle.pids().first().copied().unwrap_or(0) as i32;
    signals::set_child_group(group);
    // A signal that came before the group was known is forwarded now.
    if let Some(sig) = signals::received() {
        signals::signal_group(group, sig);
    }
    let stderr_tail = Arc::new(Mutex::new(Vec::new()));
    let pumps = [
        pump(out_r, Stream::Stdout, output, Arc::default()),
        pump(err_r, Stream::Stderr, output, stderr_tail.clone()),
    ];
    let (status, timed_out) = wait(&handle, group, deadline);
    signals::clear_child_group();
    drain(pumps, group);
    let stderr = stderr_tail.lock().map(|t| t.clone()).unwrap_or_default();

    if let Some(sig) = signals::received() {
        return Outcome::Interrupted(sig);
    }
    if timed_out {
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

/// Waits for the command; on the deadline or a signal, SIGTERM (signals
/// are forwarded by the handler) and then SIGKILL after a grace period.
fn wait(
    handle: &duct::Handle,
    group: i32,
    deadline: Instant,
) -> (std::io::Result<std::process::ExitStatus>, bool) {
    let mut timed_out = false;
    let mut escalate_at: Option<Instant> = None;
    loop {
        match handle.wait_timeout(Duration::from_millis(50)) {
            Ok(Some(output)) => return (Ok(output.status), timed_out),
            Ok(None) => {}
            Err(e) => return (Err(e), timed_out),
        }
        let now = Instant::now();
        if !timed_out && now >= deadline {
            timed_out = true;
            signals::signal_group(group, libc::SIGTERM);
            escalate_at = Some(now + KILL_GRACE);
        }
        if escalate_at.is_none() && signals::received().is_some() {
            escalate_at = Some(now + KILL_GRACE);
        }
        if escalate_at.is_some_and(|t| now >= t) {
            signals::signal_group(group, libc::SIGKILL);
        }
    }
}

/// Output may still be held open by a background process of the group:
/// give it a moment, then end the group.
fn drain(pumps: [std::thread::JoinHandle<()>; 2], group: i32) {
    let (done_tx, done_rx) = mpsc::channel();
    let waiter = std::thread::spawn(move || {
        for p in pumps {
            let _ = p.join();
        }
        let _ = done_tx.send(());
    });
    if done_rx.recv_timeout(DRAIN_GRACE).is_err() {
        signals::signal_group(group, libc::SIGKILL);
    }
    let _ = waiter.join();
}

#[derive(Clone, Copy)]
enum Stream {
    Stdout,
    Stderr,
}

/// Reads one output stream line by line, masks, prefixes and writes it;
/// keeps the last lines for the error report.
fn pump(
    reader: os_pipe::PipeReader,
    stream: Stream,
    output: &Output,
    tail: Arc<Mutex<Vec<String>>>,
) -> std::thread::JoinHandle<()> {
    let prefix = output.prefix.clone();
    let masker = output.masker.clone();
    let quiet = output.quiet;
    std::thread::spawn(move || {
        let mut reader = BufReader::new(reader);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            let line = String::from_utf8_lossy(&buf);
            let line = masker.mask(line.trim_end_matches(['\n', '\r']));
            if !quiet {
                let text = format!("{prefix}{line}\n");
                match stream {
                    Stream::Stderr => {
                        let _ = std::io::stderr().lock().write_all(text.as_bytes());
                    }
                    Stream::Stdout => {
                        let mut o = std::io::stdout().lock();
                        let _ = o.write_all(text.as_bytes());
                        let _ = o.flush();
                    }
                }
            }
            let mut t = tail.lock().unwrap_or_else(|e| e.into_inner());
            t.push(line);
            if t.len() > STDERR_TAIL {
                t.remove(0);
            }
        }
    })
}
