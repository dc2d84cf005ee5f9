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
