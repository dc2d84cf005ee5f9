//! Benchmarks of the pure parts of the pipeline: parse, validate, plan
//! (bind and render), and the masker. Run: `cargo bench --bench pipeline`.
//! Whole-binary comparisons (run, plan, validate against sh, just and
//! go-task) are in bench/compare.sh; results in BENCHMARKS.md.

use std::path::Path;

use divan::{Bencher, black_box};
use stackhook::plan::assemble::{self, Mode};
use stackhook::plan::resolve::ProcessEnv;
use stackhook::run::masker::{Masker, Stream};
use stackhook::spec::document::{self, Spec};
use stackhook::spec::extends;

fn main() {
    divan::main();
}

const GKE: &str = include_str!("../specs/gke-region.yaml");

/// What the shipped GKE spec reads, as a runner has it, plus `extra`
/// unrelated variables (a CI runner has a hundred or more).
fn env(extra: usize) -> ProcessEnv {
    let mut env = ProcessEnv::new();
    for (k, v) in [
        ("GKE_CLUSTER_NAME", "prod"),
        ("GKE_CLUSTER_REGION", "europe-west1"),
        ("GCP_PROJECT_NAME", "acme"),
        ("GOOGLE_OAUTH_ACCESS_TOKEN", "ya29.token-value"),
        ("PATH", "/usr/local/bin:/usr/bin:/bin"),
        ("HOME", "/home/runner"),
        ("KUBECONFIG", "/mnt/workspace/.kube/config"),
    ] {
        env.insert(k.into(), v.into());
    }
    for i in 0..extra {
        env.insert(format!("EXTRA_VARIABLE_{i}"), format!("value-{i}"));
    }
    env
}

fn gke() -> Spec {
    document::parse(Path::new("specs/gke-region.yaml"), GKE).unwrap()
}

fn options(mode: Mode) -> assemble::Options<'static> {
    assemble::Options {
        kubeconfig: None,
        provider_dir: None,
        mode,
    }
}

/// A spec of `n` `run` steps.
fn many_steps(n: usize) -> Spec {
    let mut text = String::from("version: 1\nsteps:\n");
    for i in 0..n {
        text.push_str(&format!(
            "  - provider: run\n    name: s{i}\n    with: {{commands: ['echo step {i} \"$HOME\"']}}\n"
        ));
    }
    document::parse(Path::new("many.yaml"), &text).unwrap()
}

#[divan::bench]
fn parse_shipped_spec() -> Spec {
    document::parse(Path::new("specs/gke-region.yaml"), black_box(GKE)).unwrap()
}

/// `validate` of one spec: parse, then plan with no environment.
#[divan::bench]
fn validate_shipped_spec() {
    let spec = document::parse(Path::new("specs/gke-region.yaml"), black_box(GKE)).unwrap();
    assemble::build(&spec, &ProcessEnv::new(), &options(Mode::Static)).unwrap();
}

/// `plan` of a parsed spec: resolve, bind, render.
#[divan::bench]
fn render_shipped_spec(b: Bencher) {
    let spec = gke();
    let env = env(0);
    b.bench(|| assemble::build(&spec, &env, &options(Mode::Live)).unwrap());
}

/// `plan` of a spec read from its file: one that `extends` a base, and
/// the same spec merged by hand (the target: extends adds under 5%).
#[divan::bench(args = ["prod-flat", "prod"])]
fn plan_extends(b: Bencher, spec: &str) {
    let path = format!("tests/specs/extends/{spec}.yaml");
    let env = env(0);
    b.bench(|| {
        let spec = extends::load(Path::new(&path)).unwrap();
        assemble::build(&spec, &env, &options(Mode::Live)).unwrap()
    });
}

/// A 1,000-step plan, with and without 200 unrelated variables.
#[divan::bench(args = [0, 200], sample_count = 20)]
fn plan_1000_steps(b: Bencher, extra: usize) {
    let spec = many_steps(1000);
    let env = env(extra);
    b.bench(|| assemble::build(&spec, &env, &options(Mode::Live)).unwrap());
}

/// 200,000 lines as `seq` prints them, read in 64 KiB blocks, masked and
/// prefixed, with 0, 1 or 20 secrets registered.
#[divan::bench(args = [0, 1, 20])]
fn mask_200k_lines(b: Bencher, secrets: usize) {
    let text: String = (1..=200_000).map(|i| format!("{i}\n")).collect();
    let masker = Masker::new((0..secrets).map(|i| format!("secret-value-{i}")));
    b.counter(divan::counter::BytesCount::new(text.len()))
        .bench(|| {
            let mut stream = Stream::new(&masker, "[step] ", 0);
            let mut out = Vec::with_capacity(1 << 17);
            let mut written = 0;
            for chunk in text.as_bytes().chunks(64 * 1024) {
                stream.push(chunk, &mut out);
                written += out.len();
                out.clear();
            }
            stream.finish(&mut out);
            written + out.len()
        });
}
