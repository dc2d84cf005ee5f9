//! One read-only command that `doctor` runs (a CLI's version, a kubectl
//! query): stdin closed, in its own process group, with the environment
//! it is given, output read up to a bound, and ended (with everything it
//! started) at its deadline. Not `run::process`: that one streams a step's
//! output to the log; a probe's output is parsed, never shown as it is.

use std::io::Read;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Bytes of each output kept: versions and kubectl answers are short.
const CAP: u64 = 64 * 1024;

/// How a probe ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Ended {
    Exited(i32),
    Signalled(i32),
    TimedOut,
    NotStarted(String),
}

#[derive(Debug)]
pub struct Probe {
    pub ended: Ended,
    pub stdout: String,
    pub stderr: String,
}

impl Probe {
    pub fn success(&self) -> bool {
        self.ended == Ended::Exited(0)
    }

    /// Why it failed, in words, without its output.
    pub fn failure(&self, timeout: Duration) -> String {
        match &self.ended {
            Ended::Exited(c) => format!("exit {c}"),
            Ended::Signalled(s) => format!("killed by signal {s}"),
            Ended::TimedOut => format!("no answer within {}", humantime::format_duration(timeout)),
            Ended::NotStarted(e) => format!("could not start: {e}"),
        }
    }
}

fn reader(mut pipe: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = (&mut pipe).take(CAP).read_to_end(&mut buf);
        let _ = tx.send(String::from_utf8_lossy(&buf).into_owned());
    });
    rx
}

/// Runs `program ARGS` with exactly `env`, until it ends or `timeout`.
pub fn run(program: &Path, args: &[&str], env: &[(String, String)], timeout: Duration) -> Probe {
    let spawned = Command::new(program)
        .args(args)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn();
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => {
            return Probe {
                ended: Ended::NotStarted(e.to_string()),
                stdout: String::new(),
                stderr: String::new(),
            };
        }
    };
    let out = reader(child.stdout.take().expect("piped"));
    let err = reader(child.stderr.take().expect("piped"));
    let pid = child.id() as i32;
    // Waited for without reaping: the group keeps its id until the child
    // is reaped, so that killing the group cannot reach another's.
    let (tx, exited) = mpsc::channel();
    std::thread::spawn(move || {
        // SAFETY: waitid on our own child, into a zeroed siginfo.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        loop {
            let r = unsafe {
                libc::waitid(
                    libc::P_PID,
                    pid as libc::id_t,
                    &mut info,
                    libc::WEXITED | libc::WNOWAIT,
                )
            };
            let interrupted = std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR);
            if r == 0 || !interrupted {
                break;
            }
        }
        let _ = tx.send(());
    });
    let timed_out = exited.recv_timeout(timeout).is_err();
    // SAFETY: the group is the child's, which is not reaped yet.
    unsafe { libc::killpg(pid, libc::SIGKILL) };
    let status = child.wait();
    // A process that left the group could hold a pipe open: its output is
    // not waited for long.
    let grace = Duration::from_secs(1);
    let stdout = out.recv_timeout(grace).unwrap_or_default();
    let stderr = err.recv_timeout(grace).unwrap_or_default();
    let ended = match status {
        _ if timed_out => Ended::TimedOut,
        Ok(s) => match (s.code(), s.signal()) {
            (Some(c), _) => Ended::Exited(c),
            (None, Some(sig)) => Ended::Signalled(sig),
            _ => Ended::Exited(-1),
        },
        Err(e) => Ended::NotStarted(e.to_string()),
    };
    Probe {
        ended,
        stdout,
        stderr,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn sh(script: &str, timeout: Duration) -> Probe {
        let env = vec![("PATH".to_string(), "/usr/bin:/bin".to_string())];
        run(Path::new("/bin/sh"), &["-c", script], &env, timeout)
    }

    #[test]
    fn output_status_and_only_the_given_environment() {
        let p = sh(
            "echo out; echo err >&2; echo ${HOME:-nohome}; exit 3",
            Duration::from_secs(20),
        );
        assert_eq!(p.ended, Ended::Exited(3));
        assert_eq!(p.stdout, "out\nnohome\n");
        assert_eq!(p.stderr, "err\n");
    }

    /// A command that hangs, and a background process it started that
    /// holds the pipe, are ended at the deadline.
    #[test]
    fn a_hanging_command_and_its_children_end_at_the_deadline() {
        let start = Instant::now();
        let p = sh("sleep 600 & exec sleep 600", Duration::from_millis(300));
        assert_eq!(p.ended, Ended::TimedOut);
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{:?}",
            start.elapsed()
        );
        assert!(!p.success());
    }

    #[test]
    fn a_missing_program_is_not_started() {
        let p = run(
            Path::new("/nonexistent/cli"),
            &[],
            &[],
            Duration::from_secs(1),
        );
        assert!(matches!(p.ended, Ended::NotStarted(_)));
    }
}
