//! Rendered commands run through a real `sh` with injection payloads in
//! both spec literals and environment values: every payload stays one inert
//! argument. `aws` here is a stub that prints its arguments: the test is
//! about quoting, not about AWS.

mod common;

use common::*;
use std::os::unix::fs::PermissionsExt;

#[test]
fn payloads_stay_inert_arguments_when_the_plan_runs_in_sh() {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let aws = bin.join("aws");
    std::fs::write(
        &aws,
        "#!/bin/sh\nfor a in \"$@\"; do printf '<%s>\\n' \"$a\"; done\n",
    )
    .unwrap();
    std::fs::set_permissions(&aws, std::fs::Permissions::from_mode(0o755)).unwrap();
    let spec = dir.path().join("spec.yaml");
    std::fs::write(
        &spec,
        r#"version: 1
steps:
  - provider: aws-eks
    with:
      cluster: ${EKS_CLUSTER_NAME}
      region: "eu-west-1; touch pwned-literal"
      context: "-it's `touch pwned-backtick`"
      role_arn: ${ROLE}
"#,
    )
    .unwrap();
    let cluster = "$(touch pwned-env); touch pwned-env2";
    let role = "x' ; touch pwned-quote ; '";
    let out = stackhook()
        .args(["plan", "--format", "json"])
        .arg(&spec)
        .env("EKS_CLUSTER_NAME", cluster)
        .env("ROLE", role)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let command = plan["steps"][0]["commands"][0].as_str().unwrap();

    let work = dir.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let run = std::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .current_dir(&work)
        .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
        .output()
        .unwrap();
    assert!(run.status.success());
    let args = String::from_utf8(run.stdout).unwrap();
    // Each value is one `--flag=VALUE` argument, so a value that starts
    // with `-` is still a value.
    let expected = [
        "eks".to_string(),
        "update-kubeconfig".into(),
        "--region=eu-west-1; touch pwned-literal".into(),
        format!("--name={cluster}"),
        format!("--role-arn={role}"),
        "--alias=-it's `touch pwned-backtick`".into(),
    ]
    .map(|a| format!("<{a}>\n"))
    .concat();
    assert_eq!(args, expected);
    assert_eq!(
        std::fs::read_dir(&work).unwrap().count(),
        0,
        "a payload ran"
    );
}
