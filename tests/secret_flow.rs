//! The secret set is decided once, in the plan, and every consumer reads
//! it: the previews, the masker, failure reports, the env file. Each test
//! here is a way a secret used to escape one consumer while another hid it.

mod common;

use common::*;

/// A custom provider whose parameter is secret, whatever the variable it
/// reads is called. The secret reaches its commands in their environment
/// (a command line cannot hold it).
const SECRET_PARAM_PROVIDER: &str = r#"summary: echoes its secret parameter
params:
  token:
    secret: true
    required: true
  fail:
    type: bool
    default: false
env:
  GOT: "{{ token }}"
commands:
  - 'echo got "$GOT"'
  - "{% if fail %}echo denied \"$GOT\" >&2; exit 1{% endif %}"
"#;

fn with_provider(sb: &Sandbox) {
    let dir = sb.path("work/providers");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("echo-secret.yaml"), SECRET_PARAM_PROVIDER).unwrap();
}

#[test]
fn a_variable_read_by_a_secret_parameter_is_masked_in_output_and_reports() {
    let sb = Sandbox::new();
    with_provider(&sb);
    let canary = "CANARY-sp-pw-value";
    for fail in [false, true] {
        let spec = sb.write_spec(&format!(
            r#"version: 1
templates: providers
steps:
  - provider: echo-secret
    with: {{token: "${{SP_PW}}", fail: {fail}}}
"#
        ));
        let (code, out, err) = sb.run(&["run", spec.to_str().unwrap()], &[("SP_PW", canary)]);
        assert_eq!(code, if fail { 1 } else { 0 }, "{err}");
        assert!(out.contains("[echo-secret] got ***"), "{out}");
        assert!(!out.contains(canary) && !err.contains(canary), "{out}{err}");
        if fail {
            assert!(err.contains("denied ***"), "the report is masked: {err}");
        }
    }
}

#[test]
fn a_step_env_entry_holding_a_secret_is_masked_at_run_time() {
    let sb = Sandbox::new();
    let canary = "CANARY-step-literal";
    let spec = sb.write_spec(&format!(
        r#"version: 1
env:
  API_KEY: {canary}-spec
steps:
  - provider: run
    env:
      DB_PASSWORD: {canary}
      DERIVED: "x-${{API_KEY}}-y"
    with:
      commands:
        - echo "$DB_PASSWORD"
        - echo "$DERIVED"
"#
    ));
    let (code, out, err) = sb.run(&["run", spec.to_str().unwrap()], &[]);
    assert_eq!(code, 0, "{err}");
    // The derived value is masked whole.
    assert_eq!(out, "[run] ***\n[run] ***\n");
    let (_, plan, _) = sb.run(&["plan", spec.to_str().unwrap()], &[]);
    assert!(!plan.contains(canary), "{plan}");
}

/// A variable named by a later step's `var:` parameter is secret in the
/// spec's `env:` and in earlier steps too, in every preview format.
#[test]
fn a_kubeconfig_variable_is_secret_before_its_own_step() {
    let sb = Sandbox::new();
    let canary = "CANARY-kubeconfig-body";
    let spec = sb.write_spec(
        r#"version: 1
env:
  COPY: ${KC_DATA}
steps:
  - provider: run
    name: early
    with:
      commands:
        - cat {{ tempfile("kc", env.KC_DATA) }}
  - provider: kubeconfig
    with: {from: env, var: KC_DATA}
"#,
    );
    for format in ["text", "json", "markdown"] {
        let (code, plan, err) = sb.run(
            &["plan", "--format", format, spec.to_str().unwrap()],
            &[("KC_DATA", canary)],
        );
        assert_eq!(code, 0, "{err}");
        assert!(!plan.contains(canary), "{format}: {plan}");
        assert!(
            plan.contains("KC_DATA"),
            "{format}: shown as a reference: {plan}"
        );
    }
}

/// Everything the plan names secret is masked, whatever its source.
#[test]
fn every_source_of_a_secret_is_masked_in_run_output() {
    let sb = Sandbox::new();
    let spec = sb.write_spec(
        r#"version: 1
secrets: [LISTED]
env:
  SPEC_DERIVED: "pre-${LISTED}"
steps:
  - provider: run
    with:
      commands:
        - echo "$LISTED $SPEC_DERIVED $NAMED_TOKEN"
"#,
    );
    let (code, out, err) = sb.run(
        &["run", spec.to_str().unwrap()],
        &[("LISTED", "CANARY-listed"), ("NAMED_TOKEN", "CANARY-named")],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "[run] *** *** ***\n");
}

/// Finding 15: `kubeconfig install` and `check` printed the server URL and
/// the context, cluster and user names of a kubeconfig held in a secret;
/// the masker hides the secret's whole lines, not those fragments. They
/// now say what they checked and where, and nothing read from the file;
/// nor do their errors.
#[test]
fn kubeconfig_subcommands_print_nothing_read_from_a_secret_kubeconfig() {
    let sb = Sandbox::new();
    let kc = "apiVersion: v1\nkind: Config\ncurrent-context: ctx-CANARY\ncontexts:\n- name: ctx-CANARY\n  context: {cluster: cluster-CANARY, user: user-CANARY}\nclusters:\n- name: cluster-CANARY\n  cluster: {server: 'https://api.CANARY.internal:6443'}\nusers:\n- name: user-CANARY\n  user: {token: tok}\n";
    let spec = sb.write_spec(
        "version: 1\nsteps:\n  - provider: kubeconfig\n    with: {from: env, var: KC_DATA, namespace: apps}\n  - provider: verify\n    with: {server: false}\n",
    );
    let (code, out, err) = sb.run(&["run", spec.to_str().unwrap()], &[("KC_DATA", kc)]);
    assert_eq!(code, 0, "{err}");
    assert!(
        !out.contains("CANARY") && !err.contains("CANARY"),
        "{out}{err}"
    );
    let path = sb.kubeconfig().display().to_string();
    assert!(
        err.contains(&format!("kubeconfig {path} installed: its current context names a context, a cluster with a server, and a user")),
        "{err}"
    );
    assert!(
        err.contains(&format!("kubeconfig {path} checked:")),
        "{err}"
    );
    // A broken one: the error says what is wrong, not with which names.
    let broken = kc.replace("cluster: cluster-CANARY,", "cluster: other-CANARY,");
    let (code, out, err) = sb.run(&["run", spec.to_str().unwrap()], &[("KC_DATA", &broken)]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("the cluster of its current context is not in the file"),
        "{err}"
    );
    assert!(
        !out.contains("CANARY") && !err.contains("CANARY"),
        "{out}{err}"
    );
}

/// A value a step exports and a later step reads as a secret is secret in
/// the exporting step too, and so is what it is made of.
#[test]
fn an_export_read_as_a_secret_later_is_secret_where_it_is_made() {
    let sb = Sandbox::new();
    with_provider(&sb);
    std::fs::write(
        sb.path("work/providers/fetch.yaml"),
        "summary: exports what it is given\nparams:\n  source: {required: true}\nexports:\n  FETCHED: \"{{ source }}\"\ncommands:\n  - echo \"fetched $VAULT_READ\"\n",
    )
    .unwrap();
    let canary = "CANARY-from-vault";
    let spec = sb.write_spec(
        r#"version: 1
templates: providers
steps:
  - provider: fetch
    with: {source: "${VAULT_READ}"}
  - provider: echo-secret
    with: {token: "${FETCHED}"}
"#,
    );
    let spec = spec.to_str().unwrap();
    for format in ["text", "json", "markdown"] {
        let (code, plan, err) = sb.run(
            &["plan", "--format", format, spec],
            &[("VAULT_READ", canary)],
        );
        assert_eq!(code, 0, "{err}");
        assert!(!plan.contains(canary), "{format}: {plan}");
    }
    let (code, out, err) = sb.run(&["run", spec], &[("VAULT_READ", canary)]);
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains(canary) && !err.contains(canary), "{out}{err}");
    assert!(out.contains("[fetch] fetched ***"), "{out}");
}

/// A spec `env:` entry secret by its name holds a literal: a parameter
/// that reads it, even one not declared secret, gets it as a secret, so no
/// preview shows the literal.
#[test]
fn a_parameter_reading_a_secret_spec_literal_gets_a_secret() {
    let sb = Sandbox::new();
    std::fs::create_dir_all(sb.path("work/providers")).unwrap();
    std::fs::write(
        sb.path("work/providers/label.yaml"),
        "summary: a plain parameter\nparams:\n  label: {required: true}\nenv:\n  LABEL: \"{{ label }}\"\ncommands:\n  - echo \"$LABEL\"\n",
    )
    .unwrap();
    let canary = "CANARY-spec-literal-token";
    let spec = sb.write_spec(&format!(
        r#"version: 1
templates: providers
env:
  API_TOKEN: {canary}
steps:
  - provider: label
    with: {{label: "${{API_TOKEN}}"}}
"#
    ));
    let spec = spec.to_str().unwrap();
    for format in ["text", "json", "markdown"] {
        let (code, out, err) = sb.run(&["plan", "--format", format, spec], &[]);
        assert_eq!(code, 0, "{err}");
        assert!(out.contains("LABEL"), "{format}: {out}");
        assert!(!out.contains(canary), "{format}: {out}");
    }
}
