//! Output that cannot be written: a full disk (/dev/full, ENOSPC) and a
//! reader that went away (a closed pipe, EPIPE). No subcommand panics, and
//! none exits 0 having written nothing: each says so (when stderr works)
//! and exits 1. `run` is the exception the README's exit codes explain:
//! its log is not its result.

mod common;

use std::process::{Command, Stdio};

use common::*;

#[derive(Clone, Copy, Debug)]
enum Sink {
    /// Every write fails with ENOSPC.
    Full,
    /// A pipe whose read end is closed: every write fails with EPIPE.
    Closed,
}

const SINKS: [Sink; 2] = [Sink::Full, Sink::Closed];

fn broken(sink: Sink) -> Stdio {
    match sink {
        Sink::Full => std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap()
            .into(),
        Sink::Closed => {
            let (reader, writer) = os_pipe::pipe().unwrap();
            drop(reader);
            writer.into()
        }
    }
}

/// Which of the binary's streams is broken.
#[derive(Clone, Copy, Debug)]
enum Stream {
    Stdout,
    Stderr,
}

/// Runs `cmd` with `stream` on `sink`; returns the exit code and what the
/// other stream got.
fn run_broken(mut cmd: Command, stream: Stream, sink: Sink) -> (i32, String) {
    cmd.stdin(Stdio::null());
    match stream {
        Stream::Stdout => cmd.stdout(broken(sink)).stderr(Stdio::piped()),
        Stream::Stderr => cmd.stderr(broken(sink)).stdout(Stdio::piped()),
    };
    let out = cmd.output().unwrap();
    let other = match stream {
        Stream::Stdout => &out.stderr,
        Stream::Stderr => &out.stdout,
    };
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(other).into(),
    )
}

fn stackhook_in(sb: &Sandbox, args: &[&str]) -> Command {
    let mut cmd = sb.command();
    cmd.args(args);
    cmd
}

/// Every subcommand that writes, with the stream it writes its result to:
/// whatever it writes cannot be written, it exits 1, and says why on
/// stderr when stdout was the broken one.
#[test]
fn every_subcommand_fails_when_its_output_cannot_be_written() {
    let sb = Sandbox::new();
    let spec = root().join("specs/gke-region.yaml");
    let spec = spec.to_str().unwrap();
    let written = sb.path("work/init.yaml");
    let written = written.to_str().unwrap();
    let cases: Vec<(Vec<&str>, Stream)> = vec![
        (vec!["plan", spec], Stream::Stdout),
        (vec!["plan", "--format", "json", spec], Stream::Stdout),
        (vec!["plan", "--format", "markdown", spec], Stream::Stdout),
        (vec!["run", "--dry-run", spec], Stream::Stdout),
        (vec!["schema"], Stream::Stdout),
        (vec!["validate", spec], Stream::Stderr),
        (vec!["completions", "bash"], Stream::Stdout),
        (vec!["man"], Stream::Stdout),
        (vec!["providers"], Stream::Stdout),
        (vec!["providers", "gke"], Stream::Stdout),
        (vec!["init"], Stream::Stdout),
        (vec!["init", "gke", "-o", "-"], Stream::Stdout),
        (
            vec!["init", "gke", "-o", written, "--force"],
            Stream::Stderr,
        ),
        (
            vec!["exec-credential", "--from-env=MY_TOKEN"],
            Stream::Stdout,
        ),
        (vec!["--version"], Stream::Stdout),
        (vec!["--help"], Stream::Stdout),
    ];
    let mut wrong = Vec::new();
    for (args, stream) in &cases {
        // Each writes something when nothing is broken.
        let mut cmd = stackhook_in(&sb, args);
        cmd.env("MY_TOKEN", "tok");
        let out = cmd.stdin(Stdio::null()).output().unwrap();
        let wrote = match stream {
            Stream::Stdout => &out.stdout,
            Stream::Stderr => &out.stderr,
        };
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        assert!(!wrote.is_empty(), "{args:?} writes to {stream:?}");
        for sink in SINKS {
            let mut cmd = stackhook_in(&sb, args);
            cmd.env("MY_TOKEN", "tok");
            let (code, other) = run_broken(cmd, *stream, sink);
            let said = match stream {
                Stream::Stdout => other.contains("cannot write to stdout"),
                Stream::Stderr => true,
            };
            if code != 1 || !said || other.contains("panicked") {
                wrong.push(format!(
                    "{args:?} {stream:?} {sink:?}: exit {code}\n{other}"
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// The `kubeconfig` subcommands (run inside steps) say what they did on
/// stderr: when that cannot be written, they fail.
#[test]
fn kubeconfig_subcommands_fail_when_stderr_cannot_be_written() {
    let sb = Sandbox::new();
    let config = sb.kubeconfig();
    let config = config.to_str().unwrap();
    for sink in SINKS {
        std::fs::write(sb.kubeconfig(), TWO_CONTEXTS).unwrap();
        let cmd = stackhook_in(&sb, &["kubeconfig", "check", "--kubeconfig", config]);
        let (code, _) = run_broken(cmd, Stream::Stderr, sink);
        assert_eq!(code, 1, "{sink:?}");
    }
}

/// A run's log is not its result: steps that all succeeded keep their
/// login and exit 0 even when stdout (their output, and under GitHub
/// Actions the log groups) cannot be written. What cannot be lost is
/// GitHub's masking: when the secret values cannot be announced, the run
/// stops before anything runs, exit 2.
#[test]
fn a_run_under_github_actions_with_stdout_broken() {
    for sink in SINKS {
        let sb = Sandbox::new();
        let spec = sb.write_spec(
            "version: 1\nsteps:\n  - provider: run\n    with: {commands: ['echo \"changed: yes\" > \"$KUBECONFIG\"', 'echo done']}\n",
        );
        let mut cmd = stackhook_in(&sb, &["run", spec.to_str().unwrap()]);
        cmd.env("GITHUB_ACTIONS", "true");
        let (code, err) = run_broken(cmd, Stream::Stdout, sink);
        assert_eq!(code, 0, "{sink:?}: {err}");
        assert_eq!(
            std::fs::read_to_string(sb.kubeconfig()).unwrap(),
            "changed: yes\n",
            "{sink:?}: the login was kept"
        );

        let spec = sb.write_spec(
            "version: 1\nsteps:\n  - provider: run\n    with: {commands: ['echo \"changed: again\" > \"$KUBECONFIG\"']}\n",
        );
        let mut cmd = stackhook_in(&sb, &["run", spec.to_str().unwrap()]);
        cmd.env("GITHUB_ACTIONS", "true").env("MY_TOKEN", "tok-123");
        let (code, err) = run_broken(cmd, Stream::Stdout, sink);
        assert_eq!(code, 2, "{sink:?}: {err}");
        assert!(
            unwrapped(&err).contains("cannot write to stdout"),
            "{sink:?}: {err}"
        );
        assert!(!err.contains("tok-123"), "{err}");
        assert_eq!(
            std::fs::read_to_string(sb.kubeconfig()).unwrap(),
            "changed: yes\n",
            "{sink:?}: nothing ran"
        );
        assert!(sb.tmp_entries().is_empty(), "{:?}", sb.tmp_entries());
    }
}

/// A secret a step derives (`Bearer ${TOKEN}`) is announced before that
/// step runs. When the reader of stdout has gone away by then, the step
/// fails and the run rolls back (exit 1).
#[test]
fn a_derived_secret_that_cannot_be_announced_fails_its_step() {
    let sb = Sandbox::new();
    let go = sb.fifo("work/go");
    let spec = sb.write_spec(
        "version: 1\nsteps:\n  - provider: run\n    name: first\n    with: {commands: ['echo \"changed: yes\" > \"$KUBECONFIG\"; echo ready; read x < \"$GO\"']}\n  - provider: run\n    name: derives\n    env: {AUTH: 'Bearer ${MY_TOKEN}'}\n    with: {commands: ['echo \"changed: again\" > \"$KUBECONFIG\"']}\n",
    );
    let mut child = sb
        .command()
        .args(["run", spec.to_str().unwrap()])
        .env("GITHUB_ACTIONS", "true")
        .env("MY_TOKEN", "tok-123")
        .env("GO", &go)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let lines = wait_for_line(&mut stdout, "[first] ready");
    assert!(lines[0].starts_with("::add-mask::tok-123"), "{lines:?}");
    drop(stdout);
    std::fs::write(&go, "go\n").unwrap();
    let (code, _, err) = output_of(child);
    assert_eq!(code, 1, "{err}");
    assert!(
        unwrapped(&err).contains("could not tell GitHub Actions to mask its secret values"),
        "{err}"
    );
    assert!(!err.contains("tok-123"), "{err}");
    assert!(!std::fs::exists(sb.kubeconfig()).unwrap(), "rolled back");
    assert!(sb.tmp_entries().is_empty(), "{:?}", sb.tmp_entries());
}
