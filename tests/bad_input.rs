//! Input a user did not mean as an attack, or did: each gets a located
//! error and exit 2, or means what it says, in bounded time. (The invalid
//! specs with their diagnostics are in tests/specs/invalid, snapshotted by
//! tests/invalid.rs: NUL bytes, non-UTF-8 specs, endless templates,
//! unset variables read by templates.)

mod common;

use common::*;

/// `run` commands are shell text: only `{{ }}` is stackhook's.
#[test]
fn run_commands_keep_their_shell_expansions() {
    let sb = Sandbox::new();
    let spec = sb.write_spec(
        r#"version: 1
steps:
  - provider: run
    with:
      commands:
        - 'F=spec.yaml; echo "${F%.yaml} ${#F} ${F:+x} ${F:?msg} {#F} {%s}"'
        - echo "pid $$"
        - printf '{%s}\n' {{ "templated" }}
"#,
    );
    let (code, _, err) = sb.run(&["validate", spec.to_str().unwrap()], &[]);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = sb.run(&["run", spec.to_str().unwrap()], &[]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "[run] spec 9 x spec.yaml {#F} {%s}");
    let pid = lines[1].strip_prefix("[run] pid ").unwrap();
    assert!(pid.parse::<u32>().is_ok(), "$$ is the shell's pid: {pid}");
    assert_eq!(lines[2], "[run] {templated}");
}

/// A custom template reading an unset variable through `env` validates,
/// plans with the variable listed as missing, and fails preflight naming
/// it; `default` still works.
#[test]
fn a_template_reading_an_unset_variable_says_which() {
    let sb = Sandbox::new();
    let dir = sb.path("work/providers");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("regional.yaml"),
        "summary: reads the region\ncommands:\n  - \"echo {{ env.REGION }} {{ env.ZONE | default('z1') }}\"\n",
    )
    .unwrap();
    let spec = sb.write_spec("version: 1\ntemplates: providers\nsteps:\n  - provider: regional\n");
    let spec = spec.to_str().unwrap();
    let (code, _, err) = sb.run(&["validate", spec], &[]);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = sb.run(&["plan", spec], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("$ echo \"$REGION\" z1"), "{out}");
    assert!(out.contains("- REGION at"), "{out}");
    let (code, _, err) = sb.run(&["run", spec], &[]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("environment variable REGION is not set"),
        "{err}"
    );
    let (code, out, err) = sb.run(&["run", spec], &[("REGION", "eu-1")]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "[regional] eu-1 z1\n");
}

/// Exports are values: spaces are kept, and a value of spaces is a value.
#[test]
fn export_values_are_kept_exactly() {
    let sb = Sandbox::new();
    let dir = sb.path("work/providers");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("padded.yaml"),
        "summary: exports spaces\nexports:\n  PADDED: '  two words  '\n  SPACE: ' '\n  EMPTY: ''\ncommands:\n  - 'true'\n",
    )
    .unwrap();
    let spec = sb.write_spec("version: 1\ntemplates: providers\nsteps:\n  - provider: padded\n");
    let file = sb.path("work/env");
    let (code, _, err) = sb.run(
        &[
            "run",
            "--env-file",
            file.to_str().unwrap(),
            spec.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("export PADDED='  two words  '\n"), "{text}");
    assert!(text.contains("export SPACE=' '\n"), "{text}");
    assert!(!text.contains("EMPTY"), "{text}");
}

/// A custom provider may not set, through `exports:` or `env:`, what the
/// run sets itself: a later step would write a kubeconfig the run never
/// locked nor recorded. The error points into the provider file.
#[test]
fn a_provider_cannot_set_reserved_variables() {
    let sb = Sandbox::new();
    let dir = sb.path("work/providers");
    std::fs::create_dir_all(&dir).unwrap();
    let spec = sb.write_spec("version: 1\ntemplates: providers\nsteps:\n  - provider: evil\n");
    let spec = spec.to_str().unwrap();
    for name in [
        "KUBECONFIG",
        "KUBE_CONFIG_PATH",
        "STACKHOOK",
        "STACKHOOK_TMPDIR",
    ] {
        for what in ["exports", "env"] {
            std::fs::write(
                dir.join("evil.yaml"),
                format!("summary: sets {name}\n{what}:\n  {name}: /tmp/elsewhere\ncommands:\n  - 'true'\n"),
            )
            .unwrap();
            let (code, _, err) = sb.run(&["validate", spec], &[]);
            let err = unwrapped(&err);
            assert_eq!(code, 2, "{what} {name}: {err}");
            let word = &what[..what.len() - usize::from(what == "exports")];
            assert!(
                err.contains(&format!("{word} `{name}` is set by stackhook itself")),
                "{err}"
            );
            assert!(
                err.contains("providers/evil.yaml:3:"),
                "{what} {name}: {err}"
            );
            let (code, _, err) = sb.run(&["run", spec], &[]);
            assert_eq!(code, 2, "{what} {name}: {err}");
        }
    }
}

/// The env file's KUBE_CONFIG_PATH (what Terraform reads after the hook)
/// is the run's kubeconfig: the spec cannot redirect it through `env:` and
/// `export:`, nor a step through its `env:`. Refused before anything runs,
/// and no env file is written.
#[test]
fn the_spec_cannot_redirect_kube_config_path() {
    let sb = Sandbox::new();
    let file = sb.path("work/stackhook.env");
    for spec in [
        "version: 1\nenv:\n  KUBE_CONFIG_PATH: /tmp/evilkc\nexport: [KUBE_CONFIG_PATH]\nsteps:\n  - provider: run\n    with: {commands: ['touch ran']}\n",
        "version: 1\nsteps:\n  - provider: run\n    env: {KUBE_CONFIG_PATH: /tmp/evilkc}\n    with: {commands: ['touch ran']}\n",
    ] {
        let spec = sb.write_spec(spec);
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
        assert!(
            err.contains("`KUBE_CONFIG_PATH` is set by stackhook itself"),
            "{err}"
        );
        assert!(!file.exists(), "{err}");
        assert!(!sb.path("work/ran").exists(), "{err}");
    }
}

/// Nothing from the spec or the environment can turn a pull-request
/// comment into links, images, HTML or new blocks: the markdown is parsed
/// (pulldown-cmark, with GitHub's tables) and must hold none.
#[test]
fn spec_and_environment_text_is_inert_in_markdown() {
    use pulldown_cmark::{Event, Options, Parser, Tag};
    let sb = Sandbox::new();
    let spec = sb.write_spec(
        r#"version: 1
env:
  NOTE: "x\n\n<a href=\"https://evil.example/\">Approve: all checks passed</a>\n\n${REGION}"
steps:
  - provider: run
    name: "x](https://evil.example) <img src=y> *b* | `c` !"
    with: {commands: ['true']}
"#,
    );
    let region = "eu-1\n\n<img src=https://evil.example/x.png>";
    let (code, md, err) = sb.run(
        &["plan", "--format", "markdown", spec.to_str().unwrap()],
        &[("REGION", region)],
    );
    assert_eq!(code, 0, "{err}");
    let mut code_text = String::new();
    for event in Parser::new_ext(&md, Options::ENABLE_TABLES) {
        match event {
            Event::Start(Tag::Link { .. } | Tag::Image { .. }) => panic!("a link or image: {md}"),
            Event::Html(h) | Event::InlineHtml(h) => panic!("raw HTML {h:?}: {md}"),
            Event::Code(c) => code_text.push_str(&c),
            _ => {}
        }
    }
    assert!(
        code_text.contains("x](https://evil.example) <img src=y> *b* | `c` !"),
        "{code_text}"
    );
    assert!(
        code_text.contains("Approve: all checks passed"),
        "{code_text}"
    );
}

/// What commands create in the run's directory is private too.
#[test]
fn files_commands_create_are_private() {
    let sb = Sandbox::new();
    let spec = sb.write_spec(
        r#"version: 1
steps:
  - provider: run
    with:
      commands:
        - printf x > {{ tempfile("made") }} && stat -c %a {{ tempfile("made") }}
"#,
    );
    let (code, out, err) = sb.run(&["run", spec.to_str().unwrap()], &[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "[run] 600\n");
}

/// A timeout no hook could wait for is refused before anything runs.
#[test]
fn an_endless_timeout_is_refused() {
    let sb = Sandbox::new();
    let spec = sb.write_spec(
        "version: 1\nsteps:\n  - provider: run\n    timeout: 500000000000y\n    with: {commands: ['true']}\n",
    );
    let (code, _, err) = sb.run(&["validate", spec.to_str().unwrap()], &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("longer than a hook can wait"), "{err}");
}

/// What `plan` warns about is said by `run` too.
#[test]
fn run_shows_the_plans_warnings() {
    let sb = Sandbox::new();
    let spec = sb.write_spec(
        r#"version: 1
steps:
  - provider: run
    with: {commands: ['true']}
env:
  API_TOKEN: committed-literal
"#,
    );
    let (code, _, err) = sb.run(&["run", spec.to_str().unwrap()], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("warning: env `API_TOKEN` holds a literal secret"),
        "{err}"
    );
    assert!(!err.contains("committed-literal"), "{err}");
}

/// A spec file from a repository (a pull request's) that is a symlink out
/// of it, to the process environment or a device, is not read: `validate`
/// in CI must not print what it points at, nor hang on it.
#[test]
fn specs_that_lead_out_of_the_repository_are_not_read() {
    let repo = tempfile::tempdir().unwrap();
    let specs = repo.path().join("specs");
    std::fs::create_dir(&specs).unwrap();
    let outside = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(outside.path(), "token: CANARY-outside-secret\n").unwrap();
    std::os::unix::fs::symlink("/proc/self/environ", specs.join("environ.yaml")).unwrap();
    std::os::unix::fs::symlink(outside.path(), specs.join("outside.yaml")).unwrap();
    std::fs::write(
        specs.join("ok.yaml"),
        "version: 1\nsteps:\n  - provider: verify\n",
    )
    .unwrap();
    let out = stackhook()
        .current_dir(repo.path())
        .args(["validate", "-v"])
        .env("GITHUB_TOKEN", "ghp_CANARY-env-token")
        .output()
        .unwrap();
    let err = unwrapped(&stderr(&out));
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(!err.contains("CANARY"), "{err}");
    assert!(err.contains("is not a file of a repository"), "{err}");
    assert!(err.contains("out of the repository"), "{err}");
    assert!(err.contains("ok: specs/ok.yaml"), "{err}");
}

/// A spec's `templates:` stays in the repository, by `..`, by an absolute
/// path and by a symlink alike: `validate` of a pull request's spec must
/// not parse YAML files from elsewhere and quote their lines in a CI log.
#[test]
fn templates_that_lead_out_of_the_repository_are_not_read() {
    let repo = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(
        outside.path().join("secret.yaml"),
        "password: CANARY-outside-secret\n",
    )
    .unwrap();
    let specs = repo.path().join("specs");
    std::fs::create_dir(&specs).unwrap();
    std::os::unix::fs::symlink(outside.path(), repo.path().join("linked")).unwrap();
    let outside_name = outside.path().file_name().unwrap().to_str().unwrap();
    let depth = "../".repeat(repo.path().components().count());
    let relative = format!("{depth}{}", outside.path().display());
    for templates in [
        relative.as_str(),
        outside.path().to_str().unwrap(),
        "../linked",
        &format!("../../{outside_name}"),
    ] {
        std::fs::write(
            specs.join("spec.yaml"),
            format!("version: 1\ntemplates: \"{templates}\"\nsteps:\n  - provider: verify\n"),
        )
        .unwrap();
        for command in ["validate", "plan"] {
            let out = stackhook()
                .current_dir(repo.path())
                .args([command, "specs/spec.yaml"])
                .output()
                .unwrap();
            let err = unwrapped(&stderr(&out));
            assert_eq!(out.status.code(), Some(2), "{templates}: {err}");
            assert!(!err.contains("CANARY"), "{templates}: {err}");
            assert!(err.contains("stackhook::spec::path"), "{templates}: {err}");
            assert!(err.contains("out of the repository"), "{templates}: {err}");
            assert!(err.contains("specs/spec.yaml:2:"), "{templates}: {err}");
        }
    }
    // A directory of the repository, even by `..`, is read.
    std::fs::create_dir(repo.path().join("providers")).unwrap();
    std::fs::write(
        specs.join("spec.yaml"),
        "version: 1\ntemplates: ../providers/../providers\nsteps:\n  - provider: verify\n",
    )
    .unwrap();
    let out = stackhook()
        .current_dir(repo.path())
        .args(["validate", "specs/spec.yaml"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
}

/// A variable whose value is not UTF-8 is passed on to commands as it is.
#[test]
fn a_non_utf8_variable_reaches_commands_untouched() {
    use std::os::unix::ffi::OsStrExt;
    let sb = Sandbox::new();
    let spec = sb.write_spec(
        "version: 1\nsteps:\n  - provider: run\n    with: {commands: ['printf %s \"$LATIN1\" | od -An -tx1']}\n",
    );
    let out = sb
        .command()
        .args(["run", spec.to_str().unwrap()])
        .env("LATIN1", std::ffi::OsStr::from_bytes(b"caf\xe9"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out).split_whitespace().collect::<Vec<_>>(),
        ["[run]", "63", "61", "66", "e9"]
    );
}

/// Finding 15: `requires: [sh, ls]` of a `run` step is two CLIs, each
/// checked on PATH (it was one CLI named `sh ls`, so preflight always
/// failed).
#[test]
fn run_requires_each_word_as_one_cli() {
    let sb = Sandbox::new();
    let spec = sb.write_spec(
        "version: 1\nsteps:\n  - provider: run\n    with:\n      requires: [sh, ls]\n      commands: [ls >/dev/null]\n  - provider: run\n    name: words\n    with:\n      requires: sh ls  sh\n      commands: ['true']\n",
    );
    let spec = spec.to_str().unwrap();
    let (code, out, err) = sb.run(&["plan", spec], &[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out.matches("  needs: sh (found), ls (found)\n").count(),
        2,
        "{out}"
    );
    let (code, _, err) = sb.run(&["run", spec], &[]);
    assert_eq!(code, 0, "{err}");
    let spec = sb.write_spec(
        "version: 1\nsteps:\n  - provider: run\n    with:\n      requires: [sh, no-such-cli]\n      commands: ['true']\n",
    );
    let (code, _, err) = sb.run(&["run", spec.to_str().unwrap()], &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("`no-such-cli` is not on PATH"), "{err}");
    assert!(!err.contains("`sh` is not on PATH"), "{err}");
}

/// A value (or a command) holding terminal control sequences is shown as
/// escapes in the text and markdown plans, `-v` and failure reports, not
/// acted on by the reader's terminal: `ESC [2K CR` would erase what comes
/// before it. JSON keeps the exact text.
#[test]
fn control_characters_are_shown_not_acted_on() {
    let sb = Sandbox::new();
    let spec = sb.write_spec(
        "version: 1\nsteps:\n  - provider: run\n    with:\n      commands:\n        - \"echo {{ env.PLAIN }} \\u001b[2K\\rSAFE; exit 3\"\n",
    );
    let spec = spec.to_str().unwrap();
    let plain = ("PLAIN", "ok\x1b[2K\recho harmless");
    let shown = r"echo 'ok\x1b[2K\recho harmless' \x1b[2K\rSAFE; exit 3";
    for format in ["text", "markdown"] {
        let (code, out, err) = sb.run(&["plan", spec, "--format", format], &[plain]);
        assert_eq!(code, 0, "{err}");
        assert!(out.contains(shown), "{format}: {out}");
        assert!(!out.contains(['\x1b', '\r']), "{format}: {out:?}");
    }
    // The kubeconfig path too; and bidi or zero-width characters, which
    // reorder or hide the text around them, in text and markdown.
    let kube = sb.path("work/k\x1b]0;x\x07");
    let kube = kube.to_str().unwrap();
    let bidi = ("PLAIN", "a\u{202E}b\u{200B}c");
    for format in ["text", "markdown"] {
        let (code, out, err) = sb.run(
            &["plan", spec, "--format", format, "--kubeconfig", kube],
            &[bidi],
        );
        assert_eq!(code, 0, "{err}");
        assert!(out.contains(r"k\x1b]0;x\x07"), "{format}: {out}");
        assert!(out.contains(r"a\u{202e}b\u{200b}c"), "{format}: {out}");
        assert!(
            !out.contains(['\x1b', '\x07', '\u{202E}', '\u{200B}']),
            "{format}: {out:?}"
        );
    }
    let (_, out, _) = sb.run(&["plan", spec, "--format", "json"], &[plain]);
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        json["steps"][0]["commands"][0],
        "echo 'ok\x1b[2K\recho harmless' \x1b[2K\rSAFE; exit 3"
    );
    let (code, _, err) = sb.run(&["run", "-v", spec], &[plain]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(err.matches(shown).count(), 2, "-v and the report: {err}");
    assert!(!err.contains('\x1b'), "{err:?}");
}

/// The raw characters a terminal acts on, or that reorder or split a line.
const HIDDEN: [char; 6] = ['\x1b', '\r', '\u{202E}', '\u{2028}', '\u{85}', '\u{7f}'];

fn assert_escaped(what: &str, text: &str) {
    assert!(
        !text.contains(HIDDEN),
        "{what} shows a raw character: {text:?}"
    );
}

/// Hidden characters from every source (the spec's `env:` and its path, a
/// custom provider's file name and text, KUBERNETES_EXEC_INFO) are shown
/// escaped wherever they are printed: the text, markdown and JSON plans,
/// `run`'s prefixes, notes and summary, diagnostics, `validate`, provider
/// pages and exec-credential's error.
#[test]
fn hidden_characters_are_escaped_wherever_they_are_shown() {
    let sb = Sandbox::new();
    let dir = sb.path("work/providers");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("ev\x1b[2Kil.yaml"),
        "summary: \"says hi\\u202Eih\"\nwarnings: [\"care\\rful\\u2066\"]\ncommands:\n  - echo hi\n",
    )
    .unwrap();
    let spec = sb.path("work/sp\x1b]0;x\x07ec.yaml");
    std::fs::write(
        &spec,
        "version: 1\ntemplates: providers\nenv:\n  NOTE: \"a\\e[2Kb\\rc\\u202Ed\\u2028e\\x85f\"\nsteps:\n  - provider: \"ev\\e[2Kil\"\n",
    )
    .unwrap();
    let spec = spec.to_str().unwrap();
    let (code, out, err) = sb.run(&["plan", spec], &[]);
    assert_eq!(code, 0, "{err}");
    assert_escaped("the text plan", &out);
    for shown in [
        r"Plan for ",
        r"sp\x1b]0;x\x07ec.yaml",
        r"NOTE=a\x1b[2Kb\rc\u{202e}d\u{2028}e\u{85}f",
        r"[1/1] ev\x1b[2Kil (provider ev\x1b[2Kil,",
        r"step `ev\x1b[2Kil`: care\rful\u{2066}",
    ] {
        assert!(out.contains(shown), "{shown}: {out}");
    }
    let (code, md, err) = sb.run(&["plan", "--format", "markdown", spec], &[]);
    assert_eq!(code, 0, "{err}");
    assert_escaped("the markdown plan", &md);
    assert!(
        md.contains(r"a\x1b[2Kb\rc\u{202e}d\u{2028}e\u{85}f"),
        "{md}"
    );
    let (code, json, err) = sb.run(&["plan", "--format", "json", spec], &[]);
    assert_eq!(code, 0, "{err}");
    assert_escaped("the JSON plan", &json);
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        json["steps"][0]["name"], "ev\x1b[2Kil",
        "JSON keeps the exact text"
    );
    assert!(
        json.to_string().contains("\u{202E}d\u{2028}e\u{85}f"),
        "{json}"
    );
    let (code, out, err) = sb.run(&["run", spec], &[]);
    assert_eq!(code, 0, "{err}");
    assert_escaped("run's output", &out);
    assert_escaped("run's notes and summary", &err);
    assert_eq!(out, "[ev\\x1b[2Kil] hi\n");
    assert!(err.contains(r"==> [1/1] ev\x1b[2Kil"), "{err}");
    assert!(err.contains(r"[1/1] ev\x1b[2Kil "), "the summary: {err}");
    assert!(
        err.contains(r"warning: step `ev\x1b[2Kil`: care\rful\u{2066}"),
        "{err}"
    );
    let (code, _, err) = sb.run(&["validate", "-v", spec], &[]);
    assert_eq!(code, 0, "{err}");
    assert_escaped("validate", &err);
    assert!(
        err.starts_with("ok: ") && err.contains(r"/work/sp\x1b]0;x\x07ec.yaml"),
        "{err}"
    );
    for args in [
        &["providers", "--templates", "providers"][..],
        &["providers", "ev\x1b[2Kil", "--templates", "providers"],
    ] {
        let (code, out, err) = sb.run(args, &[]);
        assert_eq!(code, 0, "{err}");
        assert_escaped("a provider page", &out);
        assert!(out.contains(r"ev\x1b[2Kil"), "{out}");
        assert!(out.contains(r"says hi\u{202e}ih"), "{out}");
    }
    // A diagnostic that quotes a name, and the spec's lines it shows.
    std::fs::write(
        spec_path(&sb),
        "version: 1\nsteps:\n  - provider: \"no\\e[2Kpe\\u202E\"\n",
    )
    .unwrap();
    let (code, _, err) = sb.run(&["validate", spec], &[]);
    assert_eq!(code, 2, "{err}");
    assert_escaped("a diagnostic", &err);
    assert!(
        err.contains(r"unknown provider `no\x1b[2Kpe\u{202e}`"),
        "{err}"
    );
    assert!(err.contains(r"sp\x1b]0;x\x07ec.yaml:3:"), "{err}");
    // exec-credential repeats the API version it was asked for.
    let info = r#"{"apiVersion":"v9\u001b[2K\r\u202eevil"}"#;
    let (code, out, err) = sb.run(
        &["exec-credential", "--from-env", "TOK"],
        &[("TOK", "t"), ("KUBERNETES_EXEC_INFO", info)],
    );
    assert_eq!(code, 1, "{err}");
    assert!(out.is_empty(), "{out}");
    assert_escaped("exec-credential's error", &err);
    assert!(
        err.contains(r"apiVersion `v9\x1b[2K\r\u{202e}evil`"),
        "{err}"
    );
}

fn spec_path(sb: &Sandbox) -> std::path::PathBuf {
    sb.path("work/sp\x1b]0;x\x07ec.yaml")
}

/// A step name is an identifier in every line of output: one holding a
/// line or paragraph separator, NEL, a bidi control or a zero-width
/// character is refused where it is written.
#[test]
fn step_names_hold_visible_characters_only() {
    let sb = Sandbox::new();
    for name in [
        r"a\u2028b",
        r"a\u2029b",
        r"a\x85b",
        r"a\u202Eb",
        r"a\u2066b",
        r"a\u200Bb",
    ] {
        let spec = sb.write_spec(&format!(
            "version: 1\nsteps:\n  - provider: verify\n    name: \"{name}\"\n"
        ));
        let (code, _, err) = sb.run(&["validate", spec.to_str().unwrap()], &[]);
        assert_eq!(code, 2, "{name}: {err}");
        assert!(err.contains("stackhook::spec::step_name"), "{name}: {err}");
        assert!(err.contains("spec.yaml:4:"), "{name}: {err}");
        assert_escaped("the diagnostic", &err);
    }
}

/// The kubeconfig's path, from the environment, is escaped in the note of
/// a run waiting for its lock and in the error when the wait is over.
#[test]
fn a_kubeconfig_path_is_escaped_while_waiting_for_its_lock() {
    let sb = Sandbox::new();
    let kube = sb.path("kube/con\x1b[2Kfig\u{202E}");
    let held =
        std::fs::File::create(sb.path("kube/.con\x1b[2Kfig\u{202E}.stackhook-lock")).unwrap();
    held.lock().unwrap();
    let spec =
        sb.write_spec("version: 1\nsteps:\n  - provider: run\n    with: {commands: ['true']}\n");
    let (code, _, err) = sb.run(
        &["run", "--lock-timeout", "100ms", spec.to_str().unwrap()],
        &[("KUBECONFIG", kube.to_str().unwrap())],
    );
    assert_eq!(code, 2, "{err}");
    assert_escaped("the lock's notes", &err);
    let err = unwrapped(&err);
    assert!(err.contains(r"that is using "), "{err}");
    // The note, the error and its help (the lock file).
    assert_eq!(err.matches(r"con\x1b[2Kfig\u{202e}").count(), 3, "{err}");
}

/// A kubeconfig path that is not UTF-8 is never swapped for another file:
/// not for a name with U+FFFD in place of the bad bytes (`--kubeconfig`),
/// nor for ~/.kube/config (`KUBECONFIG`). `plan` and `run`, which pass the
/// path to commands as text and show it, refuse it (exit 2) before
/// anything runs; the `kubeconfig` subcommands use its bytes.
#[test]
fn a_non_utf8_kubeconfig_path_is_used_as_is_or_refused() {
    use std::ffi::{OsStr, OsString};
    use std::os::unix::ffi::OsStringExt;
    let sb = Sandbox::new();
    let mut raw = sb.path("kube").into_os_string().into_vec();
    raw.extend_from_slice(b"/caf\xe9");
    let raw = OsString::from_vec(raw);
    let lossy = sb.path("kube/caf\u{fffd}");
    let home_config = sb.path("work/.kube/config");
    let spec = sb.write_spec(
        "version: 1\nsteps:\n  - provider: run\n    with: {commands: ['echo \"apiVersion: v1\" > \"$KUBECONFIG\"']}\n",
    );
    let spec = spec.to_str().unwrap();
    let refusals = [
        (
            vec![
                OsStr::new("plan"),
                OsStr::new("--kubeconfig"),
                &raw,
                OsStr::new(spec),
            ],
            None,
        ),
        (
            vec![
                OsStr::new("run"),
                OsStr::new("--kubeconfig"),
                &raw,
                OsStr::new(spec),
            ],
            None,
        ),
        (vec![OsStr::new("plan"), OsStr::new(spec)], Some(&raw)),
        (vec![OsStr::new("run"), OsStr::new(spec)], Some(&raw)),
    ];
    for (args, env) in refusals {
        let mut cmd = sb.command();
        cmd.args(&args);
        if let Some(k) = env {
            cmd.env("KUBECONFIG", k);
        }
        let out = cmd.output().unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(unwrapped(&err).contains("is not UTF-8"), "{err}");
        assert!(err.contains(r"caf\xe9"), "the bytes, escaped: {err}");
        for p in [&lossy, &home_config] {
            assert!(!p.exists(), "{args:?} wrote {}", p.display());
        }
        assert!(!std::path::Path::new(&raw).exists(), "{args:?} ran");
    }
    // The subcommands work on the file the bytes name, and on no other.
    std::fs::write(&raw, TWO_CONTEXTS).unwrap();
    std::fs::write(&lossy, "not: [a kubeconfig").unwrap();
    std::fs::create_dir_all(home_config.parent().unwrap()).unwrap();
    std::fs::write(&home_config, "not: [a kubeconfig").unwrap();
    let mut flag = sb.command();
    flag.args([
        OsStr::new("kubeconfig"),
        OsStr::new("check"),
        OsStr::new("--kubeconfig"),
        &raw,
    ]);
    let mut env = sb.command();
    env.args(["kubeconfig", "set-user", "--token-from-env=MY_TOKEN"])
        .env("KUBECONFIG", &raw)
        .env("MY_TOKEN", "tok-1");
    for mut cmd in [flag, env] {
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{cmd:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(r"caf\xe9"), "{}", stderr(&out));
    }
    let edited = std::fs::read_to_string(&raw).unwrap();
    assert!(edited.contains("tok-1"), "{edited}");
    assert_eq!(std::fs::read(&lossy).unwrap(), b"not: [a kubeconfig");
    assert_eq!(std::fs::read(&home_config).unwrap(), b"not: [a kubeconfig");
}
