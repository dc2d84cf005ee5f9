//! A test harness for test files whose tests need programs this machine
//! may lack (a cloud CLI, kubectl, a linter). Each test names what it
//! needs; a test whose needs are missing is reported as `ignored` in the
//! summary, and listed with the reason after it, so a skip never passes as
//! `ok`. With STACKHOOK_E2E=require (as .ci/run sets) a missing need fails
//! the test instead.

use std::collections::BTreeMap;
use std::process::Command;

use libtest_mimic::{Arguments, Trial};

/// Something a test needs from the machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Need {
    /// A program on PATH.
    Cli(&'static str),
    /// The real kubectl (see `real_kubectl`).
    Kubectl,
    /// The Azure CLI in the venv .ci/run installs.
    Az,
    /// A tool in the tools venv .ci/run installs.
    Tool(&'static str),
    /// Python with `cryptography`, for tests/fakes/fake_cloud.py.
    FakeCloud,
    /// Running as root (to give files to another owner).
    Root,
    /// An environment variable set to 1 that opts in to a slow case (the
    /// static release builds). Unset, the case is ignored, also under
    /// STACKHOOK_E2E=require: leaving it out is a choice, not a lack.
    OptIn(&'static str),
}

impl Need {
    /// Why the need is not met, if it is not.
    fn missing(self) -> Option<String> {
        let found = match self {
            Need::Cli(name) => super::which(name).is_some(),
            Need::Kubectl => super::real_kubectl().is_some(),
            Need::Az => super::az_venv().join("bin/az").is_file(),
            Need::Tool(name) => super::tools_venv().join("bin").join(name).is_file(),
            Need::FakeCloud => Command::new(super::fake_cloud_python())
                .args(["-c", "import cryptography"])
                .output()
                .is_ok_and(|o| o.status.success()),
            // SAFETY: geteuid has no preconditions.
            Need::Root => (unsafe { libc::geteuid() }) == 0,
            Need::OptIn(var) => std::env::var(var).as_deref() == Ok("1"),
        };
        let why = match self {
            Need::Cli(name) => format!("{name} is not on PATH"),
            Need::Kubectl => "kubectl is not on PATH".into(),
            Need::Az => "the Azure CLI venv is missing (.ci/run installs it)".into(),
            Need::Tool(name) => format!("{name} is not installed (.ci/run installs it)"),
            Need::FakeCloud => "python3 with `cryptography` (for the fake cloud) is missing".into(),
            Need::Root => "not running as root".into(),
            Need::OptIn(var) => format!("slow, runs with {var}=1"),
        };
        (!found).then_some(why)
    }
}

/// One test: a function that panics on failure, and what it needs.
pub struct Case {
    pub name: &'static str,
    pub needs: &'static [Need],
    pub run: fn(),
}

/// `case!(test_fn, Need::Kubectl, ...)`.
macro_rules! case {
    ($f:ident $(, $need:expr)* $(,)?) => {
        $crate::common::harness::Case { name: stringify!($f), needs: &[$($need),*], run: $f }
    };
}
#[allow(unused_imports)]
pub(crate) use case;

/// Runs the cases like `cargo test` does, then lists the skipped ones.
pub fn main(cases: Vec<Case>) {
    let args = Arguments::from_args();
    let require = std::env::var("STACKHOOK_E2E").as_deref() == Ok("require");
    let mut checked: BTreeMap<Need, Option<String>> = BTreeMap::new();
    let mut skipped = Vec::new();
    let mut trials = Vec::new();
    for case in cases {
        let why: Vec<String> = case
            .needs
            .iter()
            .filter_map(|n| checked.entry(*n).or_insert_with(|| n.missing()).clone())
            .collect();
        let opted_out = case
            .needs
            .iter()
            .any(|n| matches!(n, Need::OptIn(_)) && checked[n].is_some());
        let run = case.run;
        let trial = if why.is_empty() {
            Trial::test(case.name, move || {
                run();
                Ok(())
            })
        } else if require && !opted_out {
            let message = format!("{}, and STACKHOOK_E2E=require", why.join("; "));
            Trial::test(case.name, move || Err(message.into()))
        } else {
            skipped.push(format!("{}: {}", case.name, why.join("; ")));
            Trial::test(case.name, || Ok(())).with_ignored_flag(true)
        };
        trials.push(trial);
    }
    let conclusion = libtest_mimic::run(&args, trials);
    if !skipped.is_empty() && !args.ignored && !args.list {
        println!(
            "skipped {} tests (ignored above) for what this machine lacks:",
            skipped.len()
        );
        for s in &skipped {
            println!("  - {s}");
        }
    }
    conclusion.exit();
}
