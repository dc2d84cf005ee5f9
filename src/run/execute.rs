//! Running a plan as it is: preflight, then each step's commands with
//! retries, and at the end either commit (temp files gone, kubeconfig
//! kept, env file written) or rollback. Never renders anything.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use indexmap::IndexMap;

use crate::base::diagnostic::{Code, Diag};
use crate::base::failure::Failure;
use crate::base::output::{self, Stream};
use crate::base::paint::{Paint, visible, visible_line};
use crate::base::timeline;
use crate::base::value::Value;
use crate::plan::assemble::{Plan, PlanStep};
use crate::plan::resolve::{self, ProcessEnv};
use crate::run::env_file;
use crate::run::lock::LockError;
use crate::run::masker::Masker;
use crate::run::outlet;
use crate::run::preflight;
use crate::run::process::{self, Env, Outcome, Output};
use crate::run::recovery;
use crate::run::report::{self, Console, StepResult, StepStatus};
use crate::run::rollback::{self, Journal};
use crate::run::secret_values;
use crate::run::signals;
use crate::spec::document::{RESERVED_ENV, Spec};

pub struct Options {
    /// GitHub Actions: fold each step's output into a log group.
    pub github_groups: bool,
    pub verbose: bool,
    pub quiet: bool,
    pub env_file: Option<PathBuf>,
    pub paint: Paint,
    /// How long to wait for another run that holds the kubeconfig.
    pub lock_wait: Duration,
}

/// Where a run stopped.
struct Stop {
    step: usize,
    /// 1-based index of the command that failed.
    command: usize,
    outcome: Outcome,
}

pub fn run(spec: &Spec, plan: &Plan, process: &ProcessEnv, opts: &Options) -> Result<(), Failure> {
    let env_file = preflight::check(spec, plan, opts.env_file.as_deref())?;
    // Whatever the run and its commands create is private: temp files,
    // downloads, a kubeconfig a CLI writes anew.
    // SAFETY: umask has no preconditions; this process runs no other threads' file creation.
    unsafe {
        libc::umask(0o077);
    }
    signals::install()
        .map_err(|e| Diag::new(Code::RunSignals, format!("cannot handle signals: {e}")))?;
    let mut env: Env = process.clone();
    // The spec's env, resolved against the process environment.
    for (name, entry) in &plan.env {
        let v = entry.value.materialize(|n| process.get(n).cloned())?;
        env.insert(name.clone(), v);
    }
    // Read once: masked here, passed on to every command as it is.
    // But the names the runner sets (a STACKHOOK_TMPDIR that is not UTF-8
    // would replace the run's own).
    let mut raw_env = resolve::raw_env();
    raw_env.retain(|(name, _)| RESERVED_ENV.iter().all(|r| name != r));
    let secret_values = secret_values::of(plan, &env, &raw_env);
    let console = Console {
        masker: Masker::new(&secret_values),
        quiet: opts.quiet,
        verbose: opts.verbose,
        paint: opts.paint,
    };
    let announce = opts.github_groups;
    // Before anything runs: a value GitHub was not told of would show in
    // later steps' logs. Nothing ran, as after a failed preflight (exit 2).
    if announce && let Err(e) = secret_values::announce(&secret_values) {
        let diag = output::unwritten(Stream::Stdout, &e).help(
            "GitHub Actions could not be told which values to mask (`::add-mask::`): nothing ran",
        );
        return Err(Failure::Invalid(vec![diag]));
    }
    timeline::mark("checked");
    let mut runner = Runner::start(plan, opts, console, env, announce)?;
    timeline::mark("run directory, lock and record");
    runner.secret_values = secret_values;
    runner.raw_env = raw_env;
    // What `plan` warns about (a static token, an unchecked download, a
    // token about to expire) is said where the hook runs too.
    for w in &plan.warnings {
        let console = &runner.console;
        console.note(
            &console
                .paint
                .yellow(&format!("warning: {}", visible_line(w))),
        );
    }
    match runner.steps() {
        None => runner.commit(env_file),
        Some(stop) => Err(runner.roll_back(spec, stop)),
    }
}

/// A run in progress.
struct Runner<'a> {
    plan: &'a Plan,
    opts: &'a Options,
    console: Console,
    /// What every command gets; exports of finished steps are added.
    env: Env,
    journal: Journal,
    results: Vec<StepResult>,
    /// Announce secret values to GitHub Actions' masker.
    announce: bool,
    /// The value of every secret of the run so far (the environment's,
    /// the spec's env, exports of finished steps).
    secret_values: Vec<Vec<u8>>,
    /// Whether the console's masker lacks values of `secret_values`.
    masker_stale: bool,
    /// What of the environment is not UTF-8, passed on as it is.
    raw_env: Vec<(OsString, OsString)>,
}

impl<'a> Runner<'a> {
    /// Sweeps what killed runs left, then creates the run's private
    /// directory and snapshots the kubeconfig.
    fn start(
        plan: &'a Plan,
        opts: &'a Options,
        console: Console,
        mut env: Env,
        announce: bool,
    ) -> Result<Self, Failure> {
        let tmp_base = std::env::temp_dir();
        let kubeconfig = PathBuf::from(&plan.kubeconfig);
        for stale in rollback::sweep_stale(&tmp_base) {
            console.note(&format!(
                "removed {} left by a run that was killed",
                visible_line(&stale.display().to_string())
            ));
        }
        let mut journal = Journal::handed_over_to(recovery::guardian());
        let setup_failed = |e: std::io::Error| {
            let message = format!("cannot prepare the run: {e}");
            Failure::failed(Diag::new(Code::RunSetup, message))
        };
        let run_dir = journal.create_run_dir(&tmp_base).map_err(setup_failed)?;
        // The message names the kubeconfig's path.
        let waiting = |m: &str| console.note(&visible_line(m));
        match journal.take_kubeconfig(&kubeconfig, opts.lock_wait, waiting) {
            Ok(()) => {}
            Err(LockError::Io(e)) => return Err(setup_failed(e)),
            Err(e) => return Err(e.failure(&kubeconfig, opts.lock_wait)),
        }
        let self_exe = std::env::current_exe()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| "stackhook".into());
        // The names a spec may not set itself.
        let [kubeconfig_var, tf_kubeconfig_var, tmpdir_var, self_var] = RESERVED_ENV;
        env.insert(kubeconfig_var.into(), plan.kubeconfig.clone());
        // Terraform's providers read KUBE_CONFIG_PATH: one the caller set
        // (UTF-8 or not) names the run's kubeconfig, as in the env file,
        // not a file the run never locked; one not set stays unset.
        if std::env::var_os(tf_kubeconfig_var).is_some() {
            env.insert(tf_kubeconfig_var.into(), plan.kubeconfig.clone());
        }
        env.insert(tmpdir_var.into(), run_dir.display().to_string());
        env.insert(self_var.into(), self_exe);
        Ok(Runner {
            plan,
            opts,
            console,
            env,
            journal,
            results: Vec::new(),
            announce,
            secret_values: Vec::new(),
            masker_stale: false,
            raw_env: Vec::new(),
        })
    }

    /// Runs every step in order; where it stopped, if it did.
    fn steps(&mut self) -> Option<Stop> {
        let plan = self.plan;
        for (i, step) in plan.steps.iter().enumerate() {
            let started = Instant::now();
            let result = self.step(i, step);
            timeline::mark("step");
            let status = match &result {
                Ok(()) => StepStatus::Ok,
                Err(stop) => StepStatus::of(&stop.outcome),
            };
            self.results.push(StepResult {
                name: step.name.clone(),
                status,
                duration: started.elapsed(),
            });
            if let Err(stop) = result {
                return Some(stop);
            }
        }
        None
    }

    /// One step, with its retries; its exports are added on success.
    fn step(&mut self, i: usize, step: &PlanStep) -> Result<(), Stop> {
        let stop = |command, outcome| Stop {
            step: i,
            command,
            outcome,
        };
        // A step without its own `env:` runs in the run's environment, as
        // is; one with it, in a copy, its secrets masked too.
        let mut own_env = None;
        if !step.env.is_empty() {
            let mut env = self.env.clone();
            let mut derived = Vec::new();
            for (name, entry) in &step.env {
                let v = entry
                    .value
                    .materialize(|n| self.env.get(n).cloned())
                    .map_err(|d| stop(0, Outcome::not_started(d.message)))?;
                if self.plan.secrets.contains(name) {
                    derived.push(v.clone().into_bytes());
                }
                env.insert(name.clone(), v);
            }
            self.console.masker = Masker::new(self.secret_values.iter().chain(&derived));
            if self.announce {
                secret_values::announce_derived(&derived)
                    .map_err(|why| stop(0, Outcome::not_started(why)))?;
            }
            own_env = Some(env);
        } else if self.masker_stale {
            self.console.masker = Masker::new(&self.secret_values);
        }
        self.masker_stale = own_env.is_some();
        let step_env = own_env.as_ref().unwrap_or(&self.env);
        // Checked: the spec bounds `retries`, but a wrap to 0 attempts would
        // skip the step and report success.
        let attempts = step.retries.saturating_add(1);
        let mut backoff = Duration::from_secs(1);
        for attempt in 1..=attempts {
            self.begin(i, step, attempt, attempts);
            let result = self.attempt(step, step_env);
            if self.opts.github_groups {
                outlet::line_to_stdout("::endgroup::\n");
            }
            let (command, outcome) = match result {
                Ok(()) => break,
                Err(failed) => failed,
            };
            let why = match &outcome {
                // Not again beside processes of it that are still running.
                Outcome::Interrupted(_) | Outcome::Abandoned { .. } => {
                    return Err(stop(command, outcome));
                }
                _ if attempt == attempts => return Err(stop(command, outcome)),
                Outcome::TimedOut { .. } => "timed out".to_string(),
                Outcome::Failed { status, .. } => status.clone(),
                Outcome::Ok => String::new(),
            };
            self.console.note(&self.console.paint.yellow(&format!(
                "step `{}` {why}; retrying in {}",
                visible_line(&step.name),
                humantime::format_duration(backoff)
            )));
            if signals::sleep(backoff) {
                let sig = signals::received().unwrap_or(libc::SIGINT);
                return Err(stop(command, Outcome::Interrupted(sig)));
            }
            backoff = backoff.saturating_mul(2).min(Duration::from_secs(30));
        }
        let mut exports = Vec::new();
        let mut derived = Vec::new();
        for (name, value) in &step.exports {
            let v = value
                .materialize(|n| step_env.get(n).cloned())
                .map_err(|d| stop(0, Outcome::not_started(d.message)))?;
            if self.plan.secrets.contains(name) {
                derived.push(v.clone().into_bytes());
            }
            exports.push((name.clone(), v));
        }
        self.env.extend(exports);
        if !derived.is_empty() {
            if self.announce {
                secret_values::announce_derived(&derived)
                    .map_err(|why| stop(0, Outcome::not_started(why)))?;
            }
            self.secret_values.extend(derived);
            self.masker_stale = true;
        }
        Ok(())
    }

    /// An attempt's title, and its log group under GitHub Actions.
    fn begin(&self, i: usize, step: &PlanStep, attempt: u32, attempts: u32) {
        let retry = if attempt > 1 {
            format!(" (attempt {attempt}/{attempts})")
        } else {
            String::new()
        };
        let name = visible_line(&step.name);
        let title = format!("[{}/{}] {name}{retry}", i + 1, self.plan.steps.len());
        // The log's groups are not the run's result: lost, they are
        // lost (README, Exit codes).
        if self.opts.github_groups {
            outlet::line_to_stdout(&format!("::group::{title}\n"));
        }
        self.console
            .note(&self.console.paint.bold(&format!("==> {title}")));
    }

    /// One attempt of a step: temp files written, commands run in order,
    /// temp files removed after their last command and at the end,
    /// whatever happens.
    fn attempt(&self, step: &PlanStep, env: &Env) -> Result<(), (usize, Outcome)> {
        let timeout = step.timeout.min(crate::spec::document::MAX_TIMEOUT);
        let deadline = Instant::now() + timeout;
        let result = self.write_tempfiles(step, env).and_then(|()| {
            for (j, command) in step.commands.iter().enumerate() {
                if let Some(sig) = signals::received() {
                    return Err((j + 1, Outcome::Interrupted(sig)));
                }
                if self.console.verbose {
                    self.console
                        .note(&self.console.paint.dim(&format!("$ {}", visible(command))));
                }
                let output = Output {
                    raw_env: &self.raw_env,
                    prefix: format!("[{}] ", visible_line(&step.name)),
                    masker: &self.console.masker,
                    quiet: self.console.quiet,
                };
                let outcome = process::run(command, env, deadline, &output);
                for t in step
                    .tempfiles
                    .iter()
                    .filter(|t| t.remove_after == Some(j + 1))
                {
                    self.journal.remove_tempfile(&t.name);
                }
                match outcome {
                    Outcome::Ok => {}
                    other => return Err((j + 1, other)),
                }
            }
            Ok(())
        });
        for t in &step.tempfiles {
            self.journal.remove_tempfile(&t.name);
        }
        result
    }

    fn write_tempfiles(&self, step: &PlanStep, env: &Env) -> Result<(), (usize, Outcome)> {
        for t in &step.tempfiles {
            let Some(content) = &t.content else { continue };
            let text = content
                .materialize(|n| env.get(n).cloned())
                .map_err(|d| (0, Outcome::not_started(d.message)))?;
            self.journal
                .write_tempfile(&t.name, text.as_bytes())
                .map_err(|e| {
                    let status = format!("cannot write temp file {}: {e}", t.name);
                    (0, Outcome::not_started(status))
                })?;
        }
        Ok(())
    }

    /// Success: the env file is written (a failure to write it still rolls
    /// back), then temp files go and the kubeconfig stays.
    fn commit(mut self, env_file: Option<IndexMap<String, Value>>) -> Result<(), Failure> {
        if let (Some(path), Some(contents)) = (&self.opts.env_file, &env_file)
            && let Err(e) = env_file::write(path, contents)
        {
            let problems = self.journal.rollback();
            let help = if problems.is_empty() {
                "every step succeeded, but the run was rolled back".to_string()
            } else {
                format!("rollback incomplete: {}", problems.join("; "))
            };
            let message = format!("cannot write the env file {}: {e}", path.display());
            return Err(Failure::failed(
                Diag::new(Code::RunEnvFile, message).help(help),
            ));
        }
        let Runner {
            plan,
            console,
            journal,
            results,
            ..
        } = self;
        journal.commit().map_err(|e| {
            Failure::failed(Diag::new(Code::RunCommit, format!("cannot finish: {e}")))
        })?;
        report::summary(&console, &results, plan.steps.len());
        timeline::mark("committed");
        Ok(())
    }

    /// Failure: undo everything (secrets first: the temp directory goes
    /// before the kubeconfig is restored), then report.
    fn roll_back(mut self, spec: &Spec, stop: Stop) -> Failure {
        let problems = self.journal.rollback();
        for step in &self.plan.steps[stop.step + 1..] {
            self.results.push(StepResult {
                name: step.name.clone(),
                status: StepStatus::NotRun,
                duration: Duration::ZERO,
            });
        }
        report::summary(&self.console, &self.results, self.plan.steps.len());
        let rolled = if problems.is_empty() {
            format!(
                "rolled back: temp files removed, {} restored",
                visible_line(&self.plan.kubeconfig)
            )
        } else {
            format!(
                "rollback incomplete: {}",
                visible_line(&problems.join("; "))
            )
        };
        let step = &self.plan.steps[stop.step];
        let diag = report::failure(
            spec,
            step,
            stop.command,
            &stop.outcome,
            &rolled,
            &self.console.masker,
        );
        match stop.outcome.signal() {
            Some(sig) => Failure::Interrupted(sig, vec![diag]),
            None => Failure::failed(diag),
        }
    }
}
