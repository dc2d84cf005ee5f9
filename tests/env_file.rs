//! `run --env-file`: what it writes, that it means the same in the
//! caller's shell, and that a path that cannot be written is found before
//! anything runs, never after the kubeconfig changed.

mod common;

use common::*;

/// A provider that exports what its secret parameter reads.
const EXPORTER: &str = r#"summary: exports a secret
params:
  secret:
    secret: true
    required: true
exports:
  THE_SECRET: "{{ secret }}"
commands:
  - "true"
"#;

fn exporter(sb: &Sandbox) {
    let dir = sb.path("work/providers");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("exporter.yaml"), EXPORTER).unwrap();
}

/// Sources the file in a fresh sh with `env` and prints `$NAME`.
fn sourced(file: &std::path::Path, name: &str, env: &[(&str, &str)]) -> String {
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(". '{}' && printf '%s' \"${name}\"", file.display()))
        .env_clear()
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn references_to_run_only_variables_are_written_as_their_definitions() {
    let sb = Sandbox::new();
    exporter(&sb);
    let spec = sb.write_spec(
        r#"version: 1
templates: providers
env:
  AZ_SECRET: ${SP_PW}
  PROJECT: "acme-${STAGE}"
export: [PROJECT]
steps:
  - provider: exporter
    with: {secret: "${AZ_SECRET}"}
"#,
    );
    let file = sb.path("work/out/stackhook.env");
    let (code, _, err) = sb.run(
        &[
            "run",
            "--env-file",
            file.to_str().unwrap(),
            spec.to_str().unwrap(),
        ],
        &[("SP_PW", "CANARY-sp-pw"), ("STAGE", "prod")],
    );
    assert_eq!(code, 0, "{err}");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(!text.contains("CANARY"), "{text}");
    assert!(text.contains("export THE_SECRET=\"$SP_PW\"\n"), "{text}");
    assert!(text.contains("export PROJECT=acme-prod\n"), "{text}");
    // In the caller's shell, where only SP_PW exists, the export means
    // what it meant in the run.
    let caller = [("SP_PW", "CANARY-sp-pw")];
    assert_eq!(sourced(&file, "THE_SECRET", &caller), "CANARY-sp-pw");
    let kube = sb.kubeconfig().display().to_string();
    assert_eq!(sourced(&file, "KUBECONFIG", &caller), kube);
    assert_eq!(sourced(&file, "KUBE_CONFIG_PATH", &caller), kube);
}

/// Commands see KUBE_CONFIG_PATH as the env file writes it (the run's
/// kubeconfig) when the caller set one, never a file the run did not lock;
/// unset, it stays unset.
#[test]
fn commands_see_the_callers_kube_config_path_as_the_runs_kubeconfig() {
    let sb = Sandbox::new();
    let spec = sb.write_spec(
        "version: 1\nsteps:\n  - provider: run\n    with: {commands: ['echo \"path=${KUBE_CONFIG_PATH-unset}\"']}\n",
    );
    let spec = spec.to_str().unwrap();
    let kube = sb.kubeconfig().display().to_string();
    let (code, out, err) = sb.run(&["run", spec], &[("KUBE_CONFIG_PATH", "/tmp/elsewhere")]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&format!("path={kube}\n")), "{out}");
    let (code, out, err) = sb.run(&["run", spec], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("path=unset\n"), "{out}");
}

#[test]
fn a_literal_secret_is_never_written_to_the_env_file() {
    let sb = Sandbox::new();
    exporter(&sb);
    let spec = sb.write_spec(
        r#"version: 1
templates: providers
env:
  AZ_SECRET: CANARY-committed-literal
steps:
  - provider: exporter
    with: {secret: "${AZ_SECRET}"}
"#,
    );
    let file = sb.path("work/stackhook.env");
    let (code, _, err) = sb.run(
        &[
            "run",
            "--env-file",
            file.to_str().unwrap(),
            spec.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("literal secret"), "{err}");
    assert!(!err.contains("CANARY"), "{err}");
    assert!(!file.exists());
}

/// Paths that cannot take the file stop the run in preflight (exit 2),
/// named, with nothing run and the kubeconfig untouched.
#[test]
fn a_bad_env_file_path_is_found_before_anything_runs() {
    let sb = Sandbox::new();
    let marker = sb.path("work/ran");
    let spec = sb.write_spec(&format!(
        r#"version: 1
steps:
  - provider: run
    with:
      commands: ['touch {} && echo changed > "$KUBECONFIG"']
"#,
        marker.display()
    ));
    std::fs::write(sb.kubeconfig(), TWO_CONTEXTS).unwrap();
    let a_file = sb.path("work/a-file");
    std::fs::write(&a_file, "").unwrap();
    let dangling = sb.path("work/dangling.env");
    std::os::unix::fs::symlink(sb.path("work/nowhere/x"), &dangling).unwrap();
    let dir = sb.path("work/a-dir");
    std::fs::create_dir(&dir).unwrap();
    for (path, why) in [
        (dir.clone(), "is a directory"),
        (dangling.clone(), "is a symlink to nothing"),
        (a_file.join("stackhook.env"), "is not a directory"),
    ] {
        let (code, _, err) = sb.run(
            &[
                "run",
                "--env-file",
                path.to_str().unwrap(),
                spec.to_str().unwrap(),
            ],
            &[],
        );
        assert_eq!(code, 2, "{err}");
        let err = unwrapped(&err);
        assert!(err.contains(why), "{err}");
        assert!(
            err.contains(&path.display().to_string()),
            "the path is named: {err}"
        );
        assert!(!marker.exists(), "a step ran");
        assert_eq!(
            std::fs::read_to_string(sb.kubeconfig()).unwrap(),
            TWO_CONTEXTS
        );
    }
}

/// The env file is written before the run commits: when it cannot be
/// written after all, the run fails and rolls back.
#[test]
fn an_env_file_that_cannot_be_written_at_the_end_rolls_the_run_back() {
    let sb = Sandbox::new();
    let out_dir = sb.path("work/out");
    std::fs::create_dir(&out_dir).unwrap();
    let spec = sb.write_spec(&format!(
        r#"version: 1
steps:
  - provider: run
    with:
      commands: ['echo changed > "$KUBECONFIG" && rmdir {0} && touch {0}']
"#,
        out_dir.display()
    ));
    std::fs::write(sb.kubeconfig(), TWO_CONTEXTS).unwrap();
    let file = out_dir.join("stackhook.env");
    let (code, _, err) = sb.run(
        &[
            "run",
            "--env-file",
            file.to_str().unwrap(),
            spec.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("cannot write the env file"), "{err}");
    assert_eq!(
        std::fs::read_to_string(sb.kubeconfig()).unwrap(),
        TWO_CONTEXTS
    );
    assert!(sb.tmp_entries().is_empty());
}

#[test]
fn a_kubeconfig_path_that_cannot_be_a_file_fails_preflight() {
    let sb = Sandbox::new();
    let spec =
        sb.write_spec("version: 1\nsteps:\n  - provider: run\n    with: {commands: ['true']}\n");
    let a_file = sb.path("work/a-file");
    std::fs::write(&a_file, "").unwrap();
    for (path, why) in [
        (sb.path("work"), "is a directory"),
        (a_file.join("config"), "is not a directory"),
    ] {
        let (code, _, err) = sb.run(
            &["run", spec.to_str().unwrap()],
            &[("KUBECONFIG", path.to_str().unwrap())],
        );
        assert_eq!(code, 2, "{err}");
        let err = unwrapped(&err);
        assert!(err.contains(why) && err.contains("the kubeconfig"), "{err}");
        assert!(
            err.contains(&path.display().to_string()),
            "the path is named: {err}"
        );
    }
}

#[test]
fn the_env_file_may_not_replace_the_kubeconfig() {
    let sb = Sandbox::new();
    std::fs::write(sb.kubeconfig(), TWO_CONTEXTS).unwrap();
    let spec =
        sb.write_spec("version: 1\nsteps:\n  - provider: run\n    with: {commands: ['true']}\n");
    let link = sb.path("work/also-the-kubeconfig");
    std::os::unix::fs::symlink(sb.kubeconfig(), &link).unwrap();
    for path in [sb.kubeconfig(), link] {
        let (code, _, err) = sb.run(
            &[
                "run",
                "--env-file",
                path.to_str().unwrap(),
                spec.to_str().unwrap(),
            ],
            &[],
        );
        assert_eq!(code, 2, "{err}");
        assert!(unwrapped(&err).contains("is the kubeconfig"), "{err}");
        assert_eq!(
            std::fs::read_to_string(sb.kubeconfig()).unwrap(),
            TWO_CONTEXTS
        );
    }
}
