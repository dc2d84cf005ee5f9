//! `extends`: a spec over a reviewed base. The merged plan says where each
//! step and key came from; every problem points into the file that holds
//! it, base or spec.

#[macro_use]
mod common;

use common::*;

const DIR: &str = "tests/specs/extends";

fn plan(spec: &str, format: &str) -> std::process::Output {
    stackhook()
        .args(["plan", "--format", format])
        .arg(format!("{DIR}/{spec}"))
        .envs(FULL_ENV.iter().copied())
        .output()
        .unwrap()
}

#[test]
fn a_spec_over_its_base_plans_with_where_each_step_came_from() {
    let mut failed = Vec::new();
    for spec in ["prod", "leaf"] {
        let out = plan(&format!("{spec}.yaml"), "text");
        assert!(out.status.success(), "{spec}: {}", stderr(&out));
        check_snapshot!(failed, format!("plan-{spec}"), stdout(&out));
    }
    all_snapshots_match(&failed);
}

/// Unions where the spec wins, a step matched by name and overridden key
/// by key (its provider left out), and an appended step, as JSON.
#[test]
fn merging_rules_in_the_json_plan() {
    let out = plan("prod.yaml", "json");
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let base = format!("{DIR}/base/gke.yaml");
    let prod = format!("{DIR}/prod.yaml");
    assert_eq!(v["extends"], serde_json::json!([prod, base]));
    let env = &v["env"];
    assert_eq!(env["TEAM"], "payments", "the spec wins: {env}");
    assert_eq!(env["STAGE"], "prod");
    assert_eq!(env["CLOUDSDK_CORE_DISABLE_PROMPTS"], "1");
    let steps = v["steps"].as_array().unwrap();
    let names: Vec<&str> = steps.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["gke", "verify", "namespaces"], "appended last");
    let gke = &steps[0];
    assert_eq!(gke["provider"], "gke", "the base's provider");
    assert_eq!(gke["source"], base);
    assert_eq!(gke["timeout"], "5m");
    assert_eq!(gke["retries"], 2);
    assert_eq!(
        gke["overrides"],
        serde_json::json!({"with.cluster": prod, "timeout": prod, "retries": prod})
    );
    let commands = gke["commands"].to_string();
    assert!(commands.contains("payments-prod"), "{commands}");
    assert!(
        commands.contains("europe-west1"),
        "the base's region: {commands}"
    );
    assert_eq!(steps[1]["source"], base);
    assert!(steps[1].get("overrides").is_none());
    assert_eq!(steps[2]["source"], prod);
}

/// The merged spec plans exactly as the same spec merged by hand.
#[test]
fn the_merge_is_the_spec_merged_by_hand() {
    let json = |spec: &str| -> serde_json::Value {
        let out = plan(spec, "json");
        assert!(out.status.success(), "{spec}: {}", stderr(&out));
        let mut v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let o = v.as_object_mut().unwrap();
        o.remove("spec");
        o.remove("extends");
        for step in o["steps"].as_array_mut().unwrap() {
            let step = step.as_object_mut().unwrap();
            step.remove("source");
            step.remove("overrides");
        }
        v
    };
    assert_eq!(json("prod.yaml"), json("prod-flat.yaml"));
}

/// The base's secret list is the spec's too.
#[test]
fn the_base_secrets_stay_secret() {
    let out = stackhook()
        .args(["plan", "--format", "json"])
        .arg(format!("{DIR}/prod.yaml"))
        .envs(FULL_ENV.iter().copied())
        .env("VAULT_TOKEN", "CANARY-vault")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stdout(&out).contains("CANARY"));
}

#[test]
fn bad_chains_and_overrides_exit_2_pointing_into_the_right_file() {
    let mut failed = Vec::new();
    for spec in [
        "cycle-a",
        "outside",
        "broken-base",
        "unknown-override",
        "other-provider",
        "no-match",
        "deep/deep-0",
    ] {
        let out = plan(&format!("{spec}.yaml"), "text");
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{spec}: {err}");
        assert!(!err.contains("panicked"), "{spec}: {err}");
        check_snapshot!(failed, format!("bad-{}", spec.replace('/', "-")), err);
    }
    all_snapshots_match(&failed);
}

/// The longest chain allowed: the spec and 7 bases.
#[test]
fn a_chain_of_eight_files_is_allowed() {
    let out = plan("deep/deep-1.yaml", "json");
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["extends"].as_array().unwrap().len(), 8);
}

/// A base is a spec: checked on its own when given, and through each spec
/// that extends it, its problem reported once.
#[test]
fn validate_checks_bases_once() {
    let out = stackhook()
        .args(["validate", "-v"])
        .arg(format!("{DIR}/broken-base.yaml"))
        .arg(format!("{DIR}/base/broken.yaml"))
        .arg(format!("{DIR}/prod.yaml"))
        .arg(format!("{DIR}/base/gke.yaml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert_eq!(err.matches("stackhook::spec::yaml").count(), 1, "{err}");
    assert!(
        err.contains(&format!("[{DIR}/base/broken.yaml:3:3]")),
        "{err}"
    );
    assert!(err.contains(&format!("ok: {DIR}/prod.yaml")), "{err}");
    assert!(
        err.trim_end()
            .ends_with("validated 4 specs: 2 ok, 2 with errors"),
        "{err}"
    );
}

/// The repository is the spec's (the first of its directories holding
/// `.git`), wherever stackhook runs from; a base that is a symlink out of
/// it is not read.
#[test]
fn the_base_stays_in_the_spec_repository() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(repo.join(".git")).unwrap();
    std::fs::create_dir_all(repo.join("specs/base")).unwrap();
    let root_dir = root().join(DIR);
    std::fs::copy(
        root_dir.join("base/gke.yaml"),
        repo.join("specs/base/gke.yaml"),
    )
    .unwrap();
    std::fs::copy(root_dir.join("prod.yaml"), repo.join("specs/prod.yaml")).unwrap();
    let outside = dir.path().join("outside.yaml");
    std::fs::write(
        &outside,
        "version: 1\nsteps: [{provider: verify}]\n# CANARY\n",
    )
    .unwrap();
    std::os::unix::fs::symlink(&outside, repo.join("specs/base/linked.yaml")).unwrap();
    std::fs::write(
        repo.join("specs/linked.yaml"),
        "version: 1\nextends: base/linked.yaml\n",
    )
    .unwrap();
    let plan = |spec: &str| {
        stackhook()
            .current_dir(dir.path())
            .args(["plan", "--format", "json"])
            .arg(repo.join("specs").join(spec))
            .envs(FULL_ENV.iter().copied())
            .output()
            .unwrap()
    };
    let out = plan("prod.yaml");
    assert!(out.status.success(), "{}", stderr(&out));
    let out = plan("linked.yaml");
    assert_eq!(out.status.code(), Some(2));
    let err = unwrapped(&stderr(&out));
    assert!(err.contains("out of the repository"), "{err}");
    assert!(!err.contains("CANARY"), "{err}");
}
