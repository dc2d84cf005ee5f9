//! No process started for a run outlives it, and no step outlives its
//! timeout: descendants that escape the command's process group (setsid,
//! a double fork) are ended on a timeout, on a signal, and when stackhook
//! itself (or its worker, which the guardian then rolls back for) is
//! SIGKILLed; a line of hundreds of megabytes does not grow
//! stackhook's memory; secrets read from files (trailing newline) and
//! short lines of multi-line secrets are masked. Every wait is on an
//! observable event (a line of output, a pipe's end, a process exit).

mod common;

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Stdio};

use common::harness::{self, Need, case};
use common::*;

fn main() {
    harness::main(vec![
        case!(an_escaped_grandchild_holding_output_ends_at_the_timeout),
        case!(sigterm_ends_an_escaped_grandchild_holding_output),
        case!(sigkill_of_stackhook_ends_every_descendant_and_rolls_back),
        case!(sigkill_of_the_worker_still_ends_every_descendant_and_rolls_back),
        case!(sigkill_of_the_callers_process_group_still_rolls_back),
        case!(a_huge_line_is_cut_in_bounded_memory_without_a_partial_secret),
        case!(secrets_with_trailing_newlines_and_short_pem_lines_are_masked),
        case!(secrets_that_are_not_utf8_or_have_short_lines_are_masked),
        case!(a_timeout_bounds_a_flood_read_slowly),
        case!(a_timeout_bounds_a_flood_that_is_never_read),
        case!(
            a_timeout_bounds_a_command_run_as_another_user,
            Need::Root,
            Need::Cli("setpriv")
        ),
        case!(
            a_timeout_bounds_output_held_by_another_users_process,
            Need::Root,
            Need::Cli("setpriv")
        ),
        case!(
            a_run_on_a_terminal_with_tostop_prints_and_ends,
            Need::Cli("script"),
            Need::Cli("timeout")
        ),
    ]);
}

/// Alive and not a zombie waiting for its (adoptive) parent.
fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z'),
        Err(_) => false,
    }
}

/// A run that is killed if the test fails before it ends: a failing test
/// leaves nothing running.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(sb: &Sandbox, spec: &std::path::Path, env: &[(&str, &str)]) -> Child {
    spawn_in(spec, env, sb.command())
}

fn spawn_in(
    spec: &std::path::Path,
    env: &[(&str, &str)],
    mut command: std::process::Command,
) -> Child {
    command
        .args(["run", spec.to_str().unwrap()])
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Reads lines until one contains `needle`; returns that line.
fn line_with(reader: &mut impl BufRead, needle: &str) -> String {
    loop {
        let mut line = String::new();
        assert!(reader.read_line(&mut line).unwrap() > 0, "no {needle:?}");
        if line.contains(needle) {
            return line;
        }
    }
}

/// The numbers of a `ready` line: `[step] ready 12 34 56`.
fn pids(line: &str) -> Vec<i32> {
    line.split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect()
}

fn fifo(sb: &Sandbox, name: &str) -> String {
    sb.fifo(&format!("work/{name}")).display().to_string()
}

/// A command that starts a grandchild in a new session which keeps the
/// step's stdout open, and prints its pid.
/// Had it run to its end, it would leave the file `$DONE`.
const ESCAPE_SETSID: &str =
    r#"setsid sh -c 'echo $$ > "$FIFO"; sleep 60; touch "$DONE"' & read escaped < "$FIFO""#;

fn an_escaped_grandchild_holding_output_ends_at_the_timeout() {
    let sb = Sandbox::new();
    let spec = sb.write_spec(&format!(
        "version: 1\nsteps:\n  - provider: run\n    name: escape\n    timeout: 2s\n    with:\n      commands:\n        - |\n          {ESCAPE_SETSID}; echo \"ready $escaped\"\n"
    ));
    let done = sb.path("work/done");
    let env = [("FIFO", &*fifo(&sb, "f")), ("DONE", done.to_str().unwrap())];
    let child = spawn(&sb, &spec, &env);
    let out = child.wait_with_output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    // The command itself exited at once; its grandchild held the output
    // until the step's deadline, and was ended there.
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("step `escape` timed out after 2s"),
        "{stderr}"
    );
    let escaped = pids(&line_with(&mut stdout.as_bytes(), "ready"))[0];
    assert!(!alive(escaped), "the escaped sleep {escaped} survived");
    assert!(
        !done.exists(),
        "the run waited for the escaped command to end"
    );
    assert!(sb.tmp_entries().is_empty(), "{:?}", sb.tmp_entries());
}

fn sigterm_ends_an_escaped_grandchild_holding_output() {
    let sb = Sandbox::new();
    let spec = sb.write_spec(&format!(
        "version: 1\nsteps:\n  - provider: run\n    name: escape\n    with:\n      commands:\n        - |\n          {ESCAPE_SETSID}; echo \"ready $escaped\"; wait\n"
    ));
    let done = sb.path("work/done");
    let env = [("FIFO", &*fifo(&sb, "f")), ("DONE", done.to_str().unwrap())];
    let mut child = Running(spawn(&sb, &spec, &env));
    let child = &mut child.0;
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let escaped = pids(&line_with(&mut stdout, "[escape] ready"))[0];
    assert!(alive(escaped));
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!(status.code(), Some(143), "{err}");
    assert!(!alive(escaped), "the escaped sleep {escaped} survived");
    assert!(
        !done.exists(),
        "the run waited for the escaped command to end"
    );
    assert!(sb.tmp_entries().is_empty(), "{:?}", sb.tmp_entries());
}

/// A step that changes the kubeconfig, then one that leaves three kinds of
/// descendants: one in its process group, one in a new session, one
/// double-forked (an orphan); each would append to the kubeconfig later.
/// It prints `ready <sh> <stackhook worker> <three descendants>`.
fn start_family(sb: &Sandbox) -> (Running, BufReader<std::process::ChildStdout>, Vec<i32>) {
    start_family_in(sb, sb.command())
}

fn start_family_in(
    sb: &Sandbox,
    command: std::process::Command,
) -> (Running, BufReader<std::process::ChildStdout>, Vec<i32>) {
    std::fs::write(sb.kubeconfig(), TWO_CONTEXTS).unwrap();
    let late = r#"sleep 600; echo late >> "$KUBECONFIG""#;
    let spec = sb.write_spec(&format!(
        r#"version: 1
steps:
  - provider: run
    name: edit
    with:
      commands: ['echo "changed: true" >> "$KUBECONFIG"']
  - provider: run
    name: family
    with:
      commands:
        - |
          sh -c 'echo $$ > "$F1"; {late}' &
          read inner < "$F1"
          setsid sh -c 'echo $$ > "$F2"; {late}' &
          read session < "$F2"
          (sh -c 'echo $$ > "$F3"; {late}' &)
          read orphan < "$F3"
          echo "ready $$ $PPID $inner $session $orphan"
          wait
"#
    ));
    // One fifo each: a writer may still hold one open when it is read
    // again.
    let fifos = ["f1", "f2", "f3"].map(|f| fifo(sb, f));
    let env = [("F1", &*fifos[0]), ("F2", &fifos[1]), ("F3", &fifos[2])];
    let mut child = Running(spawn_in(&spec, &env, command));
    let mut stdout = BufReader::new(child.0.stdout.take().unwrap());
    let ready = line_with(&mut stdout, "[family] ready");
    let pids = pids(&ready);
    assert_eq!(pids.len(), 5, "{ready}");
    for &p in &pids {
        assert!(alive(p), "{p} of {pids:?} is not running yet");
    }
    (child, stdout, pids)
}

/// After the guardian died: the worker, told by SIGTERM, ended every
/// descendant and rolled back. It holds stderr until it has; then it exits.
fn worker_rolled_back(
    sb: &Sandbox,
    child: &mut Child,
    stdout: &mut BufReader<std::process::ChildStdout>,
    pids: &[i32],
) {
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    wait_for_exit(pids[1]);
    for p in pids {
        assert!(!alive(*p), "{p} of {pids:?} survived: {err}");
    }
    assert!(err.contains("interrupted by SIGTERM"), "{err}");
    assert_eq!(
        std::fs::read_to_string(sb.kubeconfig()).unwrap(),
        TWO_CONTEXTS,
        "rolled back"
    );
    assert!(sb.tmp_entries().is_empty(), "{:?}", sb.tmp_entries());
}

fn sigkill_of_stackhook_ends_every_descendant_and_rolls_back() {
    let sb = Sandbox::new();
    let (mut child, mut stdout, pids) = start_family(&sb);
    let child = &mut child.0;
    child.kill().unwrap();
    child.wait().unwrap();
    worker_rolled_back(&sb, child, &mut stdout, &pids);
}

/// How CI runners cancel a job: SIGKILL to the whole process group the
/// hook was started in. The guardian dies with it; the worker, in a group
/// of its own, still ends the commands and rolls back.
fn sigkill_of_the_callers_process_group_still_rolls_back() {
    use std::os::unix::process::CommandExt;
    let sb = Sandbox::new();
    let mut command = sb.command();
    command.process_group(0);
    let (mut child, mut stdout, pids) = start_family_in(&sb, command);
    let child = &mut child.0;
    let group = child.id() as i32;
    unsafe { libc::kill(-group, libc::SIGKILL) };
    assert_eq!(child.wait().unwrap().code(), None, "killed by a signal");
    worker_rolled_back(&sb, child, &mut stdout, &pids);
}

/// The worker dies without a rollback (the kernel's OOM killer): the
/// guardian ends every descendant, then rolls back for it.
fn sigkill_of_the_worker_still_ends_every_descendant_and_rolls_back() {
    let sb = Sandbox::new();
    let (mut child, _stdout, pids) = start_family(&sb);
    let child = &mut child.0;
    let worker = pids[1];
    assert_ne!(worker, child.id() as i32, "the worker is a child process");
    assert_eq!(sb.tmp_entries().len(), 1, "the run's directory");
    unsafe { libc::kill(worker, libc::SIGKILL) };
    let status = child.wait().unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!(status.code(), Some(128 + libc::SIGKILL), "{err}");
    for p in &pids {
        assert!(!alive(*p), "{p} of {pids:?} survived");
    }
    assert_eq!(
        std::fs::read_to_string(sb.kubeconfig()).unwrap(),
        TWO_CONTEXTS,
        "rolled back"
    );
    assert!(sb.tmp_entries().is_empty(), "{:?}", sb.tmp_entries());
    let said = format!(
        "stackhook: the run was killed (SIGKILL); rolled back: temp files removed, {} restored\n",
        sb.kubeconfig().display()
    );
    assert!(err.ends_with(&said), "{err}");
}

fn a_huge_line_is_cut_in_bounded_memory_without_a_partial_secret() {
    let sb = Sandbox::new();
    let secret = "CANARY-huge-line-secret";
    // 65,530 bytes, the secret across the 64 KiB cut, then 300 MB, no
    // newline; then the worker's peak memory, read from /proc.
    let spec = sb.write_spec(
        r#"version: 1
steps:
  - provider: run
    name: big
    with:
      commands:
        - |
          head -c 65530 /dev/zero | tr '\0' x
          printf '%s' "$MY_TOKEN"
          head -c 300000000 /dev/zero | tr '\0' y
          echo
          grep VmHWM "/proc/$PPID/status"
"#,
    );
    let child = spawn(&sb, &spec, &[("MY_TOKEN", secret)]);
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stdout.len() < 200_000,
        "{} bytes printed",
        out.stdout.len()
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("[big] xxxx"), "the head is shown");
    assert!(stdout.contains("[stackhook: line cut, longer than 64 KiB]"));
    for part in ["CANARY", "huge-line", "line-secret"] {
        assert!(!stdout.contains(part), "part of the secret printed");
    }
    let hwm: u64 = line_with(&mut stdout.as_bytes(), "VmHWM")
        .split_whitespace()
        .find_map(|w| w.parse().ok())
        .unwrap();
    assert!(hwm < 32 * 1024, "stackhook grew to {hwm} kB");
}

fn secrets_with_trailing_newlines_and_short_pem_lines_are_masked() {
    let sb = Sandbox::new();
    let pem =
        "-----BEGIN PRIVATE KEY-----\nMIIBVQIBADANBgkqhkiG9w0B\nQ0Ax\n-----END PRIVATE KEY-----\n";
    let spec = sb.write_spec(
        r#"version: 1
steps:
  - provider: run
    name: show
    with:
      commands:
        - printf '%s' "$MY_TOKEN"
        - printf '%s' "$API_TOKEN"
        - echo "trimmed $(printf '%s' "$MY_TOKEN" | tr -d '\r\n') end"
        - printf '%s' "$MY_PRIVATE_KEY"
        - printf '%s' "$MY_PRIVATE_KEY" >&2
"#,
    );
    let child = spawn(
        &sb,
        &spec,
        &[
            ("MY_TOKEN", "CANARY-nl-7f3a\n"),
            ("API_TOKEN", "CANARY-crlf-9b2c\r\n"),
            ("MY_PRIVATE_KEY", pem),
        ],
    );
    let out = child.wait_with_output().unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{all}");
    for leak in ["CANARY", "MIIBVQ", "Q0Ax"] {
        assert!(!all.contains(leak), "{leak} printed: {all}");
    }
    assert!(all.contains("[show] trimmed *** end"), "{all}");
    assert_eq!(all.matches("[show] ***\n").count(), 2 + 2 * 4, "{all}");
}

/// A secret whose value is not UTF-8 is passed to commands as it is, and
/// masked like any other; so are the short lines of a multi-line secret
/// (`xy`) where they are a line of output.
fn secrets_that_are_not_utf8_or_have_short_lines_are_masked() {
    use std::os::unix::ffi::OsStrExt;
    let sb = Sandbox::new();
    let spec = sb.write_spec(
        r#"version: 1
steps:
  - provider: run
    name: show
    with:
      commands:
        - printf '%s\n' "$MY_TOKEN" "x${MY_TOKEN}y"
        - printf '%s\n' "$MY_TOKEN" >&2
        - env | grep '^MY_TOKEN=' | sed 's/^MY_TOKEN=//'
        - printf '%s\n' "$API_KEY"
"#,
    );
    let token = std::ffi::OsStr::from_bytes(b"\xff\xfeCANARY-raw");
    let out = sb
        .command()
        .args(["run", spec.to_str().unwrap()])
        .env("MY_TOKEN", token)
        .env("API_KEY", "xy\nzw\nuv")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let all = [out.stdout, out.stderr].concat();
    let text = String::from_utf8_lossy(&all);
    assert!(out.status.success(), "{text}");
    assert!(!text.contains("CANARY"), "{text}");
    for short in ["xy", "zw", "uv"] {
        assert!(!text.contains(&format!("] {short}\n")), "{short}: {text}");
    }
    assert!(text.contains("[show] x***y\n"), "{text}");
    assert_eq!(text.matches("[show] ***\n").count(), 3 + 3, "{text}");
}

/// On a terminal with `stty tostop`, the worker (in a process group of its
/// own, so in the background) still writes the steps' output and ends, and
/// so does a run whose arguments the parser refuses. `script` gives the
/// run a real pty; `timeout` ends it if it stopped, which fails the test.
fn a_run_on_a_terminal_with_tostop_prints_and_ends() {
    let sb = Sandbox::new();
    let spec = sb.write_spec(
        r#"version: 1
steps:
  - {provider: run, name: hello, with: {commands: ['echo out-on-the-tty']}}
"#,
    );
    let bin = bin();
    for (args, code, says) in [
        (
            format!("run {}", spec.display()),
            0,
            "[hello] out-on-the-tty",
        ),
        ("run --bogus".to_string(), 2, "unexpected argument"),
    ] {
        let inner = format!("stty tostop; {} {args}; echo rc=$?", bin.display());
        let out = std::process::Command::new("timeout")
            .args(["-s", "KILL", "60", "script", "-qec", &inner, "/dev/null"])
            .envs(sb.envs())
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "stopped or killed: {:?} {text}",
            out.status
        );
        assert!(text.contains(says), "{text}");
        assert!(text.contains(&format!("rc={code}")), "{text}");
    }
}

/// Processes the test started as root, killed however the test ends.
struct KillPids(Vec<std::path::PathBuf>, i32);

impl Drop for KillPids {
    fn drop(&mut self) {
        for f in &self.0 {
            if let Some(pid) = std::fs::read_to_string(f)
                .ok()
                .and_then(|t| t.trim().parse::<i32>().ok())
            {
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
        unsafe { libc::kill(self.1, libc::SIGKILL) };
    }
}

/// What `sudo` is to a run, built without sudo: stackhook runs as nobody
/// (uid 65534), and its step starts a setuid-root copy of setpriv that
/// becomes root in full (real, effective and saved uid), which nobody may
/// not signal. The step first edits the kubeconfig; the root process
/// writes its pid to `work/root.pid` and sleeps for two minutes. `shape`
/// is the command around it. Returns the exit code, stderr, the root
/// process's pid and how long the run took, or fails when the run lasts
/// longer than its 2 s timeout and the grace periods allow.
fn run_as_nobody_with_root_step(shape: &str) -> (i32, String, i32, std::time::Duration) {
    use std::os::unix::fs::PermissionsExt;
    let sb = Sandbox::new();
    std::fs::write(sb.kubeconfig(), TWO_CONTEXTS).unwrap();
    let pidfile = sb.path("work/root.pid");
    let root = sb.bin().join("become-root");
    let setpriv = which("setpriv").unwrap();
    let spec = sb.write_spec(&format!(
        "version: 1\nsteps:\n  - provider: run\n    name: sudo\n    timeout: 2s\n    with:\n      commands:\n        - |\n          echo 'changed: true' >> \"$KUBECONFIG\"\n          {shape}\n"
    ));
    let chown = std::process::Command::new("chown")
        .args(["-R", "65534:65534"])
        .arg(sb.dir.path())
        .status()
        .unwrap();
    assert!(chown.success());
    std::fs::copy(&setpriv, &root).unwrap();
    std::os::unix::fs::chown(&root, Some(0), Some(0)).unwrap();
    std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o4755)).unwrap();
    let mut command = std::process::Command::new(&setpriv);
    command
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(bin())
        .args(["run", spec.to_str().unwrap()])
        .env_clear()
        .envs(sb.envs())
        .env("ROOT", &root)
        .env("PIDFILE", &pidfile)
        .current_dir(sb.path("work"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let started = std::time::Instant::now();
    let child = command.spawn().unwrap();
    let _cleanup = KillPids(vec![pidfile.clone()], child.id() as i32);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(child.wait_with_output().unwrap()));
    // 2 s of timeout, 10 s between SIGTERM and SIGKILL, and slack for a
    // loaded machine: far less than the two minutes the root process
    // sleeps.
    let bound = std::time::Duration::from_secs(2 + 10 + 20);
    let out = rx
        .recv_timeout(bound)
        .unwrap_or_else(|_| panic!("the run was still going after {bound:?}"));
    let took = started.elapsed();
    let root_pid: i32 = std::fs::read_to_string(&pidfile)
        .expect("the root process started")
        .trim()
        .parse()
        .unwrap();
    assert!(
        alive(root_pid),
        "the root process {root_pid} was ended: the test proves nothing"
    );
    assert_eq!(
        std::fs::read_to_string(sb.kubeconfig()).unwrap(),
        TWO_CONTEXTS,
        "rolled back"
    );
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(sb.tmp_entries().is_empty(), "{:?} {err}", sb.tmp_entries());
    (out.status.code().unwrap_or(-1), err, root_pid, took)
}

/// The command itself becomes root (`exec sudo ...`): SIGTERM and SIGKILL
/// of its group fail with EPERM. The run gives up on it after the grace
/// period, says which process it could not end and why, rolls back and
/// exits 1.
fn a_timeout_bounds_a_command_run_as_another_user() {
    let (code, err, pid, took) = run_as_nobody_with_root_step(
        r#"exec "$ROOT" --reuid=0 --regid=0 --clear-groups sh -c 'echo $$ > "$PIDFILE"; exec sleep 120'"#,
    );
    assert_eq!(code, 1, "{err}");
    let err = unwrapped(&err);
    assert!(err.contains("step `sudo` timed out after 2s"), "{err}");
    assert!(
        err.contains(&format!("pid {pid} (user 0): Operation not permitted")),
        "{err}"
    );
    assert!(err.contains("rolled back"), "{err}");
    assert!(
        took.as_secs() >= 12,
        "gave up before the grace period: {took:?}"
    );
}

/// The command (nobody's `sh`) ends at SIGTERM, but leaves a root process
/// that holds its output open: reading the output stops after the grace
/// period, and the process is reported, not waited for.
fn a_timeout_bounds_output_held_by_another_users_process() {
    let (code, err, pid, _) = run_as_nobody_with_root_step(
        r#""$ROOT" --reuid=0 --regid=0 --clear-groups sh -c 'echo $$ > "$PIDFILE"; exec sleep 120' &
          wait"#,
    );
    assert_eq!(code, 1, "{err}");
    let err = unwrapped(&err);
    assert!(err.contains("step `sudo` timed out after 2s"), "{err}");
    assert!(
        err.contains(&format!("pid {pid} (user 0): Operation not permitted")),
        "{err}"
    );
    assert!(err.contains("rolled back"), "{err}");
}

/// A step that edits the kubeconfig, then floods its stdout (`yes`) with a
/// 2 s timeout, while `reader` gets stackhook's stdout. Returns the exit
/// code and stderr, or fails when the run lasts longer than its timeout,
/// the kill grace and slack for a loaded machine allow.
fn flood_with_stdout_read_by(
    env: &[(&str, &str)],
    reader: impl FnOnce(std::process::ChildStdout) + Send + 'static,
) -> (i32, String) {
    let sb = Sandbox::new();
    std::fs::write(sb.kubeconfig(), TWO_CONTEXTS).unwrap();
    let spec = sb.write_spec(
        "version: 1\nsteps:\n  - provider: run\n    name: flood\n    timeout: 2s\n    with:\n      commands:\n        - |\n          echo 'changed: true' >> \"$KUBECONFIG\"\n          yes\n",
    );
    let mut child = Running(spawn(&sb, &spec, env));
    let stdout = child.0.stdout.take().unwrap();
    let mut stderr = child.0.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    // stderr ends when stackhook (and the worker) exit.
    std::thread::spawn(move || {
        let mut err = String::new();
        let _ = stderr.read_to_string(&mut err);
        let _ = tx.send(err);
    });
    std::thread::spawn(move || reader(stdout));
    let bound = std::time::Duration::from_secs(2 + 10 + 10);
    let err = rx
        .recv_timeout(bound)
        .unwrap_or_else(|_| panic!("the run was still going after {bound:?}"));
    let code = child.0.wait().unwrap().code().unwrap_or(-1);
    assert_eq!(
        std::fs::read_to_string(sb.kubeconfig()).unwrap(),
        TWO_CONTEXTS,
        "rolled back: {err}"
    );
    assert!(sb.tmp_entries().is_empty(), "{:?}", sb.tmp_entries());
    (code, unwrapped(&err))
}

/// stackhook's stdout is a pipe read far slower than `yes` writes (the
/// pause between reads shapes the reader; nothing waits on it): the
/// deadline holds anyway.
fn a_timeout_bounds_a_flood_read_slowly() {
    let (code, err) = flood_with_stdout_read_by(&[], |mut stdout| {
        let mut buf = [0u8; 16 * 1024];
        while stdout.read(&mut buf).is_ok_and(|n| n > 0) {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    });
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("step `flood` timed out after 2s"), "{err}");
    assert!(err.contains("rolled back"), "{err}");
}

/// stackhook's stdout is a pipe whose read end stays open and is never
/// read: output is dropped at the deadline, and said so; GitHub's group
/// markers, which stackhook writes to stdout itself, do not hang the run
/// either.
fn a_timeout_bounds_a_flood_that_is_never_read() {
    let (held, release) = std::sync::mpsc::channel::<()>();
    let env = [("GITHUB_ACTIONS", "true")];
    let (code, err) = flood_with_stdout_read_by(&env, move |stdout| {
        // Held open, unread, until the test is over.
        let _ = release.recv();
        drop(stdout);
    });
    drop(held);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("step `flood` timed out after 2s"), "{err}");
    assert!(err.contains("stdout was not read in time"), "{err}");
    assert!(err.contains("rolled back"), "{err}");
}
