//! The corpus of invalid specs: each fails `plan --strict` with exit 2 and a
//! diagnostic that points into the spec (snapshotted), and never panics.

#[macro_use]
mod common;

use common::*;

#[test]
fn every_invalid_spec_fails_with_a_diagnostic() {
    let dir = root().join("tests/specs/invalid");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() >= 20, "the corpus has {} specs", files.len());
    let mut failed = Vec::new();
    for file in files {
        let rel = file.strip_prefix(root()).unwrap();
        let name = file.file_stem().unwrap().to_string_lossy().to_string();
        let out = stackhook()
            .args(["plan", "--strict"])
            .arg(rel)
            .env("ARM_CLIENT_SECRET", "CANARY-arm-secret")
            .output()
            .unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{name}: {err}");
        assert!(!err.contains("panicked"), "{name}: {err}");
        assert!(!err.contains("CANARY"), "{name} leaked a secret: {err}");
        assert!(
            !err.contains(['\x1b', '\r', '\u{202E}', '\u{2028}']),
            "{name} shows a raw control or bidi character: {err:?}"
        );
        assert!(
            err.contains("stackhook::"),
            "{name}: no diagnostic code: {err}"
        );
        check_snapshot!(failed, name, err);
    }
    all_snapshots_match(&failed);
}

#[test]
fn validate_reports_every_error_of_every_file() {
    let out = stackhook()
        .args([
            "validate",
            "tests/specs/invalid/unknown-param.yaml",
            "tests/specs/invalid/region-and-zone.yaml",
            "specs/gke-zone.yaml",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("has no parameter `clster`"), "{err}");
    assert!(err.contains("set only one"), "{err}");
    assert!(!err.contains("ok: "), "ok lines only with -v: {err}");
    assert!(
        err.trim_end()
            .ends_with("validated 3 specs: 1 ok, 2 with errors"),
        "{err}"
    );
}

/// For CI annotations: every problem with its file, line and column, on
/// stdout as JSON; exit 2 still.
#[test]
fn validate_json_lists_each_problem_where_it_is() {
    let out = stackhook()
        .args([
            "validate",
            "--format",
            "json",
            "tests/specs/invalid/unknown-param.yaml",
            "specs/gke-zone.yaml",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v,
        serde_json::json!([{
            "file": "tests/specs/invalid/unknown-param.yaml",
            "line": 5,
            "column": 7,
            "code": "stackhook::spec::unknown_param",
            "message": "`gke` has no parameter `clster`",
        }])
    );
    let out = stackhook()
        .args(["validate", "--format", "json", "specs/gke-zone.yaml"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(stdout(&out), "[]\n");
}

#[test]
fn validate_accepts_every_shipped_spec_without_any_environment() {
    let out = stackhook().args(["validate", "-v"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let n = shipped_specs().len();
    assert_eq!(stderr(&out).matches("ok: ").count(), n);
    let out = stackhook().arg("validate").output().unwrap();
    assert_eq!(stderr(&out), format!("validated {n} specs: all ok\n"));
}
