//! `doctor` from a plan to its report: the plan's own findings, each
//! step's credentials and token files, the CLIs, the kubeconfig and its
//! contexts and, with `--cluster`, what each context's server says.
//! Nothing here logs in or writes anything.

use std::path::Path;
use std::time::{Duration, SystemTime};

use crate::base::paint::visible;
use crate::base::which::find_on_path;
use crate::doctor::cluster::{self, Kubectl};
use crate::doctor::contexts;
use crate::doctor::credentials;
use crate::doctor::finding::Finding;
use crate::doctor::report::{Report, StepReport, VERSION};
use crate::doctor::token_files;
use crate::doctor::tools;
use crate::doctor::visible_env::VisibleEnv;
use crate::plan::assemble::Plan;
use crate::plan::provider::Catalog;
use crate::plan::resolve::ProcessEnv;
use crate::run::masker::Masker;

pub struct Options<'a> {
    /// Each CLI call's deadline.
    pub timeout: Duration,
    /// Ask each context's server (`--cluster`).
    pub cluster: bool,
    /// `VERB RESOURCE` requests for `kubectl auth can-i`.
    pub can_i: &'a [String],
}

pub fn examine(plan: &Plan, catalog: &Catalog, process: &ProcessEnv, opts: &Options) -> Report {
    let env = VisibleEnv {
        process,
        secrets: &plan.secrets,
    };
    let mut plan_findings: Vec<Finding> = plan
        .missing_env
        .iter()
        .map(|m| {
            Finding::problem(
                "plan",
                format!(
                    "{} is not set ({}, {})",
                    m.name,
                    m.key,
                    visible(&m.location)
                ),
            )
        })
        .collect();
    plan_findings.extend(
        plan.warnings
            .iter()
            .map(|w| Finding::note("plan", visible(w))),
    );
    let now = SystemTime::now();
    let steps = plan
        .steps
        .iter()
        .map(|s| {
            let mut findings = credentials::check(s, &env);
            findings.extend(token_files::check(s, &env, now));
            StepReport {
                name: s.name.clone(),
                provider: s.provider.clone(),
                requires: s.requires.clone(),
                findings,
            }
        })
        .collect();
    let tools = tools::check(plan, catalog, &env, opts.timeout, opts.cluster);
    let path = Path::new(&plan.kubeconfig);
    let mut kubeconfig = contexts::check(path, &env);
    if opts.cluster {
        ask_clusters(path, &env, opts, &mut kubeconfig);
    }
    Report {
        version: VERSION,
        spec: plan.spec.clone(),
        healthy: false,
        steps,
        tools,
        kubeconfig,
        plan: plan_findings,
        problems: Vec::new(),
    }
    .finish()
}

fn ask_clusters(
    path: &Path,
    env: &VisibleEnv,
    opts: &Options,
    kubeconfig: &mut contexts::KubeconfigReport,
) {
    let Some(kubectl) = find_on_path("kubectl", env.get("PATH").unwrap_or_default()) else {
        kubeconfig.findings.push(Finding::problem(
            "cluster",
            "--cluster asks each context's server with kubectl, which is not found on PATH",
        ));
        return;
    };
    if kubeconfig.contexts.is_empty() {
        kubeconfig.findings.push(Finding::problem(
            "cluster",
            "--cluster: the kubeconfig has no context to ask",
        ));
        return;
    }
    // kubectl runs the contexts' exec plugins, which read credentials
    // from the environment: it gets all of it, and its words are masked.
    let all: Vec<(String, String)> = env
        .process
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let masker = Masker::new(env.secret_values());
    let k = Kubectl {
        program: &kubectl,
        kubeconfig: path,
        env: &all,
        masker: &masker,
        timeout: opts.timeout,
    };
    for c in &mut kubeconfig.contexts {
        c.cluster_check = Some(cluster::check(&k, &c.name, opts.can_i));
    }
}
