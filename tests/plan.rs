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
    assert!(err.contains("specs/other.yaml (not found)"), "{err}");
    assert!(err.contains(".stackhook.yaml (not found)"), "{err}");
}

/// Spacelift runs hooks in the stack's project root (`stacks/k8s-prod`):
/// the stack's spec at the repository's `specs/<stack id>.yaml` is found
/// from there, and nothing above the repository root is looked at.
#[test]
fn spec_is_found_from_a_project_root_up_to_the_repository_root() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(repo.join(".git")).unwrap();
    std::fs::create_dir_all(repo.join("specs")).unwrap();
    std::fs::create_dir_all(repo.join("stacks/k8s-prod")).unwrap();
    std::fs::copy(
        root().join("specs/aws-eks.yaml"),
        repo.join("specs/k8s-prod.yaml"),
    )
    .unwrap();
    let plan = |cwd: &std::path::Path, id: &str| {
        stackhook()
            .current_dir(cwd)
            .arg("plan")
            .env("TF_VAR_spacelift_stack_id", id)
            .envs(FULL_ENV.iter().copied())
            .output()
            .unwrap()
    };
    let out = plan(&repo.join("stacks/k8s-prod"), "k8s-prod");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("Plan for ../../specs/k8s-prod.yaml"),
        "{}",
        stdout(&out)
    );

    // Above the root: not this repository's spec.
    std::fs::create_dir_all(dir.path().join("specs")).unwrap();
    std::fs::copy(
        root().join("specs/aws-eks.yaml"),
        dir.path().join("specs/other.yaml"),
    )
    .unwrap();
    let out = plan(&repo.join("stacks/k8s-prod"), "other");
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("../../specs/other.yaml (not found)"));

    for bad in ["../../specs/k8s-prod", "a/b", ""] {
        let out = plan(&repo.join("stacks/k8s-prod"), bad);
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
        assert!(
            stderr(&out).contains("stackhook::spec::stack_id"),
            "{bad:?}: {}",
            stderr(&out)
        );
    }
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

/// Issue 21: a parameter whose value interpolates to nothing counts as not
/// set, for exactly-one-of rules, required parameters and defaults, and
/// the plan notes it. `validate` has no environment: a value empty only
/// because its variables are unset there may be set in a run.
#[test]
fn an_empty_parameter_counts_as_not_set() {
    let sb = Sandbox::new();
    let gke = |with: &str| {
        sb.write_spec(&format!(
            "version: 1\nsteps:\n  - provider: gke\n    with: {{cluster: c, project: p{with}}}\n"
        ))
    };
    let token = ("GOOGLE_OAUTH_ACCESS_TOKEN", "ya29.x");

    let shared = gke(r#", region: "${R:-}", zone: "${Z:-}", auth: "${A:-}""#);
    let shared = shared.to_str().unwrap();
    let (code, out, err) = sb.run(&["plan", shared], &[token, ("Z", "europe-west1-b")]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("--zone=europe-west1-b"), "{out}");
    for note in [
        "note: `region` (`${R:-}`) is empty, so it counts as not set",
        "note: `auth` (`${A:-}`) is empty, so it counts as not set",
    ] {
        assert!(out.contains(note), "{out}");
    }
    // The default of `auth` applied: the token reaches gcloud.
    assert!(
        out.contains("CLOUDSDK_AUTH_ACCESS_TOKEN=${GOOGLE_OAUTH_ACCESS_TOKEN}"),
        "{out}"
    );
    let (_, json, _) = sb.run(
        &["plan", "--format", "json", shared],
        &[token, ("R", "europe-west1")],
    );
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        v["steps"][0]["notes"],
        serde_json::json!([
            "`zone` (`${Z:-}`) is empty, so it counts as not set",
            "`auth` (`${A:-}`) is empty, so it counts as not set"
        ])
    );
    let (_, md, _) = sb.run(
        &["plan", "--format", "markdown", shared],
        &[token, ("R", "r")],
    );
    assert!(md.contains("- note: \\`zone\\`"), "{md}");

    // Neither set, or both: the one-of rule says so, as for keys left out.
    let (code, _, err) = sb.run(&["plan", shared], &[token]);
    assert_eq!(code, 2, "{err}");
    assert!(
        unwrapped(&err).contains("`gke` needs `region` or `zone` or `location`"),
        "{err}"
    );
    let (code, _, err) = sb.run(&["plan", shared], &[token, ("R", "r"), ("Z", "z")]);
    assert_eq!(code, 2, "{err}");
    assert!(unwrapped(&err).contains("set only one, not 2"), "{err}");

    // A required parameter that is empty is missing.
    let spec = sb.write_spec("version: 1\nsteps:\n  - provider: gke\n    with: {cluster: c, project: \"${P:-}\", zone: z}\n");
    let (code, _, err) = sb.run(&["plan", spec.to_str().unwrap()], &[token]);
    assert_eq!(code, 2, "{err}");
    assert!(
        unwrapped(&err).contains("`gke` needs the parameter `project`"),
        "{err}"
    );
    // validate: R and Z may be set in a run. A literal empty value is not set.
    let (code, _, err) = sb.run(&["validate", shared], &[]);
    assert_eq!(code, 0, "{err}");
    let literal = gke(r#", region: "", zone: "${Z:-}""#);
    let (code, _, err) = sb.run(&["validate", literal.to_str().unwrap()], &[]);
    assert_eq!(code, 0, "{err}");
    let both = gke(r#", region: r, zone: z, location: "${L:-}""#);
    let (code, _, err) = sb.run(&["validate", both.to_str().unwrap()], &[]);
    assert_eq!(code, 2, "{err}");
    assert!(unwrapped(&err).contains("set only one, not 2"), "{err}");
}

/// Issue 20: a Fleet Manager hub (`fleet:`) is fetched with `az fleet
/// get-credentials` and converted like a cluster. az's `fleet` extension is
/// not installed here (it comes from az's extension index, not a package
/// registry), so this checks the rendered commands against the extension's
/// documented contract (`--name`, `--resource-group`, `--file`,
/// `--overwrite-existing`) instead of running it; `fleet` excludes
/// `cluster`, `admin` and `public_fqdn`.
#[test]
fn fleet_renders_az_fleet_get_credentials() {
    let sb = Sandbox::new();
    let spec = sb.write_spec(
        "version: 1\nsteps:\n  - provider: azure-aks\n    with: {fleet: hub-prod, resource_group: rg-prod, login: azurecli}\n",
    );
    let (code, out, err) = sb.run(&["plan", spec.to_str().unwrap()], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(
            "$ az fleet get-credentials --name=hub-prod --resource-group=rg-prod --overwrite-existing --file=\"$KUBECONFIG\"\n"
        ),
        "{out}"
    );
    assert!(
        out.contains("$ kubelogin convert-kubeconfig --login=azurecli"),
        "{out}"
    );
    assert!(!out.contains("$ az aks"), "{out}");
    for extra in ["cluster: aks-prod", "admin: true", "public_fqdn: true"] {
        let spec = sb.write_spec(&format!(
            "version: 1\nsteps:\n  - provider: azure-aks\n    with: {{fleet: hub-prod, resource_group: rg-prod, login: azurecli, {extra}}}\n"
        ));
        let (code, _, err) = sb.run(&["plan", spec.to_str().unwrap()], &[]);
        assert_eq!(code, 2, "{extra}: {err}");
    }
}

/// Issue 20: Connect Gateway. `membership:` renders `gcloud container
/// fleet memberships get-credentials` with `region` as its location, then
/// the same kubeconfig user as a cluster; a zone is refused.
#[test]
fn membership_renders_fleet_memberships_get_credentials() {
    let sb = Sandbox::new();
    let spec = sb.write_spec(
        "version: 1\nsteps:\n  - provider: gke\n    with: {membership: prod-member, region: global, project: acme-prod, billing_project: acme-billing}\n",
    );
    let env = [("GOOGLE_OAUTH_ACCESS_TOKEN", "ya29.CANARY-gke-token")];
    let (code, out, err) = sb.run(&["plan", spec.to_str().unwrap()], &env);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(
            "$ gcloud container fleet memberships get-credentials --location=global --project=acme-prod --billing-project=acme-billing -- prod-member\n"
        ),
        "{out}"
    );
    assert!(
        out.contains("$ \"$STACKHOOK\" kubeconfig set-user --exec-credential-from-env=GOOGLE_OAUTH_ACCESS_TOKEN"),
        "{out}"
    );
    assert!(!out.contains("clusters get-credentials"), "{out}");
    let spec = sb.write_spec(
        "version: 1\nsteps:\n  - provider: gke\n    with: {membership: prod-member, zone: europe-west1-b, project: acme-prod}\n",
    );
    let (code, _, err) = sb.run(&["plan", spec.to_str().unwrap()], &env);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("use `region`"), "{err}");
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
