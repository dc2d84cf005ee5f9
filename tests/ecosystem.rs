//! Fitting the ecosystem: the JSON Schema (checked with a real validator,
//! check-jsonschema), `init`, `providers NAME`, completions, the man page,
//! `--version`, GitHub Actions log groups, and every example in examples/
//! exercised as far as this machine allows (no Docker engine, no Spacelift).

#[macro_use]
mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::harness::{self, Need, case};
use common::*;

fn main() {
    harness::main(vec![
        case!(the_checked_in_schema_is_what_the_binary_prints),
        case!(
            every_shipped_spec_names_the_schema_and_validates_against_it,
            Need::Tool("check-jsonschema")
        ),
        case!(
            the_schema_rejects_what_stackhook_rejects,
            Need::Tool("check-jsonschema")
        ),
        case!(
            init_writes_a_starter_that_validates_and_never_overwrites,
            Need::Tool("check-jsonschema")
        ),
        case!(init_to_stdout),
        case!(init_points_at_a_schema_that_exists),
        case!(provider_pages_are_complete),
        case!(completions_and_man_page),
        case!(version_names_the_commit),
        case!(help_texts_carry_examples),
        case!(github_actions_get_one_log_group_per_step),
        case!(colour_follows_the_flag_and_no_color),
        case!(example_custom_provider_hands_the_token_over_in_a_file),
        case!(example_spacelift_config_serves_each_stack_from_its_spec),
        case!(
            example_terraform_sets_the_hook_on_stacks_and_an_autoattached_context,
            Need::Tool("python")
        ),
        case!(
            example_runner_images_lint_clean_and_install_stackhook,
            Need::Tool("hadolint")
        ),
        case!(
            example_github_workflow_is_valid_and_its_script_comments_changed_specs,
            Need::Tool("check-jsonschema")
        ),
    ]);
}

/// A linter from the tools venv that .ci/run installs (tests that call
/// this need `Need::Tool(name)`).
fn tool(name: &str) -> PathBuf {
    tools_venv().join("bin").join(name)
}

fn check_jsonschema(args: &[&str], files: &[PathBuf]) -> std::process::Output {
    Command::new(tool("check-jsonschema"))
        .args(args)
        .args(files)
        .output()
        .unwrap()
}

fn yaml(path: &Path) -> serde_json::Value {
    serde_saphyr::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn schema_args() -> Vec<String> {
    vec![
        "--schemafile".into(),
        root()
            .join("schema/stackhook.schema.json")
            .display()
            .to_string(),
    ]
}

fn the_checked_in_schema_is_what_the_binary_prints() {
    let out = stackhook().arg("schema").output().unwrap();
    assert!(out.status.success());
    let checked_in = std::fs::read_to_string(root().join("schema/stackhook.schema.json")).unwrap();
    assert!(
        stdout(&out) == checked_in,
        "schema/stackhook.schema.json is stale: run `cargo run -- schema > schema/stackhook.schema.json`"
    );
    let v: serde_json::Value = serde_json::from_str(&checked_in).unwrap();
    assert_eq!(v["$schema"], "https://json-schema.org/draft/2020-12/schema");
}

fn every_shipped_spec_names_the_schema_and_validates_against_it() {
    let mut files = shipped_specs();
    for spec in &files {
        let first = std::fs::read_to_string(spec)
            .unwrap()
            .lines()
            .next()
            .unwrap()
            .to_string();
        assert_eq!(
            first, "# yaml-language-server: $schema=../schema/stackhook.schema.json",
            "{spec:?}"
        );
    }
    files.push(root().join("examples/custom-provider/spec.yaml"));
    files.extend(
        std::fs::read_dir(root().join("examples/spacelift-config/specs"))
            .unwrap()
            .map(|e| e.unwrap().path()),
    );
    // A spec over a base may leave out what the base gives (steps, a
    // step's provider, required parameters).
    for spec in ["prod", "leaf", "middle", "base/gke"] {
        files.push(root().join(format!("tests/specs/extends/{spec}.yaml")));
    }
    let args = schema_args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = check_jsonschema(&args, &files);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
}

fn the_schema_rejects_what_stackhook_rejects() {
    let args = schema_args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    for bad in [
        "unknown-param",
        "region-and-zone",
        "neither-region-nor-zone",
        "bad-enum-value",
        "unknown-step-key",
        "unknown-top-key",
        "version-2",
        "no-steps",
        "missing-required-param",
        "wrong-param-type",
        "bad-env-name",
        "too-many-retries",
        "step-without-provider",
    ] {
        let file = root().join(format!("tests/specs/invalid/{bad}.yaml"));
        let out = check_jsonschema(&args, &[file]);
        assert!(!out.status.success(), "the schema accepts {bad}.yaml");
    }
    // An empty value counts as not set (issue 21): a spec shared by
    // regional and zonal clusters is valid; two literal values are not.
    let dir = tempfile::tempdir().unwrap();
    let gke = |name: &str, with: &str| {
        let file = dir.path().join(name);
        let text = format!(
            "version: 1\nsteps:\n  - provider: gke\n    with: {{cluster: c, project: p, {with}}}\n"
        );
        std::fs::write(&file, text).unwrap();
        file
    };
    let shared = gke("shared.yaml", r#"region: "${R:-}", zone: "${Z:-}""#);
    let out = check_jsonschema(&args, &[shared]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let location = gke("location.yaml", "location: europe-west1-b");
    let out = check_jsonschema(&args, &[location]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let two = gke("two.yaml", "zone: europe-west1-b, location: europe-west1");
    assert!(!check_jsonschema(&args, &[two]).status.success());
}

fn init_writes_a_starter_that_validates_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let list = stackhook().arg("init").output().unwrap();
    assert!(list.status.success());
    for p in ["aws-eks", "azure-aks", "gke", "kubeconfig", "run", "verify"] {
        assert!(stdout(&list).contains(p), "{}", stdout(&list));
    }
    let mut written = Vec::new();
    for p in ["aws-eks", "azure-aks", "gke", "kubeconfig", "run", "verify"] {
        let file = dir.path().join(format!("specs/{p}.yaml"));
        stackhook()
            .args(["init", p, "-o"])
            .arg(&file)
            .assert()
            .success();
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(
            text.starts_with("# yaml-language-server: $schema="),
            "{text}"
        );
        stackhook().arg("validate").arg(&file).assert().success();
        written.push(file);
    }
    // Never overwrite without --force.
    let file = &written[0];
    std::fs::write(file, "mine").unwrap();
    let out = stackhook()
        .args(["init", "gke", "-o"])
        .arg(file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("already exists"), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(file).unwrap(), "mine");
    stackhook()
        .args(["init", "aws-eks", "--force", "-o"])
        .arg(file)
        .assert()
        .success();
    assert_ne!(std::fs::read_to_string(file).unwrap(), "mine");

    let out = stackhook().args(["init", "gek"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("did you mean `gke`?"));

    let args = schema_args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = check_jsonschema(&args, &written);
    assert!(out.status.success(), "{}", stdout(&out));
}

/// Issue 20 item 8: the `$schema` that `init` writes resolves, relative to
/// the spec (as editors resolve it), to the schema: `init` writes it
/// beside the spec when none is there, keeps one that is (or replaces it
/// with --force), and writes none when told where the schema is.
fn init_points_at_a_schema_that_exists() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("specs/prod.yaml");
    let out = stackhook()
        .args(["init", "gke", "-o"])
        .arg(&spec)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = std::fs::read_to_string(&spec).unwrap();
    let reference = text
        .lines()
        .next()
        .unwrap()
        .strip_prefix("# yaml-language-server: $schema=")
        .unwrap();
    let resolved = spec.parent().unwrap().join(reference);
    let schema = stdout(&stackhook().arg("schema").output().unwrap());
    assert_eq!(std::fs::read_to_string(&resolved).unwrap(), schema);

    std::fs::write(&resolved, "mine").unwrap();
    let other = dir.path().join("specs/other.yaml");
    let out = stackhook()
        .args(["init", "aws-eks", "-o"])
        .arg(&other)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(stderr(&out).contains("kept"), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&resolved).unwrap(), "mine");
    stackhook()
        .args(["init", "aws-eks", "--force", "-o"])
        .arg(&other)
        .assert()
        .success();
    assert_eq!(std::fs::read_to_string(&resolved).unwrap(), schema);

    let elsewhere = dir.path().join("infra/prod.yaml");
    stackhook()
        .args([
            "init",
            "gke",
            "--schema",
            "../schema/stackhook.schema.json",
            "-o",
        ])
        .arg(&elsewhere)
        .assert()
        .success();
    assert!(
        std::fs::read_to_string(&elsewhere)
            .unwrap()
            .starts_with("# yaml-language-server: $schema=../schema/stackhook.schema.json\n")
    );
    assert!(!dir.path().join("infra/stackhook.schema.json").exists());
}

fn init_to_stdout() {
    let out = stackhook()
        .args(["init", "gke", "-o", "-"])
        .output()
        .unwrap();
    assert!(out.status.success());
    insta::assert_snapshot!("init-gke", stdout(&out));
}

fn provider_pages_are_complete() {
    let mut failed = Vec::new();
    for p in ["aws-eks", "azure-aks", "gke", "kubeconfig", "run", "verify"] {
        let out = stackhook().args(["providers", p]).output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        check_snapshot!(failed, format!("providers-{p}"), stdout(&out));
    }
    all_snapshots_match(&failed);
    let gke = stdout(&stackhook().args(["providers", "gke"]).output().unwrap());
    for want in [
        "project (string; required)",
        "GOOGLE_OAUTH_ACCESS_TOKEN",
        "Needs on PATH: gcloud, gke-gcloud-auth-plugin (when credentials == 'plugin'",
        "Renders to:",
        "set-user --exec-credential-from-env=GOOGLE_OAUTH_ACCESS_TOKEN",
    ] {
        assert!(gke.contains(want), "no {want:?} in:\n{gke}");
    }
}

fn completions_and_man_page() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = stackhook().args(["completions", shell]).output().unwrap();
        assert!(out.status.success(), "{shell}");
        assert!(stdout(&out).contains("stackhook"), "{shell}");
    }
    let bash = stdout(&stackhook().args(["completions", "bash"]).output().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("stackhook.bash");
    std::fs::write(&file, &bash).unwrap();
    let check = Command::new("bash").arg("-n").arg(&file).status().unwrap();
    assert!(check.success(), "the bash completion script does not parse");
    for sub in ["plan", "run", "validate", "providers", "init", "schema"] {
        assert!(bash.contains(sub), "bash completion lacks {sub}");
    }
    let man = stdout(&stackhook().arg("man").output().unwrap());
    assert!(man.contains(".TH stackhook 1"), "{man}");
    assert!(man.contains("plan"));
}

fn version_names_the_commit() {
    let out = stackhook().arg("--version").output().unwrap();
    let v = stdout(&out);
    let (head, rest) = v.trim().split_once(" (").unwrap();
    assert_eq!(head, format!("stackhook {}", env!("CARGO_PKG_VERSION")));
    let commit = rest.trim_end_matches(')').trim_end_matches("-dirty");
    let git = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(root())
        .output();
    match git {
        Ok(g) if g.status.success() => {
            assert_eq!(commit, String::from_utf8_lossy(&g.stdout).trim())
        }
        _ => assert_eq!(commit, "unknown commit"),
    }
}

fn help_texts_carry_examples() {
    for sub in [
        "plan",
        "run",
        "validate",
        "providers",
        "init",
        "schema",
        "completions",
        "man",
        "kubeconfig",
        "doctor",
    ] {
        let out = stackhook().args([sub, "--help"]).output().unwrap();
        assert!(out.status.success(), "{sub}");
        assert!(
            stdout(&out).contains("Example"),
            "`stackhook {sub} --help` has no example"
        );
    }
}

fn github_actions_get_one_log_group_per_step() {
    let sb = Sandbox::new();
    let spec = sb.write_spec(
        r#"version: 1
steps:
  - provider: run
    name: a
    with: {commands: ['echo in a']}
  - provider: run
    name: b
    with: {commands: ['echo in b']}
"#,
    );
    let out = sb
        .command()
        .arg("run")
        .arg(&spec)
        .env("GITHUB_ACTIONS", "true")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        stdout(&out),
        "::group::[1/2] a\n[a] in a\n::endgroup::\n::group::[2/2] b\n[b] in b\n::endgroup::\n"
    );
}

fn colour_follows_the_flag_and_no_color() {
    let sb = Sandbox::new();
    let spec = sb.write_spec(
        r#"version: 1
steps:
  - provider: run
    with: {commands: ['true']}
"#,
    );
    let always = sb
        .command()
        .args(["--color", "always", "run"])
        .arg(&spec)
        .output()
        .unwrap();
    assert!(stderr(&always).contains("\x1b["), "{}", stderr(&always));
    let never = sb
        .command()
        .args(["--color", "never", "run"])
        .arg(&spec)
        .output()
        .unwrap();
    assert!(!stderr(&never).contains("\x1b["));
    // Not a terminal: no colour with auto.
    let auto = sb
        .command()
        .arg("run")
        .arg(&spec)
        .env_remove("NO_COLOR")
        .output()
        .unwrap();
    assert!(!stderr(&auto).contains("\x1b["));
}

// ------------------------------------------------------------- examples

fn example_custom_provider_hands_the_token_over_in_a_file() {
    let out = stackhook()
        .args(["plan", "examples/custom-provider/spec.yaml"])
        .env("RANCHER_TOKEN", "CANARY-rancher")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    // The header is a 0600 temp file curl reads (`-H @FILE`): the token is
    // never on its command line.
    assert!(
        text.contains("-H @\"$STACKHOOK_TMPDIR/rancher-auth-header\""),
        "{text}"
    );
    assert!(
        text.contains("rancher-auth-header <- Authorization: Bearer ${RANCHER_TOKEN}; 0600, removed after command 1"),
        "{text}"
    );
    assert!(!text.contains("CANARY"));
    let page = stdout(
        &stackhook()
            .args([
                "providers",
                "rancher",
                "--templates",
                "examples/custom-provider/providers",
            ])
            .output()
            .unwrap(),
    );
    assert!(page.contains("rancher - Rancher-managed cluster"), "{page}");
}

fn example_spacelift_config_serves_each_stack_from_its_spec() {
    let dir = root().join("examples/spacelift-config");
    let config = yaml(&dir.join(".spacelift/config.yml"));
    assert_eq!(config["version"], "1");
    let hooks: Vec<&str> = config["stack_defaults"]["before_init"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_str().unwrap())
        .collect();
    assert_eq!(
        hooks,
        ["(cd /mnt/workspace/source && stackhook run)"],
        "one line, nothing to source"
    );
    assert_eq!(
        config["stack_defaults"]["environment"]["KUBECONFIG"],
        "/mnt/workspace/.kube/config"
    );
    for h in &hooks {
        assert!(
            Command::new("sh")
                .args(["-n", "-c", h])
                .status()
                .unwrap()
                .success(),
            "{h}"
        );
    }
    for (id, stack) in config["stacks"].as_object().unwrap() {
        // The hook finds specs/<stack id>.yaml from TF_VAR_spacelift_stack_id.
        let mut cmd = stackhook();
        cmd.current_dir(&dir)
            .args(["plan", "--strict"])
            .env("TF_VAR_spacelift_stack_id", id)
            .env("GOOGLE_OAUTH_ACCESS_TOKEN", "CANARY");
        for (k, v) in stack["environment"].as_object().unwrap() {
            cmd.env(k, v.as_str().unwrap());
        }
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{id}: {}", stderr(&out));
        assert!(stdout(&out).contains(&format!("Plan for specs/{id}.yaml")));
    }
}

fn example_terraform_sets_the_hook_on_stacks_and_an_autoattached_context() {
    let python = tool("python");
    let parse = |file: &str| -> serde_json::Value {
        let out = Command::new(&python)
            .args([
                "-c",
                "import hcl2, json, sys; print(json.dumps(hcl2.load(open(sys.argv[1]))))",
            ])
            .arg(root().join("examples/spacelift-terraform").join(file))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{file} does not parse as HCL: {}",
            stderr(&out)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let text = |v: &serde_json::Value| v.to_string();
    let stack = parse("stack.tf");
    let s = text(&stack);
    assert!(
        s.contains("spacelift_stack") && s.contains("before_init"),
        "{s}"
    );
    // From the project root (stacks/k8s-prod) the spec is found at the
    // repository's specs/k8s-prod.yaml: no path to give.
    assert!(s.contains(r#""before_init":["\"stackhook run\""]"#), "{s}");
    assert!(!s.contains("--env-file"), "nothing to source: {s}");
    assert!(s.contains("/mnt/workspace/.kube/config"), "{s}");
    let context = parse("context.tf");
    let c = text(&context);
    assert!(
        c.contains("spacelift_context") && c.contains("autoattach:kubernetes"),
        "{c}"
    );
    assert!(c.contains(r#""before_init":["\"stackhook run\""]"#), "{c}");
    // Terraform's kubernetes and helm providers read the same kubeconfig.
    let providers = parse("../terraform-providers/providers.tf");
    let p = text(&providers);
    assert!(p.contains("kubernetes") && p.contains("helm"), "{p}");
    assert_eq!(
        providers["locals"][0]["kubeconfig"]
            .as_str()
            .map(|v| v.trim_matches('"')),
        Some("/mnt/workspace/.kube/config"),
        "{p}"
    );
    let provider = providers["provider"].to_string();
    assert_eq!(
        provider
            .matches(r#""config_path":"${local.kubeconfig}""#)
            .count(),
        2,
        "{p}"
    );
    assert!(
        c.matches("\\\"kubernetes\\\"").count() >= 2 || c.matches("kubernetes").count() >= 3,
        "{c}"
    );
}

fn example_runner_images_lint_clean_and_install_stackhook() {
    let hadolint = tool("hadolint");
    // (file, what its build checks, whether its base is Spacelift's own
    // image, which has the `spacelift` user already)
    for (file, clis, spacelift_base) in [
        ("aws.Dockerfile", vec!["aws --version"], true),
        (
            "azure.Dockerfile",
            vec!["az aks install-cli", "kubelogin --version"],
            false,
        ),
        (
            "gcp.Dockerfile",
            vec![
                "gcloud components install kubectl gke-gcloud-auth-plugin",
                "kubectl version",
                "gke-gcloud-auth-plugin --version",
            ],
            false,
        ),
    ] {
        let path = root().join("examples/runner-images").join(file);
        let out = Command::new(&hadolint)
            .arg("--no-color")
            .arg(&path)
            .output()
            .unwrap();
        assert!(out.status.success(), "{file}: {}", stdout(&out));
        let text = std::fs::read_to_string(&path).unwrap();
        // The binary comes from the release image (the root Dockerfile,
        // tests/ship.rs), not from a Rust build stage.
        let copy = format!(
            "COPY --from=ghcr.io/stackhook/stackhook:{} /stackhook /usr/local/bin/stackhook",
            env!("CARGO_PKG_VERSION")
        );
        assert!(text.contains(&copy), "{file} lacks {copy}");
        assert!(!text.contains("cargo build"), "{file} still builds Rust");
        assert!(text.contains("stackhook --version"), "{file}");
        for cli in clis {
            assert!(text.contains(cli), "{file} lacks {cli}");
        }

        // Spacelift runs a custom image as `spacelift`, UID 1983: the image
        // has that user and runs as it, and its build checks the UID.
        let instructions: Vec<String> = instructions(&text);
        let users: Vec<&String> = instructions
            .iter()
            .filter(|i| i.starts_with("USER "))
            .collect();
        assert_eq!(
            users.last().map(|u| u.as_str()),
            Some("USER spacelift"),
            "{file}"
        );
        let made = instructions.iter().any(|i| {
            i.starts_with("RUN ")
                && (i.contains("adduser -D -u 1983 -h /home/spacelift spacelift")
                    || i.contains(
                        "useradd --uid 1983 --create-home --home-dir /home/spacelift spacelift",
                    ))
        });
        assert_eq!(
            made, !spacelift_base,
            "{file}: the spacelift user is made exactly when the base lacks it"
        );
        if spacelift_base {
            assert!(
                instructions[0].starts_with("FROM public.ecr.aws/spacelift/runner-terraform:"),
                "{file}"
            );
        }
        // The last instruction checks the UID and the CLIs as that user.
        let last = instructions.last().unwrap();
        assert!(
            last.starts_with("RUN test \"$(id -u)\" = 1983 && stackhook --version"),
            "{file}: {last}"
        );
        let user_at = instructions
            .iter()
            .rposition(|i| i == "USER spacelift")
            .unwrap();
        assert!(
            instructions[user_at + 1..]
                .iter()
                .all(|i| i.starts_with("RUN ")),
            "{file}: only checks after USER spacelift"
        );
    }
    let readme = std::fs::read_to_string(root().join("examples/runner-images/README.md")).unwrap();
    for needle in [
        "`latest`",
        "`gcp-latest`",
        "`azure-latest`",
        "UID 1983",
        "kubelogin",
    ] {
        assert!(readme.contains(needle), "README.md lacks {needle}");
    }
}

/// A Dockerfile's instructions, continuation lines joined, comments and
/// blank lines dropped.
fn instructions(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut continued = false;
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || trimmed.is_empty() {
            continue;
        }
        let (body, more) = match trimmed.strip_suffix('\\') {
            Some(b) => (b.trim_end(), true),
            None => (trimmed, false),
        };
        if continued {
            let last = out.last_mut().unwrap();
            last.push(' ');
            last.push_str(body);
        } else {
            out.push(body.to_string());
        }
        continued = more;
    }
    out
}

fn example_github_workflow_is_valid_and_its_script_comments_changed_specs() {
    let wf = root().join("examples/github-actions/stackhook.yml");
    let out = check_jsonschema(
        &["--builtin-schema", "vendor.github-workflows"],
        std::slice::from_ref(&wf),
    );
    assert!(out.status.success(), "{}", stdout(&out));

    // Run the workflow's "Render plans" script in a repository where one
    // spec changed and one was added since the base commit.
    let doc = yaml(&wf);
    let script = doc["jobs"]["plan"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "Render plans")
        .unwrap()["run"]
        .as_str()
        .unwrap()
        .to_string();
    let repo = tempfile::tempdir().unwrap();
    let git = |args: &[&str]| {
        let ok = Command::new("git")
            .args([
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@t",
                "-c",
                "init.defaultBranch=main",
            ])
            .args(args)
            .current_dir(repo.path())
            .output()
            .unwrap();
        assert!(ok.status.success(), "git {args:?}: {}", stderr(&ok));
        stdout(&ok)
    };
    git(&["init", "-q"]);
    std::fs::create_dir(repo.path().join("specs")).unwrap();
    for s in ["aws-eks.yaml", "gke-zone.yaml"] {
        std::fs::copy(
            root().join("specs").join(s),
            repo.path().join("specs").join(s),
        )
        .unwrap();
    }
    git(&["add", "."]);
    git(&["commit", "-qm", "base"]);
    let base = git(&["rev-parse", "HEAD"]).trim().to_string();
    std::fs::write(
        repo.path().join("specs/aws-eks.yaml"),
        std::fs::read_to_string(root().join("specs/aws-eks.yaml"))
            .unwrap()
            .replace("eu-west-1", "us-east-1"),
    )
    .unwrap();
    std::fs::copy(
        root().join("specs/kubeconfig-env.yaml"),
        repo.path().join("specs/new.yaml"),
    )
    .unwrap();
    git(&["add", "."]);
    git(&["commit", "-qm", "change"]);
    let bin_dir = bin().parent().unwrap().to_path_buf();
    let run = Command::new("sh")
        .args(["-c", &script])
        .current_dir(repo.path())
        .env("BASE_SHA", &base)
        .env("PATH", format!("{}:/usr/bin:/bin", bin_dir.display()))
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", stderr(&run));
    let md = std::fs::read_to_string(repo.path().join("plan.md")).unwrap();
    assert!(md.starts_with("## stackhook plans\n"), "{md}");
    assert!(
        md.contains("### stackhook plan: `specs/aws-eks.yaml`"),
        "{md}"
    );
    assert!(md.contains("### stackhook plan: `specs/new.yaml`"), "{md}");
    assert!(
        !md.contains("specs/gke-zone.yaml"),
        "an unchanged spec was planned: {md}"
    );
    assert!(
        md.contains("```sh\naws eks update-kubeconfig --region=us-east-1"),
        "{md}"
    );
}
