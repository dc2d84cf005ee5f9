//! What `doctor` found, as text (grouped, one marker a line, like `brew
//! doctor`) or JSON. The JSON shape (docs/doctor.md) is stable: `version`,
//! `spec`, `healthy`, `plan`, `steps`, `tools`, `kubeconfig`, `problems`.

use serde::Serialize;

use crate::base::paint::{Paint, visible};
use crate::doctor::contexts::KubeconfigReport;
use crate::doctor::finding::{Finding, Status};
use crate::doctor::tools::ToolReport;

/// The JSON shape's version: bumped when a key changes meaning or goes.
pub const VERSION: u32 = 1;

#[derive(Debug, Serialize)]
pub struct Report {
    pub version: u32,
    pub spec: String,
    pub healthy: bool,
    /// Findings of the plan itself: missing variables, its warnings.
    pub plan: Vec<Finding>,
    pub steps: Vec<StepReport>,
    pub tools: Vec<ToolReport>,
    pub kubeconfig: KubeconfigReport,
    /// Every problem's message, in the order of the text report.
    pub problems: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct StepReport {
    pub name: String,
    pub provider: String,
    pub requires: Vec<String>,
    pub findings: Vec<Finding>,
}

impl Report {
    /// Every finding, in report order.
    fn all(&self) -> impl Iterator<Item = &Finding> {
        self.plan
            .iter()
            .chain(self.steps.iter().flat_map(|s| &s.findings))
            .chain(self.tools.iter().flat_map(|t| &t.findings))
            .chain(&self.kubeconfig.findings)
            .chain(self.kubeconfig.contexts.iter().flat_map(|c| {
                c.findings
                    .iter()
                    .chain(c.cluster_check.iter().flat_map(|k| &k.findings))
            }))
    }

    /// Fills `problems` and `healthy` from the findings.
    pub fn finish(mut self) -> Report {
        self.problems = self
            .all()
            .filter(|f| f.status == Status::Problem)
            .map(|f| f.message.clone())
            .collect();
        self.healthy = self.problems.is_empty();
        self
    }

    pub fn json(&self) -> String {
        serde_json::to_string_pretty(self).expect("json") + "\n"
    }

    pub fn text(&self, paint: Paint) -> String {
        let mut out = format!("Doctor for {}\n", visible(&self.spec));
        let line = |out: &mut String, f: &Finding, indent: &str| {
            let mark = match f.status {
                Status::Ok => paint.green("[ok]"),
                Status::Note => paint.dim("[--]"),
                Status::Problem => paint.red("[!!]"),
            };
            // Escaped where each message is made; again here, so that no
            // message can act on the terminal.
            out.push_str(&format!("{indent}{mark} {}\n", visible(&f.message)));
        };
        if !self.plan.is_empty() {
            out.push_str(&format!("\n{}\n", paint.bold("Plan")));
            self.plan.iter().for_each(|f| line(&mut out, f, "  "));
        }
        for (i, s) in self.steps.iter().enumerate() {
            out.push_str(&format!(
                "\n{}\n",
                paint.bold(&format!(
                    "[{}/{}] {} (provider {})",
                    i + 1,
                    self.steps.len(),
                    visible(&s.name),
                    s.provider
                ))
            ));
            if s.findings.is_empty() {
                out.push_str("  nothing to check: no cloud credential or token file\n");
            }
            s.findings.iter().for_each(|f| line(&mut out, f, "  "));
        }
        if !self.tools.is_empty() {
            out.push_str(&format!("\n{}\n", paint.bold("CLIs")));
            for f in self.tools.iter().flat_map(|t| &t.findings) {
                line(&mut out, f, "  ");
            }
        }
        let k = &self.kubeconfig;
        out.push_str(&format!("\n{}\n", paint.bold("Kubeconfig")));
        k.findings.iter().for_each(|f| line(&mut out, f, "  "));
        for c in &k.contexts {
            out.push_str(&format!(
                "  context {}{}: cluster {} at {}, user {} ({})\n",
                visible(&c.name),
                if c.current { " (current)" } else { "" },
                visible(c.cluster.as_deref().unwrap_or("(none)")),
                visible(c.server.as_deref().unwrap_or("(no server)")),
                visible(c.user.as_deref().unwrap_or("(none)")),
                c.auth
            ));
            c.findings.iter().for_each(|f| line(&mut out, f, "    "));
            for f in c.cluster_check.iter().flat_map(|k| &k.findings) {
                line(&mut out, f, "    ");
            }
        }
        out.push('\n');
        out.push_str(&match self.problems.len() {
            0 => paint.green("No problems found."),
            1 => paint.red("1 problem found."),
            n => paint.red(&format!("{n} problems found.")),
        });
        out.push('\n');
        out
    }
}
