//! What a run tells its user: progress notes, the summary of step
//! outcomes, and the diagnostic of a failure with hints for common causes.
//! Everything goes through the masker.

use std::fmt::Write as _;
use std::time::Duration;

use crate::base::diagnostic::{Code, Diag};
use crate::base::output::{self, Stream};
use crate::base::paint::{Paint, visible, visible_line};
use crate::plan::assemble::PlanStep;
use crate::run::masker::Masker;
use crate::run::process::Outcome;
use crate::run::signals;
use crate::spec::document::Spec;

/// The run's console: stderr for notes, masked.
pub struct Console {
    pub masker: Masker,
    pub quiet: bool,
    pub verbose: bool,
    pub paint: Paint,
}

impl Console {
    pub fn note(&self, text: &str) {
        if !self.quiet {
            let mut line = self.masker.mask(text);
            line.push('\n');
            write_stderr(&line);
        }
    }
}

/// One write for a whole message: stderr is unbuffered, and `writeln!`
/// on it makes a system call per piece. A run's log is not its result
/// (the login is): a note that cannot be written is lost, not fatal.
fn write_stderr(text: &str) {
    let _ = output::write(Stream::Stderr, text);
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepStatus {
    Ok,
    Failed,
    TimedOut,
    Interrupted,
    NotRun,
}

impl StepStatus {
    pub fn of(outcome: &Outcome) -> Self {
        match outcome {
            Outcome::Ok => StepStatus::Ok,
            Outcome::Failed { .. } => StepStatus::Failed,
            Outcome::TimedOut { .. } => StepStatus::TimedOut,
            Outcome::Interrupted(_) => StepStatus::Interrupted,
            Outcome::Abandoned { after, .. } => StepStatus::of(after),
        }
    }

    fn label(self) -> &'static str {
        match self {
            StepStatus::Ok => "ok",
            StepStatus::Failed => "failed",
            StepStatus::TimedOut => "timed out",
            StepStatus::Interrupted => "interrupted",
            StepStatus::NotRun => "not run",
        }
    }
}

pub struct StepResult {
    pub name: String,
    pub status: StepStatus,
    pub duration: Duration,
}

pub fn summary(console: &Console, results: &[StepResult], total: usize) {
    let failed = results.iter().any(|r| r.status != StepStatus::Ok);
    if console.quiet && !failed {
        return;
    }
    let paint = console.paint;
    let mut err = String::new();
    let _ = writeln!(err, "\n{}", paint.bold("Summary:"));
    for (i, r) in results.iter().enumerate() {
        let label = r.status.label();
        let status = match r.status {
            StepStatus::Ok => paint.green(label),
            StepStatus::NotRun => paint.dim(label),
            _ => paint.red(label),
        };
        let _ = writeln!(
            err,
            "  [{}/{total}] {:<24} {:<12} {:.1}s",
            i + 1,
            visible_line(&r.name),
            status,
            r.duration.as_secs_f64()
        );
    }
    write_stderr(&err);
}

/// Hints for failures whose cause is common and recognisable.
fn hint(stderr: &[String]) -> Option<&'static str> {
    let text = stderr.join("\n").to_lowercase();
    let has = |s: &str| text.contains(s);
    if has("gke-gcloud-auth-plugin") {
        Some(
            "this kubeconfig's user runs gke-gcloud-auth-plugin, which must be on PATH and able to get a token from gcloud (or, with --use_application_default_credentials, from GOOGLE_APPLICATION_CREDENTIALS); `credentials: exec`, the gke provider's default, needs neither",
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

/// The diagnostic of a failed step: what failed, the command (which holds
/// no secret value, masked anyway), the last lines of stderr, and a hint.
pub fn failure(
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
    let n = step.commands.len();
    let (outcome, left) = match outcome {
        Outcome::Abandoned { left, after } => (after.as_ref(), left.as_slice()),
        _ => (outcome, &[][..]),
    };
    let (code, message, stderr) = match outcome {
        Outcome::Failed { status, stderr } => (
            Code::RunStepFailed,
            format!(
                "step `{}` failed: command {command} of {n} {status}",
                step.name
            ),
            stderr.as_slice(),
        ),
        Outcome::TimedOut { stderr } => (
            Code::RunTimeout,
            format!(
                "step `{}` timed out after {} (command {command} of {n})",
                step.name,
                humantime::format_duration(step.timeout)
            ),
            stderr.as_slice(),
        ),
        Outcome::Interrupted(sig) => (
            Code::RunInterrupted,
            format!(
                "interrupted by {} during step `{}`",
                signals::name(*sig),
                step.name
            ),
            &[][..],
        ),
        Outcome::Ok => (
            Code::RunStepFailed,
            format!(
                "step `{}`: command {command} of {n} left processes running",
                step.name
            ),
            &[][..],
        ),
        Outcome::Abandoned { .. } => unreachable!("not nested"),
    };
    let mut help = format!(
        "{rolled}\ncommand:\n  {}",
        visible(&masker.mask(cmd_text)).replace('\n', "\n  ")
    );
    if !left.is_empty() {
        // Pids, users and errors only: nothing the command printed.
        help.push_str(&format!(
            "\nleft running, as stackhook may not signal them (another user's, as with sudo); it stopped waiting for them:\n  {}",
            left.join("\n  ")
        ));
    }
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
    Diag::new(code, message)
        .at(spec.source(), step.span, "this step")
        .help(help)
}
