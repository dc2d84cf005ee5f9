//! `stackhook plan` on every shipped spec, as a user runs it: snapshots of
//! the text, JSON and markdown previews under a fixed environment.

#[macro_use]
mod common;

use common::*;

fn plan(spec: &std::path::Path, format: &str, env: &[(&str, &str)]) -> String {
    let tools = tempfile::tempdir().unwrap();
    // Some CLIs found, some not, so the preview shows both.
    let path = fake_path(tools.path(), &["gcloud", "kubectl", "aws", "curl"]);
    let rel = spec.strip_prefix(root()).unwrap();
    let out = stackhook()
        .args(["plan", "--format", format])
        .arg(rel)
        .env("PATH", &path)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for canary in canaries() {
        assert!(
            !text.contains(canary),
            "{canary} leaked into the {format} plan of {rel:?}"
        );
    }
    text
}

#[test]
fn every_shipped_spec_previews_in_every_format() {
    let mut failed = Vec::new();
    for spec in shipped_specs() {
        let name = spec.file_stem().unwrap().to_string_lossy().to_string();
        for format in ["text", "markdown", "json"] {
            check_snapshot!(
                failed,
                format!("{name}.{format}"),
                plan(&spec, format, FULL_ENV)
            );
        }
    }
    all_snapshots_match(&failed);
}

#[test]
fn a_fresh_clone_previews_with_no_variables_set() {
    let spec = root().join("specs/gke-region.yaml");
    let text = plan(&spec, "text", &[]);
    insta::assert_snapshot!("gke-region.no-env.text", text);
    assert!(text.contains("missing variables (4)"));
    // The token reaches gcloud in the step's environment, shown by name.
    assert!(text.contains("env: CLOUDSDK_AUTH_ACCESS_TOKEN=${GOOGLE_OAUTH_ACCESS_TOKEN}"));
}

#[test]
fn json_plan_has_the_documented_fields() {
    let spec = root().join("specs/azure-aks-spn.yaml");
    let v: serde_json::Value = serde_json::from_str(&plan(&spec, "json", FULL_ENV)).unwrap();
    for key in [
        "spec",
        "kubeconfig",
        "steps",
        "missing_env",
        "warnings",
        "tools",
    ] {
        assert!(v.get(key).is_some(), "no {key}");
    }
    let step = &v["steps"][0];
    for key in [
        "name",
        "provider",
        "commands",
        "tempfiles",
        "exports",
        "requires",
    ] {
        assert!(step.get(key).is_some(), "no steps[0].{key}");
    }
    // kubelogin reads ARM_CLIENT_SECRET itself at kubectl time: nothing to
    // export when the spec reads the integration's own variables.
    assert_eq!(step["exports"], serde_json::json!({}));
    let commands = step["commands"].to_string();
    assert!(commands.contains("--use-azurerm-env-vars"), "{commands}");
    assert!(
        commands.contains("--password=@\\\"$STACKHOOK_TMPDIR/arm-client-secret\\\""),
        "the secret reaches az from a file: {commands}"
    );
    let tools = v["tools"].as_array().unwrap();
    assert!(
        tools
            .iter()
            .any(|t| t["name"] == "az" && t["found"] == false)
    );
}

#[test]
fn strict_fails_on_missing_variables_and_lists_them_all() {
    let out = stackhook()
        .args(["plan", "--strict", "specs/gke-region.yaml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    insta::assert_snapshot!("gke-region.strict.stderr", err);
    for name in [
        "GKE_CLUSTER_NAME",
        "GKE_CLUSTER_REGION",
        "GCP_PROJECT_NAME",
        "GOOGLE_OAUTH_ACCESS_TOKEN",
    ] {
        assert!(err.contains(name), "{name} not listed");
    }
}

#[test]
fn strict_passes_when_everything_is_set() {
    stackhook()
        .args(["plan", "--strict", "specs/gke-region.yaml"])
        .envs(FULL_ENV.iter().copied())
        .assert()
        .success();
}

#[test]
fn plan_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let kube = dir.path().join("kube/config");
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    stackhook()
        .args(["plan", "specs/gke-region.yaml", "--kubeconfig"])
        .arg(&kube)
        .env("TMPDIR", &tmp)
        .envs(FULL_ENV.iter().copied())
        .assert()
        .success();
    assert!(!kube.parent().unwrap().exists());
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0);
}

#[test]
fn spec_is_found_from_the_spacelift_stack_id() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("specs")).unwrap();
    std::fs::copy(
        root().join("specs/aws-eks.yaml"),
        dir.path().join("specs/stack-prod.yaml"),
    )
    .unwrap();
    let out = stackhook()
        .current_dir(dir.path())
        .arg("plan")
        .env("TF_VAR_spacelift_stack_id", "stack-prod")
        .envs(FULL_ENV.iter().copied())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("Plan for specs/stack-prod.yaml"));

    let out = stackhook()
        .current_dir(dir.path())
        .arg("plan")
        .env("SPACELIFT_STACK_ID", "other")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("specs/other.yaml (from $SPACELIFT_STACK_ID: not found)"),
        "{err}"
    );
    assert!(err.contains(".stackhook.yaml (not found)"), "{err}");
}

#[test]
fn kubeconfig_path_rules() {
    let spec = "specs/kubeconfig-mounted.yaml";
    let kube = |extra: &[(&str, &str)], args: &[&str]| {
        let out = stackhook()
            .args(["plan", "--format", "json", spec])
            .args(args)
            .envs(extra.iter().copied())
            .output()
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v["kubeconfig"].as_str().unwrap().to_string()
    };
    assert_eq!(kube(&[], &[]), "/home/runner/.kube/config");
    assert_eq!(
        kube(&[("KUBECONFIG", "/a/first:/b/second")], &[]),
        "/a/first"
    );
    assert_eq!(
        kube(
            &[("KUBECONFIG", "/a/first")],
            &["--kubeconfig", "/flag/wins"]
        ),
        "/flag/wins"
    );
    // Relative paths are made absolute before any command sees them.
    let cwd = root().display().to_string();
    assert_eq!(
        kube(&[("KUBECONFIG", "rel/config")], &[]),
        format!("{cwd}/rel/config")
    );
    assert_eq!(
        kube(&[], &["--kubeconfig", "./flag/config"]),
        format!("{cwd}/flag/config")
    );
}

/// The spec's `kubeconfig:` is relative to the spec file, `~/` is HOME, and
/// the same rule holds for `plan`, `run` and the `kubeconfig` subcommand.
#[test]
fn the_spec_kubeconfig_is_relative_to_the_spec_and_absolute_for_commands() {
    let dir = tempfile::tempdir().unwrap();
    let specs = dir.path().join("specs");
    std::fs::create_dir(&specs).unwrap();
    let write = |kubeconfig: &str| {
        let spec = specs.join("s.yaml");
        std::fs::write(
            &spec,
            format!(
                "version: 1\nkubeconfig: {kubeconfig}\nsteps:\n  - provider: run\n    with: {{commands: ['echo \"$KUBECONFIG\"']}}\n"
            ),
        )
        .unwrap();
        spec
    };
    let plan_kube = |spec: &std::path::Path, home: &str| {
        let out = stackhook()
            .current_dir(dir.path())
            .args(["plan", "--format", "json"])
            .arg(spec.strip_prefix(dir.path()).unwrap())
            .env("HOME", home)
            .output()
            .unwrap();
        (out.status.code(), stdout(&out), stderr(&out))
    };
    let base = dir.path().display().to_string();
    let spec = write("../kube/config");
    let (code, out, err) = plan_kube(&spec, "/home/u");
    assert_eq!(code, Some(0), "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["kubeconfig"], format!("{base}/kube/config"));

    let spec = write("~/k/config");
    let (_, out, _) = plan_kube(&spec, "/home/u");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["kubeconfig"], "/home/u/k/config");
    let (code, _, err) = plan_kube(&spec, "");
    assert_eq!(code, Some(2));
    assert!(err.contains("cannot expand `~`"), "{err}");

    // A run hands commands the absolute path, whatever directory they use.
    let spec = write("kube/config");
    let out = stackhook()
        .current_dir(dir.path())
        .args(["run", "specs/s.yaml"])
        .env("PATH", "/usr/bin:/bin")
        .env("TMPDIR", dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), format!("[run] {base}/specs/kube/config\n"));
    drop(spec);
}

#[test]
fn no_home_and_no_kubeconfig_is_an_error_everywhere() {
    for home in [None, Some("")] {
        let mut plan = stackhook();
        plan.args(["plan", "specs/kubeconfig-mounted.yaml"])
            .env_remove("HOME");
        let mut check = stackhook();
        check.args(["kubeconfig", "check"]).env_remove("HOME");
        if let Some(h) = home {
            plan.env("HOME", h);
            check.env("HOME", h);
        }
        let out = plan.output().unwrap();
        assert_eq!(out.status.code(), Some(2));
        assert!(stderr(&out).contains("HOME and KUBECONFIG are unset"));
        let out = check.output().unwrap();
        assert_eq!(out.status.code(), Some(1));
        assert!(stderr(&out).contains("HOME and KUBECONFIG are unset"));
    }
}

/// A provider's templates read the spec's `env:` and the step's `env:`
/// through `env`, the step's over the spec's; a secret entry as its
/// reference, never its value.
#[test]
fn templates_read_the_spec_env_under_the_step_env() {
    let sb = Sandbox::new();
    std::fs::create_dir_all(sb.path("work/providers")).unwrap();
    std::fs::write(
        sb.path("work/providers/show.yaml"),
        "summary: shows what its templates read\nenv:\n  TOK: \"{{ env.SPEC_TOKEN }}\"\ncommands:\n  - \"echo read {{ env.FROM_SPEC }} {{ env.BOTH }} end\"\n",
    )
    .unwrap();
    let spec = sb.write_spec(
        r#"version: 1
templates: providers
env:
  FROM_SPEC: spec-value
  BOTH: spec-both
  SPEC_TOKEN: CANARY-spec-token
steps:
  - provider: show
    env: {BOTH: step-both}
"#,
    );
    let (code, out, err) = sb.run(&["plan", spec.to_str().unwrap()], &[]);
    assert_eq!(code, 0, "{err}");
    let line = out
        .lines()
        .find(|l| l.contains("echo read"))
        .unwrap_or_default();
    assert!(line.contains("spec-value step-both"), "{out}");
    assert!(
        out.contains("${SPEC_TOKEN}") && !out.contains("CANARY"),
        "{out}"
    );
}
