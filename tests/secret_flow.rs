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

/// A kubeconfig given as base64 in a variable is secret decoded too: a
/// later step that prints the installed file, or the token alone, shows
/// `***` where the credentials were.
#[test]
fn a_kubeconfig_installed_from_base64_is_masked_decoded() {
    use base64::Engine;
    let sb = Sandbox::new();
    let kc = "apiVersion: v1\nkind: Config\ncurrent-context: ctx\ncontexts:\n- name: ctx\n  context: {cluster: c, user: u}\nclusters:\n- name: c\n  cluster: {server: 'https://api.example:6443'}\nusers:\n- name: u\n  user:\n    token: CANARY-decoded-token\n    client-key-data: Q0FOQVJZLWtleS1kYXRh\n";
    let b64 = base64::engine::general_purpose::STANDARD.encode(kc);
    let spec = sb.write_spec(
        r#"version: 1
steps:
  - provider: kubeconfig
    with: {from: env, var: KC_B64}
  - provider: run
    with:
      commands:
        - cat "$KUBECONFIG"
        - 'sed -n "s/.*token: //p" "$KUBECONFIG"'
"#,
    );
    let (code, out, err) = sb.run(&["run", spec.to_str().unwrap()], &[("KC_B64", &b64)]);
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains("Q0FOQVJZLWtleS1kYXRh"), "{out}");
    assert!(!out.contains("CANARY-decoded-token"), "{out}");
    assert!(out.contains("[run]     token: ***\n"), "{out}");
    assert!(out.contains("[run] ***\n"), "the token alone: {out}");
    assert!(
        out.contains("[run] kind: Config\n"),
        "structure is shown: {out}"
    );
}

/// However the kubeconfig in a secret variable is laid out (flow-style
/// YAML, JSON; base64 or plain), each credential it holds is masked alone:
/// the token bare and in `kubectl config view -o json`'s `"token": "..."`,
/// the client key data, and each line of the key it decodes to. A value
/// shorter than the masker's minimum (`pw`) is not masked, as anywhere.
#[test]
fn a_kubeconfigs_credentials_are_masked_whatever_its_layout() {
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let token = "SUPERSECRETTOKEN123";
    let key_line = "CANARYKEYBODYLINE2xyz";
    let pem = format!(
        "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQ\n{key_line}\n-----END PRIVATE KEY-----\n"
    );
    let key_data = b64(&pem);
    let flow = format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: ctx\ncontexts: [{{name: ctx, context: {{cluster: c, user: u}}}}]\nclusters: [{{name: c, cluster: {{server: 'https://api.example:6443'}}}}]\nusers: [{{name: u, user: {{token: {token}, client-key-data: {key_data}, username: admin, password: pw}}}}]\n"
    );
    let json = format!(
        r#"{{"apiVersion":"v1","kind":"Config","current-context":"ctx","contexts":[{{"name":"ctx","context":{{"cluster":"c","user":"u"}}}}],"clusters":[{{"name":"c","cluster":{{"server":"https://api.example:6443"}}}}],"users":[{{"name":"u","user":{{"token":"{token}","client-key-data":"{key_data}"}}}}]}}"#
    );
    let kubectl = real_kubectl().is_some();
    for (what, content) in [
        ("flow YAML in base64", b64(&flow)),
        ("JSON in base64", b64(&json)),
        ("plain JSON", json.clone()),
    ] {
        let sb = Sandbox::new();
        // Block scalars: the commands hold `: `.
        let mut commands = format!(
            "        - |-\n          printf '%s\\n' {token} '\"token\": \"{token}\"' {key_data} {key_line}\n"
        );
        if kubectl {
            sb.with_real_kubectl();
            commands.push_str("        - kubectl config view --raw -o json\n");
            commands.push_str("        - |-\n          kubectl config view --raw -o jsonpath='{.users[0].user.token}'; echo\n");
        }
        let spec = sb.write_spec(&format!(
            "version: 1\nsteps:\n  - provider: kubeconfig\n    with: {{from: env, var: KC}}\n  - provider: run\n    with:\n      commands:\n{commands}"
        ));
        let (code, out, err) = sb.run(&["run", spec.to_str().unwrap()], &[("KC", &content)]);
        assert_eq!(code, 0, "{what}: {err}");
        for secret in [token, &key_data, key_line, "MIIEvQIBADANBgkqhkiG9w0BAQ"] {
            assert!(!out.contains(secret), "{what}: {secret} in {out}");
        }
        assert!(
            out.contains("[run] ***\n[run] \"token\": \"***\"\n"),
            "{what}: {out}"
        );
        if kubectl {
            assert!(out.contains("\"token\": \"***\""), "{what}: {out}");
            assert!(out.contains("\"kind\": \"Config\""), "{what}: {out}");
            if what.starts_with("flow") {
                assert!(out.contains("\"password\": \"pw\""), "{what}: {out}");
            }
        }
    }
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

/// An OIDC token whose signature is `signature`, expiring in ten minutes
/// (so the plan warns about it, naming where it is).
fn short_lived_jwt(signature: &str) -> String {
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 600;
    format!(
        "{}.{}.{signature}",
        b64(r#"{"alg":"RS256"}"#),
        b64(&format!(r#"{{"exp":{exp}}}"#))
    )
}

/// Issue 20 item 4: AWS_WEB_IDENTITY_TOKEN_FILE and
/// GOOGLE_APPLICATION_CREDENTIALS were `***` in plans and output because
/// of TOKEN and CREDENTIAL in their names, though they hold paths (written
/// in clear into the kubeconfig). A path is shown everywhere, and not
/// announced to GitHub as a secret; what the file holds never shows.
#[test]
fn a_variable_that_holds_a_path_is_shown_and_its_file_is_not() {
    let sb = Sandbox::new();
    let content = "CANARY-token-file-content";
    let token_file = sb.path("work/spacelift.oidc");
    std::fs::write(&token_file, short_lived_jwt(content)).unwrap();
    let creds = sb.path("work/gcp.json");
    let json =
        serde_json::json!({"type": "external_account", "credential_source": {"file": token_file}});
    std::fs::write(&creds, json.to_string()).unwrap();
    let (token_path, creds_path) = (token_file.to_str().unwrap(), creds.to_str().unwrap());
    let env = [
        ("AWS_WEB_IDENTITY_TOKEN_FILE", token_path),
        ("GOOGLE_APPLICATION_CREDENTIALS", creds_path),
        ("EKS_ROLE_ARN", "arn:aws:iam::111122223333:role/r"),
        ("GKE_CLUSTER_NAME", "c"),
        ("GKE_CLUSTER_REGION", "europe-west1"),
        ("GCP_PROJECT_NAME", "p"),
    ];
    let spec = |name: &str| root().join("specs").join(name).display().to_string();
    for (name, shown) in [
        (
            "aws-eks-oidc.yaml",
            format!("AWS_WEB_IDENTITY_TOKEN_FILE={token_path}"),
        ),
        (
            "gke-oidc.yaml",
            format!("CLOUDSDK_AUTH_CREDENTIAL_FILE_OVERRIDE={creds_path}"),
        ),
    ] {
        let (code, text, err) = sb.run(&["plan", &spec(name)], &env);
        assert_eq!(code, 0, "{err}");
        assert!(text.contains(&shown), "{name}: {text}");
        // The expiry warning names the file, and says nothing of its content.
        assert!(
            unwrapped(&text).contains(&format!("the token file {token_path} expires in"))
                || unwrapped(&text)
                    .contains(&format!("the OIDC token named by {creds_path} expires in")),
            "{name}: {text}"
        );
        let (code, json, err) = sb.run(&["plan", "--format", "json", &spec(name)], &env);
        assert_eq!(code, 0, "{err}");
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        let step_env = v["steps"][0]["env"].to_string();
        assert!(
            step_env.contains(token_path) || step_env.contains(creds_path),
            "{json}"
        );
        assert!(
            !text.contains(content) && !json.contains(content),
            "{text}{json}"
        );
    }

    let run_spec = r#"version: 1
steps:
  - provider: run
    with:
      commands:
        - echo "token file $AWS_WEB_IDENTITY_TOKEN_FILE"
        - echo "credentials $GOOGLE_APPLICATION_CREDENTIALS"
"#;
    let file = sb.write_spec(run_spec);
    let gha = [env.as_slice(), &[("GITHUB_ACTIONS", "true")]].concat();
    let (code, out, err) = sb.run(&["run", file.to_str().unwrap()], &gha);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&format!("token file {token_path}")), "{out}");
    assert!(out.contains(&format!("credentials {creds_path}")), "{out}");
    assert!(!out.contains("::add-mask::"), "a path is no secret: {out}");
    assert!(
        !out.contains(content) && !err.contains(content),
        "{out}{err}"
    );
}

/// A spec that lists a path variable under `secrets:` keeps it secret:
/// referenced in plans, masked in output, announced to GitHub.
#[test]
fn a_path_variable_listed_as_a_secret_stays_masked() {
    let sb = Sandbox::new();
    let token_file = sb.path("work/CANARY-secret-dir/spacelift.oidc");
    std::fs::create_dir_all(token_file.parent().unwrap()).unwrap();
    std::fs::write(&token_file, short_lived_jwt("sig")).unwrap();
    let token_path = token_file.to_str().unwrap();
    let env = [
        ("AWS_WEB_IDENTITY_TOKEN_FILE", token_path),
        ("EKS_ROLE_ARN", "arn:aws:iam::111122223333:role/r"),
        ("GITHUB_ACTIONS", "true"),
    ];
    let spec = sb.write_spec(
        r#"version: 1
secrets: [AWS_WEB_IDENTITY_TOKEN_FILE]
steps:
  - provider: aws-eks
    with: {cluster: c, region: eu-west-1, auth: oidc, role_arn: "${EKS_ROLE_ARN}"}
"#,
    );
    let (code, text, err) = sb.run(&["plan", spec.to_str().unwrap()], &env);
    assert_eq!(code, 0, "{err}");
    assert!(
        text.contains("env: AWS_WEB_IDENTITY_TOKEN_FILE=${AWS_WEB_IDENTITY_TOKEN_FILE}"),
        "{text}"
    );
    assert!(
        unwrapped(&text).contains("the token file ${AWS_WEB_IDENTITY_TOKEN_FILE} expires in"),
        "{text}"
    );
    assert!(!text.contains("CANARY"), "{text}");
    let spec = sb.write_spec(
        r#"version: 1
secrets: [AWS_WEB_IDENTITY_TOKEN_FILE]
steps:
  - provider: run
    with:
      commands:
        - echo "token file $AWS_WEB_IDENTITY_TOKEN_FILE"
"#,
    );
    let (code, out, err) = sb.run(&["run", spec.to_str().unwrap()], &env);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("token file ***"), "{out}");
    assert!(out.contains(&format!("::add-mask::{token_path}")), "{out}");
    let shown = out.lines().filter(|l| !l.starts_with("::add-mask::"));
    assert!(
        !shown.chain(err.lines()).any(|l| l.contains("CANARY")),
        "{out}{err}"
    );
}

/// Extra parameters a value of a choice needs to plan (`auth: oidc` needs
/// `role_arn`).
fn needs(provider: &str, param: &str, value: &str) -> &'static str {
    match (provider, param, value) {
        ("aws-eks", "auth", _) => ", role_arn: 'arn:aws:iam::111122223333:role/r'",
        ("kubeconfig", "from", "env") => ", var: KUBECONFIG_CONTENT",
        ("kubeconfig", "from", "url") => ", url: 'https://example.com/k.yaml'",
        _ => "",
    }
}

/// Issue 21 item 3: every choice parameter (`values:`) of every built-in
/// provider may be picked by a plain variable, and the plan is the one the
/// value written in the spec gives. `azure-aks` refused `login:
/// ${AKS_LOGIN}` because its ARM_CLIENT_SECRET export reads `login` (to
/// choose whether to export).
#[test]
fn a_plain_variable_picks_every_choice_of_every_built_in_provider() {
    let sb = Sandbox::new();
    let env = [
        ("ARM_CLIENT_ID", "app"),
        ("ARM_TENANT_ID", "tenant"),
        ("ARM_CLIENT_SECRET", "CANARY-arm"),
        ("ARM_CLIENT_CERTIFICATE_PATH", "/certs/sp.pem"),
        ("GOOGLE_OAUTH_ACCESS_TOKEN", "CANARY-gcp"),
        ("GOOGLE_APPLICATION_CREDENTIALS", "/creds/gcp.json"),
        ("KUBECONFIG_CONTENT", "CANARY-kubeconfig"),
    ];
    let plan = |with: &str, pick: &str| {
        let spec = sb.write_spec(&format!("version: 1\nsteps:\n  - {with}\n"));
        let extra = [env.as_slice(), &[("PICK", pick)]].concat();
        let (code, out, err) = sb.run(
            &["plan", "--format", "json", spec.to_str().unwrap()],
            &extra,
        );
        assert_eq!(code, 0, "{with} with PICK={pick}: {err}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        (v["steps"].clone(), v["warnings"].clone())
    };
    let mut picked = Vec::new();
    let mut templates: Vec<_> = std::fs::read_dir(root().join("templates"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    templates.sort();
    for path in templates {
        let def: serde_json::Value =
            serde_saphyr::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let provider = path.file_stem().unwrap().to_string_lossy().to_string();
        let params = def["params"].as_object().unwrap();
        let choices = params.iter().filter(|(_, p)| p.get("values").is_some());
        for (name, param) in choices {
            // Every other required parameter (and the first of each
            // exactly-one-of group), with a value of its own.
            let mut base = String::new();
            for (other, p) in params {
                let first_of_group = def["exactly_one_of"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|g| g[0] == other.as_str());
                if other != name && (p["required"] == true || first_of_group) {
                    let value = p["values"][0].as_str().unwrap_or("x");
                    base.push_str(&format!(", {other}: {value}"));
                }
            }
            for value in param["values"].as_array().unwrap() {
                let value = value.as_str().unwrap();
                let extra = needs(&provider, name, value);
                let with = |v: &str| {
                    format!("provider: {provider}\n    with: {{{name}: {v}{base}{extra}}}")
                };
                let written = plan(&with(value), "unused");
                let from_variable = plan(&with("\"${PICK}\""), value);
                assert_eq!(from_variable, written, "{provider} {name}: {value}");
                picked.push(format!("{provider}.{name}={value}"));
            }
        }
    }
    // The loop saw the choices there are (more may come).
    for choice in [
        "aws-eks.auth=oidc",
        "azure-aks.login=msi",
        "gke.credentials=plugin",
        "kubeconfig.from=url",
    ] {
        assert!(picked.iter().any(|p| p == choice), "{choice} in {picked:?}");
    }
}

/// A secret parameter given a value that is empty counts as not set, so its
/// default applies: the variable the default reads is secret too, or its
/// value would show in output.
#[test]
fn an_empty_secret_parameter_falls_back_to_a_default_that_stays_secret() {
    let sb = Sandbox::new();
    let dir = sb.path("work/providers");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("echo-default.yaml"),
        r#"summary: echoes its secret parameter, by default MY_PW
params:
  pw: {secret: true, default: "${MY_PW}"}
env:
  GOT: "{{ pw }}"
commands:
  - 'echo got "$GOT"'
  - 'echo and "$MY_PW"'
warnings:
  - "the password is {{ env.MY_PW }}"
"#,
    )
    .unwrap();
    let spec = sb.write_spec(
        "version: 1\ntemplates: providers\nsteps:\n  - provider: echo-default\n    with: {pw: \"${OTHER_PW:-}\"}\n",
    );
    let canary = "CANARY-default-pw";
    let (code, out, err) = sb.run(&["run", spec.to_str().unwrap()], &[("MY_PW", canary)]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("[echo-default] got ***"), "{out}");
    // The CLI reads the default's variable itself, as kubelogin reads
    // ARM_CLIENT_SECRET.
    assert!(out.contains("[echo-default] and ***"), "{out}");
    // A template that shows the variable shows its name, not its value.
    let (code, plan, err) = sb.run(&["plan", spec.to_str().unwrap()], &[("MY_PW", canary)]);
    assert_eq!(code, 0, "{err}");
    assert!(
        unwrapped(&plan).contains("the password is ${MY_PW}"),
        "{plan}"
    );
    assert!(!out.contains(canary) && !err.contains(canary), "{out}{err}");
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
