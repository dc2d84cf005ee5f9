//! Properties over generated input (proptest): quoting round-trips through
//! a real `sh`, interpolation keeps text as written, and planning any spec
//! with any environment never panics and never prints a secret.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use proptest::prelude::*;
use stackhook::base::shell;
use stackhook::base::value::{Part, RefKind, Value};
use stackhook::plan::assemble::{self, Mode};
use stackhook::spec::{document, interpolate};

/// What `sh` prints for `printf '%s' WORD`, with `env` set.
fn sh_prints(word: &str, env: &[(&str, &str)]) -> String {
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!("printf '%s' {word}"))
        .env_clear()
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert!(out.status.success(), "sh refused {word:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// Any text but NUL (which no argument can hold), weighted towards what
/// shells care about.
fn shell_text() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            3 => proptest::char::range(' ', '~'),
            1 => prop::sample::select(vec!['\'', '"', '\\', '$', '`', '\n', '\t', '-', '*', '~', '!', 'é', '\u{E000}']),
        ],
        0..24,
    )
    .prop_map(|chars| chars.into_iter().collect())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn quoted_text_is_one_inert_argument(text in shell_text()) {
        prop_assert_eq!(sh_prints(&shell::quote(&text), &[]), text);
    }

    #[test]
    fn a_value_with_references_expands_to_its_parts(
        before in shell_text(),
        secret in shell_text(),
        after in shell_text(),
    ) {
        let mut v = Value::text(before.clone());
        v.push(Part::Ref { name: "SECRET_X".into(), why: RefKind::Secret });
        v.push(Part::Text(after.clone()));
        let word = shell::word(&v);
        prop_assert_eq!(sh_prints(&word, &[("SECRET_X", &secret)]), format!("{before}{secret}{after}"));
    }

    /// A value written back in interpolation syntax (`$` as `$$`) reads
    /// as itself.
    #[test]
    fn interpolation_keeps_text_as_written(text in shell_text()) {
        let shown = Value::text(text.clone()).to_string();
        let pieces = interpolate::parse(&shown).unwrap();
        struct Nothing;
        impl interpolate::Lookup for Nothing {
            fn get(&self, _: &str) -> Option<(Value, bool)> { None }
        }
        let mut missing = Vec::new();
        let back = interpolate::substitute(&pieces, &Nothing, &mut missing);
        prop_assert!(missing.is_empty());
        prop_assert_eq!(back.as_text().unwrap_or_default(), text);
    }

    #[test]
    fn parsing_any_interpolation_never_panics(text in "\\PC{0,40}") {
        let _ = interpolate::parse(&text);
    }
}

/// A spec of any built-in provider with any values, planned with any
/// environment: no panic, and no secret value in the preview.
fn spec_text() -> impl Strategy<Value = (String, BTreeMap<String, String>)> {
    let provider = prop::sample::select(vec![
        "aws-eks",
        "azure-aks",
        "gke",
        "kubeconfig",
        "run",
        "verify",
    ]);
    let key = prop::sample::select(vec![
        "cluster",
        "region",
        "zone",
        "project",
        "login",
        "token",
        "client_secret",
        "from",
        "var",
        "url",
        "sha256",
        "commands",
        "can_i",
        "server",
        "resource_group",
        "alias",
        "admin",
    ]);
    let value = prop_oneof![
        shell_text().prop_map(|t| format!("{t:?}")),
        Just("${SOME_TOKEN}".to_string()),
        Just("${MISSING:-d}".to_string()),
        Just(
            "[\"echo {{ env.SOME_TOKEN }}\", \"{{ tempfile('t', env.SOME_TOKEN) }}\"]".to_string()
        ),
        Just("true".to_string()),
        Just("spn".to_string()),
    ];
    let step = (provider, proptest::collection::vec((key, value), 0..5)).prop_map(|(p, with)| {
        let with: Vec<String> = with.into_iter().map(|(k, v)| format!("{k}: {v}")).collect();
        format!("  - provider: {p}\n    with: {{{}}}\n", with.join(", "))
    });
    let env = proptest::collection::btree_map(
        prop::sample::select(vec![
            "SOME_TOKEN",
            "REGION",
            "ARM_CLIENT_SECRET",
            "KUBECONFIG",
            "HOME",
        ])
        .prop_map(String::from),
        // Long enough not to turn up in other text by chance.
        "[ -~]{8,16}",
        0..5,
    );
    (proptest::collection::vec(step, 1..4), env).prop_map(|(steps, env)| {
        (
            format!(
                "version: 1\nenv:\n  DERIVED: \"x${{SOME_TOKEN}}\"\nsteps:\n{}",
                steps.concat()
            ),
            env,
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn planning_never_panics_nor_shows_a_secret((text, env) in spec_text()) {
        let Ok(spec) = document::parse(Path::new("p.yaml"), &text) else { return Ok(()); };
        for mode in [Mode::Live, Mode::Static] {
            let opts = assemble::Options { kubeconfig: None, provider_dir: None, mode };
            if let Ok(plan) = assemble::build(&spec, &env, &opts) {
                let shown = stackhook::show::preview::json(&plan) + &stackhook::show::preview::markdown(&plan);
                for (name, value) in &env {
                    if plan.secrets.contains(name) && !text.contains(value.as_str()) {
                        prop_assert!(!shown.contains(value.as_str()), "{name}={value:?} in {shown}");
                    }
                }
            }
        }
    }
}
