//! No secret on a command line (finding 2). A command line is readable by
//! every process on the machine, so no `{{ }}` of a command may hold a
//! secret, whatever the template does to it; a secret reaches a command
//! through the environment (a provider's `env:`), a `tempfile()` or stdin.
//! Each case drives the binary; the CLIs are shell scripts that record
//! their argv.

mod common;

use common::*;

const CANARY: &str = "CANARY-argv-secret";

fn providers(sb: &Sandbox, files: &[(&str, &str)]) {
    let dir = sb.path("work/providers");
    std::fs::create_dir_all(&dir).unwrap();
    for (name, text) in files {
        std::fs::write(dir.join(format!("{name}.yaml")), text).unwrap();
    }
}

/// Every way a template could write a secret into a command is refused
/// when the plan is made, with a located error, before anything runs.
#[test]
fn no_template_writes_a_secret_on_a_command_line() {
    let sb = Sandbox::new();
    providers(
        &sb,
        &[(
            "leaky",
            r#"summary: writes its secret parameter somehow
params:
  token: {secret: true, required: true}
  how: {required: true}
  words: {type: args}
commands:
  - "{% if how == 'plain' %}mycli {{ token }}{% endif %}"
  - "{% if how == 'safe' %}mycli {{ token | safe }}{% endif %}"
  - "{% if how == 'concat' %}mycli {{ '--token=' ~ token }}{% endif %}"
  - "{% if how == 'list' %}mycli {{ [token] }}{% endif %}"
  - "{% if how == 'upper' %}mycli {{ token | upper }}{% endif %}"
  - "{% if how == 'join' %}mycli {{ ['a', token] | join(',') }}{% endif %}"
  - "{% if how == 'command' %}{{ command(token | safe) }}{% endif %}"
  - "{% if how == 'words' %}mycli {{ words }}{% endif %}"
"#,
        )],
    );
    let mut specs: Vec<String> = [
        "plain", "safe", "concat", "list", "upper", "join", "command",
    ]
    .iter()
    .map(|how| {
        format!("templates: providers\nsteps:\n  - provider: leaky\n    with: {{token: \"${{MY_TOKEN}}\", how: {how}}}\n")
    })
    .collect();
    specs.push("templates: providers\nsteps:\n  - provider: leaky\n    with: {token: \"${MY_TOKEN}\", how: words, words: [\"--t=${MY_TOKEN}\"]}\n".into());
    for command in [
        "echo {{ env.MY_TOKEN }}",
        "echo {{ env.MY_TOKEN | lower }}",
        "echo {{ env.MY_TOKEN | replace('s', 'm') }}",
        "echo {{ env.MY_TOKEN | trim | string }}",
        "echo {{ env | items }}",
        "echo {{ env.LISTED }}",
        "echo {{ env.HEADER }}",
    ] {
        specs.push(format!(
            "secrets: [LISTED]\nenv:\n  HEADER: \"Bearer ${{MY_TOKEN}}\"\nsteps:\n  - provider: run\n    with:\n      commands: [\"{command}\"]\n"
        ));
    }
    // An earlier step's export built from a secret.
    specs.push(
        "templates: providers\nsteps:\n  - provider: exporter\n  - provider: run\n    with:\n      commands: [\"echo {{ env.DERIVED }}\"]\n".into(),
    );
    providers(
        &sb,
        &[(
            "exporter",
            "summary: exports a secret\nexports:\n  DERIVED: \"x-{{ env.MY_TOKEN }}\"\ncommands: [\"true\"]\n",
        )],
    );
    for body in specs {
        let spec = sb.write_spec(&format!("version: 1\n{body}"));
        let spec = spec.to_str().unwrap();
        let env = [("MY_TOKEN", CANARY), ("LISTED", CANARY)];
        for cmd in ["plan", "run"] {
            let (code, out, err) = sb.run(&[cmd, spec], &env);
            assert_eq!(code, 2, "{body}\n{err}");
            assert!(
                err.contains("stackhook::template::secret_in_command"),
                "{body}\n{err}"
            );
            assert!(!out.contains(CANARY) && !err.contains(CANARY), "{err}");
        }
        // Without any environment too: the secret set does not depend on
        // it (a secret that is not set is still a secret).
        let (code, _, err) = sb.run(&["validate", spec], &[]);
        assert_eq!(code, 2, "validate: {body}\n{err}");
    }
}

/// The error points at the spec: the parameter that reads the secret, or
/// the command template that writes it, and says how to hand it over.
#[test]
fn the_refusal_points_at_the_spec_and_says_how_to_fix_it() {
    let sb = Sandbox::new();
    let spec = sb.write_spec(
        "version: 1\nsteps:\n  - provider: run\n    with:\n      commands:\n        - \"curl -H {{ 'Authorization: Bearer ' ~ env.API_TOKEN }} https://x\"\n",
    );
    let (code, _, err) = sb.run(&["plan", spec.to_str().unwrap()], &[]);
    assert_eq!(code, 2, "{err}");
    let err = unwrapped(&err);
    assert!(
        err.contains("step `run`: `commands[0]` of provider `run` would write the secret API_TOKEN on a command line"),
        "{err}"
    );
    assert!(err.contains("spec.yaml:6:"), "located: {err}");
    assert!(err.contains("tempfile(\"name\", env.API_TOKEN)"), "{err}");

    let spec = sb.write_spec(
        "version: 1\nsecrets: [SUB]\nsteps:\n  - provider: azure-aks\n    with: {cluster: c, resource_group: g, login: msi, subscription: \"${SUB}\"}\n",
    );
    let (code, _, err) = sb.run(&["plan", spec.to_str().unwrap()], &[("SUB", CANARY)]);
    assert_eq!(code, 2, "{err}");
    let err = unwrapped(&err);
    assert!(err.contains("`subscription` reads SUB, a secret"), "{err}");
    assert!(err.contains("remove it from `secrets:`"), "{err}");
    assert!(!err.contains(CANARY), "{err}");
}

/// Writing `"$SECRET"` as shell text in a `run` command is the user's own,
/// explicit choice: it is not `{{ }}`, so it is not refused.
#[test]
fn shell_text_is_the_users_choice() {
    let sb = Sandbox::new();
    let spec = sb.write_spec(
        "version: 1\nsteps:\n  - provider: run\n    with:\n      commands: ['test -n \"$MY_TOKEN\"']\n",
    );
    let (code, _, err) = sb.run(&["run", spec.to_str().unwrap()], &[("MY_TOKEN", CANARY)]);
    assert_eq!(code, 0, "{err}");
}

/// What a provider hands a secret over with, each kept out of argv by
/// construction: its `env:` (shown in the plan, masked), a `tempfile()`,
/// and stdin from a temp file. `mycli` records every argument it gets and
/// says where it found the secret.
#[test]
fn secrets_reach_commands_through_env_tempfiles_and_stdin() {
    let sb = Sandbox::new();
    let argv = sb.path("argv.log");
    sb.script(
        "mycli",
        &format!(
            "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done >> '{}'\ncase \"$1\" in\n  env) test \"$CLI_TOKEN\" = \"$WANT\" && echo env-ok ;;\n  file) test \"$(cat \"$2\")\" = \"Bearer $WANT\" && echo file-ok ;;\n  stdin) test \"$(cat)\" = \"$WANT\" && echo stdin-ok ;;\n  state) mkdir -p \"$STATE_DIR\" && echo kept > \"$STATE_DIR/login\" && echo state-ok ;;\nesac\n",
            argv.display()
        ),
    );
    providers(
        &sb,
        &[(
            "handover",
            r#"summary: hands its secret over three ways
params:
  token: {secret: true, default: "${MY_TOKEN}"}
requires: [mycli]
env:
  CLI_TOKEN: "{{ token }}"
  STATE_DIR: "{{ tempdir('state') }}"
  EMPTY: "{% if false %}x{% endif %}"
commands:
  - mycli env
  - mycli file {{ tempfile("header", "Bearer " ~ token) }}
  - mycli stdin < {{ tempfile("stdin", token) }}
  - mycli state
  - 'test -s "$STATE_DIR/login"'
"#,
        )],
    );
    let spec = sb.write_spec(
        "version: 1\ntemplates: providers\nsteps:\n  - provider: handover\n    env:\n      WANT: ${MY_TOKEN}\n",
    );
    let spec = spec.to_str().unwrap();
    let (code, plan, err) = sb.run(&["plan", spec], &[("MY_TOKEN", CANARY)]);
    assert_eq!(code, 0, "{err}");
    assert!(plan.contains("  env: CLI_TOKEN=${MY_TOKEN}\n"), "{plan}");
    assert!(
        plan.contains("  env: STATE_DIR=${STACKHOOK_TMPDIR}/state\n"),
        "{plan}"
    );
    assert!(
        !plan.contains("EMPTY"),
        "an entry that renders empty is not set: {plan}"
    );
    assert!(
        plan.contains("$ mycli stdin < \"$STACKHOOK_TMPDIR/stdin\""),
        "{plan}"
    );
    assert!(!plan.contains(CANARY), "{plan}");

    let (code, out, err) = sb.run(&["run", spec], &[("MY_TOKEN", CANARY)]);
    assert_eq!(code, 0, "{err}");
    for ok in ["env-ok", "file-ok", "stdin-ok", "state-ok"] {
        assert!(out.contains(&format!("[handover] {ok}")), "{out}");
    }
    assert!(!out.contains(CANARY) && !err.contains(CANARY), "{out}{err}");
    let recorded = std::fs::read_to_string(&argv).unwrap();
    assert!(recorded.contains("file\n"), "{recorded}");
    assert!(
        !recorded.contains(CANARY),
        "a secret reached argv: {recorded}"
    );
    assert!(sb.tmp_entries().is_empty(), "{:?}", sb.tmp_entries());
}

/// A provider's `env:` entry built from a secret is secret: its value is
/// masked in output, and the plan shows it by reference. It may read a
/// secret entry of the step's own `env:`.
#[test]
fn a_provider_env_entry_built_from_a_secret_is_masked() {
    let sb = Sandbox::new();
    providers(
        &sb,
        &[(
            "header",
            "summary: a header from a secret\nparams:\n  token: {secret: true, required: true}\nenv:\n  AUTH_HEADER: \"Bearer {{ token }}\"\ncommands:\n  - 'echo \"$AUTH_HEADER\"'\n",
        )],
    );
    let spec = sb.write_spec(
        "version: 1\ntemplates: providers\nsteps:\n  - provider: header\n    env:\n      STEP_SECRET: ${SP_PW}\n    with: {token: \"${STEP_SECRET}\"}\n",
    );
    let spec = spec.to_str().unwrap();
    let (code, out, err) = sb.run(&["run", spec], &[("SP_PW", CANARY)]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "[header] ***\n");
    let (_, plan, _) = sb.run(&["plan", spec], &[("SP_PW", CANARY)]);
    assert!(plan.contains("env: AUTH_HEADER=***${SP_PW}"), "{plan}");
}

/// A name both the provider's `env:` and the step's own set is refused
/// where the step sets it; a provider cannot set what stackhook sets.
#[test]
fn provider_env_names_cannot_clash() {
    let sb = Sandbox::new();
    let spec = sb.write_spec(
        "version: 1\nsteps:\n  - provider: gke\n    with: {cluster: c, region: r, project: p}\n    env:\n      CLOUDSDK_AUTH_ACCESS_TOKEN: x\n",
    );
    let (code, _, err) = sb.run(&["plan", spec.to_str().unwrap()], &[]);
    assert_eq!(code, 2, "{err}");
    let err = unwrapped(&err);
    assert!(err.contains("stackhook::spec::env_conflict"), "{err}");
    assert!(
        err.contains("`CLOUDSDK_AUTH_ACCESS_TOKEN` is set by provider `gke`"),
        "{err}"
    );

    providers(
        &sb,
        &[(
            "bad",
            "summary: sets KUBECONFIG\nenv:\n  KUBECONFIG: /tmp/x\ncommands: [\"true\"]\n",
        )],
    );
    let spec = sb.write_spec("version: 1\ntemplates: providers\nsteps:\n  - provider: bad\n");
    let (code, _, err) = sb.run(&["plan", spec.to_str().unwrap()], &[]);
    assert_eq!(code, 2, "{err}");
    assert!(
        unwrapped(&err).contains("env `KUBECONFIG` is set by stackhook itself"),
        "{err}"
    );

    // A value no environment variable can hold is refused at plan time.
    std::fs::remove_file(sb.path("work/providers/bad.yaml")).unwrap();
    providers(
        &sb,
        &[(
            "nul",
            "summary: a NUL byte\nenv:\n  X: \"{{ 'a\\u0000b' }}\"\ncommands: [\"true\"]\n",
        )],
    );
    let spec = sb.write_spec("version: 1\ntemplates: providers\nsteps:\n  - provider: nul\n");
    let (code, _, err) = sb.run(&["plan", spec.to_str().unwrap()], &[]);
    assert_eq!(code, 2, "{err}");
    assert!(unwrapped(&err).contains("holds a NUL byte"), "{err}");
}

/// The shipped example passes the Rancher token to curl in a header file.
#[test]
fn the_custom_provider_example_keeps_its_token_out_of_argv() {
    let out = stackhook()
        .args(["plan", "examples/custom-provider/spec.yaml"])
        .env("RANCHER_TOKEN", CANARY)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("-H @\"$STACKHOOK_TMPDIR/rancher-auth-header\""),
        "{text}"
    );
    assert!(
        !text.contains("RANCHER_TOKEN\"") && !text.contains(CANARY),
        "{text}"
    );
}
