//! Running a plan as it is: preflight, then each step's commands with
//! `sh -c` in their own process group, output streamed with secrets masked,
//! timeouts, retries, signals, and the journal that rolls everything back
//! unless the whole run succeeds. Never renders anything.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use indexmap::IndexMap;

use crate::commands::Failure;
use crate::diagnostic::Diag;
use crate::interpolate::Value;
use crate::plan::{Plan, PlanStep};
use crate::preview::Paint;
use crate::resolve;
use crate::rollback::{self, Journal};
use crate::secrets::{self, Masker};
use crate::shell;
use crate::signals;
use crate::spec::Spec;

pub struct Options {
    /// GitHub Actions: fold each step's output into a log group.
    pub github_groups: bool,
    pub verbose: bool,
    pub quiet: bool,
    pub env_file: Option<PathBuf>,
    pub paint: Paint,
}

/// How long a command's process group gets between SIGTERM and SIGKILL.
const KILL_GRACE: Duration = Duration::from_secs(10);
/// How long output may stay open after the command exits (a background
/// process holding the pipe) before its process group is killed.
const DRAIN_GRACE: Duration = Duration::from_secs(5);
const STDERR_TAIL: usize = 20;

/// Checks that a run can start: no variable missing, every CLI on PATH.
/// Nothing has run and nothing was written when this fails.
pub fn preflight(spec: &Spec, plan: &Plan) -> Result<(), Failure> {
    let mut diags = Vec::new();
    if !plan.missing_env.is_empty() {
        diags.push(resolve::missing_diag(spec.source(), &plan.missing_env));
    }
    let src = spec.source();
    for tool in plan.tools.iter().filter(|t| !t.found) {
        let mut d = Diag::new(
            "stackhook::preflight::missing_cli",
            format!("`{}` is not on PATH", tool.name),
        );
        let mut first = true;
        for step in plan
            .steps
            .iter()
            .filter(|s| s.requires.contains(&tool.name))
        {
            let label = format!("step `{}` needs {}", step.name, tool.name);
            d = if first {
                d.at(src, step.span, label)
            } else {
                d.and(step.span, label)
            };
            first = false;
        }
        let help = match &tool.hint {
            Some(h) => format!("install {} or run on an image that has it: {h}", tool.name),
            None => format!("install {} or add its directory to PATH", tool.name),
        };
        diags.push(d.help(help));
    }
    if diags.is_empty() {
        Ok(())
    } else {
        Err(Failure::Invalid(diags))
    }
}

/// Environment variables, as the runner hands them to commands.
type Env = BTreeMap<String, String>;

fn materialize(value: &Value, env: &Env) -> Result<String, Diag> {
    value
        .materialize(|name| env.get(name).cloned())
        .map_err(|name| {
            Diag::new(
                "stackhook::run::unset",
                format!("{name} is not set at run time"),
            )
        })
}

/// What the run writes on screen, masked.
struct Out {
    masker: Masker,
    quiet: bool,
    verbose: bool,
    paint: Paint,
}

impl Out {
    fn note(&self, text: &str) {
        if !self.quiet {
            let mut err = std::io::stderr().lock();
            let _ = writeln!(err, "{}", self.masker.mask(text));
        }
    }
}

#[derive(Debug)]
enum Outcome {
    Ok,
    Failed { status: String, stderr: Vec<String> },
    TimedOut { stderr: Vec<String> },
    Interrupted(i32),
}

struct StepResult {
    name: String,
    status: &'static str,
    duration: Duration,
}

pub fn run(spec: &Spec, plan: &Plan, opts: &Options) -> Result<(), Failure> {
    preflight(spec, plan)?;
    signals::install().map_err(|e| {
        Diag::new(
            "stackhook::run::signals",
            format!("cannot handle signals: {e}"),
        )
    })?;

    let process: Env = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect();
    let mut env = process.clone();
    // The spec's env, resolved against the process environment.
    let mut derived_secrets = Vec::new();
    for (name, entry) in &plan.env {
        let v = materialize(&entry.value, &process)?;
        if entry.secret {
            derived_secrets.push(v.clone());
        }
        env.insert(name.clone(), v);
    }
    // plan.secrets holds every secret name the environment had when the
    // plan was made, by name, by the spec's `secrets:` or by a provider.
    let mut secret_values: Vec<String> = plan
        .secrets
        .iter()
        .filter_map(|name| env.get(name).cloned())
        .collect();
    secret_values.extend(derived_secrets.iter().cloned());
    let out = Out {
        masker: Masker::new(secret_values),
        quiet: opts.quiet,
        verbose: opts.verbose,
        paint: opts.paint,
    };
    let spacelift = process
        .get("TF_VAR_spacelift_run_id")
        .is_some_and(|v| !v.is_empty());
    if spacelift {
        register_masks(&derived_secrets);
    }

    let tmp_base = std::env::temp_dir();
    let kubeconfig = PathBuf::from(&plan.kubeconfig);
    let mut journal = Journal::default();
    for stale in rollback::sweep_stale(&tmp_base) {
        out.note(&format!(
            "removed {} left by a run that was killed",
            stale.display()
        ));
    }
    let setup = (|| -> std::io::Result<PathBuf> {
        let dir = journal.create_run_dir(&tmp_base)?;
        journal.snapshot_kubeconfig(&kubeconfig)?;
        Ok(dir)
    })();
    let run_dir = setup.map_err(|e| {
        Failure::Failed(vec![Diag::new(
            "stackhook::run::setup",
            format!("cannot prepare the run: {e}"),
        )])
    })?;
    let self_exe = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "stackhook".into());
    env.insert("KUBECONFIG".into(), plan.kubeconfig.clone());
    env.insert("STACKHOOK_TMPDIR".into(), run_dir.display().to_string());
    env.insert("STACKHOOK".into(), self_exe);

    let mut results: Vec<StepResult> = Vec::new();
    let mut exported: IndexMap<String, Value> = IndexMap::new();
    let total = plan.steps.len();
    let mut failure: Option<(usize, usize, Outcome)> = None;

    'steps: for (i, step) in plan.steps.iter().enumerate() {
        let started = Instant::now();
        let mut step_env = env.clone();
        for (name, entry) in &step.env {
            let v = materialize(&entry.value, &env)?;
            step_env.insert(name.clone(), v);
        }
        let attempts = step.retries + 1;
        let mut backoff = Duration::from_secs(1);
        for attempt in 1..=attempts {
            let retry = if attempt > 1 {
                format!(" (attempt {attempt}/{attempts})")
            } else {
                String::new()
            };
            let title = format!("[{}/{total}] {}{retry}", i + 1, step.name);
            if opts.github_groups {
                println!("::group::{title}");
            }
            out.note(&out.paint.bold(&format!("==> {title}")));
            let result = run_step(step, &step_env, &journal, &out);
            if opts.github_groups {
                println!("::endgroup::");
            }
            match result {
                Ok(()) => {
                    for (name, value) in &step.exports {
                        let v = materialize(value, &step_env)?;
                        env.insert(name.clone(), v);
                        exported.insert(name.clone(), value.clone());
                    }
                    results.push(StepResult {
                        name: step.name.clone(),
                        status: "ok",
                        duration: started.elapsed(),
                    });
                    continue 'steps;
                }
                Err((command, Outcome::Interrupted(sig))) => {
                    failure = Some((i, command, Outcome::Interrupted(sig)));
                    break;
                }
                Err((command, outcome)) => {
                    if attempt < attempts {
                        let why = match &outcome {
                            Outcome::TimedOut { .. } => "timed out".to_string(),
                            Outcome::Failed { status, .. } => status.clone(),
                            _ => String::new(),
                        };
                        out.note(&out.paint.yellow(&format!(
                            "step `{}` {why}; retrying in {}",
                            step.name,
                            humantime::format_duration(backoff)
                        )));
                        if signals::sleep(backoff) {
                            failure = Some((
                                i,
                                command,
                                Outcome::Interrupted(signals::received().unwrap_or(libc::SIGINT)),
                            ));
                            break;
                        }
                        backoff = (backoff * 2).min(Duration::from_secs(30));
                        continue;
                    }
                    failure = Some((i, command, outcome));
                    break;
                }
            }
        }
        let status = match &failure {
            Some((_, _, Outcome::Interrupted(_))) => "interrupted",
            Some((_, _, Outcome::TimedOut { .. })) => "timed out",
            _ => "failed",
        };
        results.push(StepResult {
            name: step.name.clone(),
            status,
            duration: started.elapsed(),
        });
        break;
    }

    let Some((index, command, outcome)) = failure else {
        journal.commit().map_err(|e| {
            Failure::Failed(vec![Diag::new(
                "stackhook::run::commit",
                format!("cannot finish: {e}"),
            )])
        })?;
        if let Some(path) = &opts.env_file {
            write_env_file(path, &exported).map_err(|e| {
                Failure::Failed(vec![Diag::new(
                    "stackhook::run::env_file",
                    format!("cannot write {}: {e}", path.display()),
                )])
            })?;
        }
        summary(&out, &results, total);
        return Ok(());
    };

    // Secrets first: the journal removes the temp directory, then restores
    // the kubeconfig.
    let problems = journal.rollback();
    for step in &plan.steps[index + 1..] {
        results.push(StepResult {
            name: step.name.clone(),
            status: "not run",
            duration: Duration::ZERO,
        });
    }
    summary(&out, &results, total);
    let rolled = if problems.is_empty() {
        format!(
            "rolled back: temp files removed, {} restored",
            plan.kubeconfig
        )
    } else {
        format!("rollback incomplete: {}", problems.join("; "))
    };
    let step = &plan.steps[index];
    let diag = failure_diag(spec, step, command, &outcome, &rolled, &out.masker);
    match outcome {
        Outcome::Interrupted(sig) => Err(Failure::Interrupted(sig, vec![diag])),
        _ => Err(Failure::Failed(vec![diag])),
    }
}

/// Spacelift masks any value announced this way in its logs. Only values
/// stackhook derives are announced: plain variables are masked already.
fn register_masks(values: &[String]) {
    let mut stdout = std::io::stdout().lock();
    for v in values
        .iter()
        .filter(|v| v.len() >= secrets::MIN_MASKED_LEN && !v.contains('\n'))
    {
        let _ = writeln!(stdout, "::add-mask {v}");
    }
    let _ = stdout.flush();
}

fn summary(out: &Out, results: &[StepResult], total: usize) {
    let failed = results.iter().any(|r| r.status != "ok");
    if out.quiet && !failed {
        return;
    }
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "\n{}", out.paint.bold("Summary:"));
    for (i, r) in results.iter().enumerate() {
        let status = match r.status {
            "ok" => out.paint.green(r.status),
            "not run" => out.paint.dim(r.status),
            other => out.paint.red(other),
        };
        let _ = writeln!(
            err,
            "  [{}/{total}] {:<24} {:<12} {:.1}s",
            i + 1,
            r.name,
            status,
            r.duration.as_secs_f64()
        );
    }
}

/// One attempt of a step: temp files written, commands run in order, temp
/// files removed after their last command and at the end, whatever happens.
fn run_step(
    step: &PlanStep,
    env: &Env,
    journal: &Journal,
    out: &Out,
) -> Result<(), (usize, Outcome)> {
    let deadline = Instant::now()
        + humantime::parse_duration(&step.timeout).unwrap_or(crate::spec::DEFAULT_TIMEOUT);
    let result = (|| {
        for t in &step.tempfiles {
            if let Some(content) = &t.content {
                let text = materialize(content, env).map_err(|d| {
                    (
                        0,
                        Outcome::Failed {
                            status: d.message,
                            stderr: Vec::new(),
                        },
                    )
                })?;
                journal
                    .write_tempfile(&t.name, text.as_bytes())
                    .map_err(|e| {
                        (
                            0,
                            Outcome::Failed {
                                status: format!("cannot write temp file {}: {e}", t.name),
                                stderr: Vec::new(),
                            },
                        )
                    })?;
            }
        }
        for (j, command) in step.commands.iter().enumerate() {
            if let Some(sig) = signals::received() {
                return Err((j + 1, Outcome::Interrupted(sig)));
            }
            if out.verbose {
                out.note(&out.paint.dim(&format!("$ {command}")));
            }
            let outcome = run_command(command, env, &step.name, deadline, out);
            for t in step
                .tempfiles
                .iter()
                .filter(|t| t.remove_after == Some(j + 1))
            {
                journal.remove_tempfile(&t.name);
            }
            match outcome {
                Outcome::Ok => {}
                other => return Err((j + 1, other)),
            }
        }
        Ok(())
    })();
    for t in &step.tempfiles {
        journal.remove_tempfile(&t.name);
    }
    result
}

/// Reads one output stream line by line, masks, prefixes and writes it;
/// keeps the last lines for the error report.
fn pump(
    reader: os_pipe::PipeReader,
    prefix: String,
    to_stderr: bool,
    masker: Masker,
    quiet: bool,
    tail: Arc<Mutex<Vec<String>>>,
) -> std::thread::JoinHandle<()> {
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
                if to_stderr {
                    let _ = std::io::stderr().lock().write_all(text.as_bytes());
                } else {
                    let mut o = std::io::stdout().lock();
                    let _ = o.write_all(text.as_bytes());
                    let _ = o.flush();
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

fn run_command(command: &str, env: &Env, step: &str, deadline: Instant, out: &Out) -> Outcome {
    let spawn_error = |e: std::io::Error| Outcome::Failed {
        status: format!("could not start sh: {e}"),
        stderr: Vec::new(),
    };
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
    let prefix = format!("[{step}] ");
    let stdout_tail = Arc::new(Mutex::new(Vec::new()));
    let stderr_tail = Arc::new(Mutex::new(Vec::new()));
    let pumps = [
        pump(
            out_r,
            prefix.clone(),
            false,
            out.masker.clone(),
            out.quiet,
            stdout_tail,
        ),
        pump(
            err_r,
            prefix,
            true,
            out.masker.clone(),
            out.quiet,
            stderr_tail.clone(),
        ),
    ];

    let mut timed_out = false;
    let mut escalate_at: Option<Instant> = None;
    let status = loop {
        match handle.wait_timeout(Duration::from_millis(50)) {
            Ok(Some(output)) => break Ok(output.status),
            Ok(None) => {}
            Err(e) => break Err(e),
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
    };
    signals::clear_child_group();

    // Output may still be held open by a background process of the group.
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

/// Hints for failures whose cause is common and recognisable.
fn hint(stderr: &[String]) -> Option<&'static str> {
    let text = stderr.join("\n").to_lowercase();
    let has = |s: &str| text.contains(s);
    if has("gke-gcloud-auth-plugin") {
        Some(
            "kubectl needs gke-gcloud-auth-plugin for this kubeconfig: install it (`gcloud components install gke-gcloud-auth-plugin`), or keep `token_credentials: true` so the kubeconfig holds the token instead",
        )
    } else if has("kubelogin") && (has("not found") || has("no such file")) {
        Some(
            "kubelogin is not installed: add it to the runner image (`az aks install-cli` installs it)",
        )
    } else if has("unauthorized")
        || has("401")
        || has("expired")
        || has("invalid_grant")
        || has("invalid token")
        || has("authentication failed")
        || has("invalidclienttokenid")
    {
        Some(
            "the credentials were refused: the token or secret is missing, wrong or expired; check the variables the step reads (`stackhook providers NAME` lists them)",
        )
    } else if has("resourcenotfound")
        || has("not found") && has("cluster")
        || has("was not found")
        || has("404")
    {
        Some(
            "the cluster was not found: check its name, region or zone, project, subscription or resource group",
        )
    } else if has("command not found") || has("not found") && has("sh:") {
        Some(
            "a command is missing on PATH: declare it in the provider's `requires` so preflight catches it",
        )
    } else if has("could not resolve host") || has("connection refused") || has("timed out") {
        Some("the API could not be reached: check the network path from the runner to the endpoint")
    } else {
        None
    }
}

fn failure_diag(
    spec: &Spec,
    step: &PlanStep,
    command: usize,
    outcome: &Outcome,
    rolled: &str,
    masker: &Masker,
) -> Diag {
    let cmd_text = step
        .commands
        .get(command.saturating_sub(1))
        .map(String::as_str)
        .unwrap_or("");
    let (message, stderr) = match outcome {
        Outcome::Failed { status, stderr } => (
            format!(
                "step `{}` failed: command {command} of {} {status}",
                step.name,
                step.commands.len()
            ),
            stderr.as_slice(),
        ),
        Outcome::TimedOut { stderr } => (
            format!(
                "step `{}` timed out after {} (command {command} of {})",
                step.name,
                step.timeout,
                step.commands.len()
            ),
            stderr.as_slice(),
        ),
        Outcome::Interrupted(sig) => (
            format!(
                "interrupted by {} during step `{}`",
                signals::name(*sig),
                step.name
            ),
            &[][..],
        ),
        Outcome::Ok => unreachable!("only failures are reported"),
    };
    let mut help = format!(
        "{rolled}\ncommand:\n  {}",
        masker.mask(cmd_text).replace('\n', "\n  ")
    );
    if !stderr.is_empty() {
        help.push_str(&format!(
            "\nlast lines of stderr:\n  {}",
            stderr.join("\n  ")
        ));
    }
    if let Outcome::TimedOut { .. } = outcome {
        help.push_str("\nhint: raise the step's `timeout:` if the command is slow, or check what it waits for");
    } else if let Some(h) = hint(stderr) {
        help.push_str(&format!("\nhint: {h}"));
    }
    let code = match outcome {
        Outcome::TimedOut { .. } => "stackhook::run::timeout",
        Outcome::Interrupted(_) => "stackhook::run::interrupted",
        _ => "stackhook::run::step_failed",
    };
    Diag::new(code, message)
        .at(spec.source(), step.span, "this step")
        .help(help)
}

/// `export NAME=value` lines for the caller's shell; secrets as references
/// to the caller's own variables, never as values.
pub fn env_file_text(exported: &IndexMap<String, Value>) -> String {
    let mut text = String::from("# written by stackhook run; source it: . FILE\n");
    for (name, value) in exported {
        text.push_str(&format!("export {name}={}\n", shell::word(value)));
    }
    text
}

fn write_env_file(path: &Path, exported: &IndexMap<String, Value>) -> std::io::Result<()> {
    crate::kubeconfig::write_atomic(path, env_file_text(exported).as_bytes())
}
