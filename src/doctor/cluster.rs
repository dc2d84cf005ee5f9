//! `doctor --cluster`: per context, kubectl asked whether the server
//! answers (`get --raw /version`), who it takes us for (`auth whoami`, a
//! SelfSubjectReview) and what we may do (`auth can-i`, a
//! SelfSubjectAccessReview). kubectl runs the contexts' exec plugins, so it
//! gets the whole environment; what it prints is masked of every secret
//! value before a line of it is shown.

use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use crate::base::paint::visible;
use crate::doctor::finding::Finding;
use crate::doctor::probe::{self, Probe};
use crate::run::masker::Masker;

const CHECK: &str = "cluster";

#[derive(Debug, Default, Serialize)]
pub struct ClusterReport {
    pub reachable: bool,
    /// The server's version, from /version.
    pub server_version: Option<String>,
    pub username: Option<String>,
    pub groups: Vec<String>,
    /// `VERB RESOURCE` -> allowed.
    pub can_i: Vec<CanI>,
    pub findings: Vec<Finding>,
}

#[derive(Debug, Serialize)]
pub struct CanI {
    pub request: String,
    pub allowed: Option<bool>,
}

/// What kubectl needs to reach one context.
pub struct Kubectl<'a> {
    pub program: &'a Path,
    pub kubeconfig: &'a Path,
    pub env: &'a [(String, String)],
    pub masker: &'a Masker,
    pub timeout: Duration,
}

impl Kubectl<'_> {
    fn run(&self, context: &str, args: &[&str]) -> Probe {
        let kubeconfig = self.kubeconfig.display().to_string();
        let mut all = vec!["--kubeconfig", &kubeconfig, "--context", context];
        all.extend_from_slice(args);
        probe::run(self.program, &all, self.env, self.timeout)
    }

    /// Why a kubectl call failed: its last line of stderr, masked and
    /// escaped, else how it ended.
    fn why(&self, p: &Probe) -> String {
        let last = p.stderr.lines().rev().find(|l| !l.trim().is_empty());
        match last {
            Some(l) => format!(
                "{} ({})",
                visible(&self.masker.mask(l.trim())),
                p.failure(self.timeout)
            ),
            None => p.failure(self.timeout),
        }
    }
}

/// Checks one context; `can_i` are `VERB RESOURCE` requests.
pub fn check(k: &Kubectl, context: &str, can_i: &[String]) -> ClusterReport {
    let mut r = ClusterReport::default();
    let version = k.run(context, &["get", "--raw", "/version"]);
    if !version.success() {
        r.findings.push(Finding::problem(
            CHECK,
            format!("the server did not answer /version: {}", k.why(&version)),
        ));
        return r;
    }
    r.reachable = true;
    let json: serde_json::Value = serde_json::from_str(&version.stdout).unwrap_or_default();
    r.server_version = json["gitVersion"].as_str().map(str::to_string);
    r.findings.push(Finding::ok(
        CHECK,
        format!(
            "the server answers (Kubernetes {})",
            visible(r.server_version.as_deref().unwrap_or("of unknown version"))
        ),
    ));
    whoami(k, context, &mut r);
    for request in can_i {
        let words: Vec<&str> = request.split_whitespace().collect();
        let mut args = vec!["auth", "can-i"];
        args.extend(&words);
        let p = k.run(context, &args);
        let answer = p.stdout.trim();
        let allowed = match (answer, &p.ended) {
            ("yes", probe::Ended::Exited(0)) => Some(true),
            (a, probe::Ended::Exited(1)) if a.starts_with("no") => Some(false),
            _ => None,
        };
        let shown = visible(request);
        r.findings.push(match allowed {
            Some(true) => Finding::ok(CHECK, format!("can-i {shown}: yes")),
            Some(false) => Finding::problem(CHECK, format!("can-i {shown}: no")),
            None => Finding::problem(CHECK, format!("can-i {shown}: {}", k.why(&p))),
        });
        r.can_i.push(CanI {
            request: request.clone(),
            allowed,
        });
    }
    r
}

fn whoami(k: &Kubectl, context: &str, r: &mut ClusterReport) {
    let p = k.run(context, &["auth", "whoami", "-o", "json"]);
    if !p.success() {
        r.findings.push(Finding::problem(
            CHECK,
            format!("who am I (SelfSubjectReview): {}", k.why(&p)),
        ));
        return;
    }
    let json: serde_json::Value = serde_json::from_str(&p.stdout).unwrap_or_default();
    let user = &json["status"]["userInfo"];
    r.username = user["username"].as_str().map(|u| k.masker.mask(u));
    r.groups = user["groups"]
        .as_array()
        .map(|g| {
            g.iter()
                .filter_map(|v| v.as_str().map(|s| k.masker.mask(s)))
                .collect()
        })
        .unwrap_or_default();
    r.findings.push(Finding::ok(
        CHECK,
        format!(
            "signed in as {} (groups: {})",
            visible(r.username.as_deref().unwrap_or("(no username)")),
            visible(&r.groups.join(", "))
        ),
    ));
}
