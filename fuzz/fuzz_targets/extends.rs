//! `extends`: a spec and the base it names, merged, with any text in
//! either: never a panic or a hang; every diagnostic, wherever in the two
//! files it points, renders (its file found by offset, its text escaped);
//! a merged spec that plans shows no secret value.
#![no_main]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use stackhook::plan::assemble::{self, Mode};
use stackhook::show::preview;
use stackhook::spec::extends;

/// A repository of the fuzzer's own (a `.git` marks its root), made once
/// and entered, so that the base is inside it.
fn repo() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("stackhook-fuzz-extends-{}", std::process::id()));
        std::fs::create_dir_all(dir.join(".git")).unwrap();
        std::fs::create_dir_all(dir.join("base")).unwrap();
        std::env::set_current_dir(&dir).unwrap();
        dir
    })
}

const SECRET: &str = "CANARY-fuzz-secret-0123";

fuzz_target!(|data: &str| {
    // The spec, then the base after a \x01.
    let (spec, base) = data.split_once('\u{1}').unwrap_or((data, ""));
    let dir = repo();
    std::fs::write(dir.join("base/base.yaml"), base).unwrap();
    std::fs::write(dir.join("spec.yaml"), spec).unwrap();
    match extends::load(Path::new("spec.yaml")) {
        Err(diags) => {
            for d in diags {
                let _ = format!("{:?}", miette::Report::new(d));
            }
        }
        Ok(spec) => {
            let env = [("MY_TOKEN".to_string(), SECRET.to_string())].into_iter().collect();
            let opts = assemble::Options { kubeconfig: Some(Path::new("/k")), provider_dir: None, mode: Mode::Live };
            match assemble::build(&spec, &env, &opts) {
                Ok(plan) => {
                    let shown = preview::json(&plan) + &preview::markdown(&plan);
                    if !data.contains(SECRET) {
                        assert!(!shown.contains(SECRET), "a secret shown");
                    }
                }
                Err(diags) => {
                    for d in diags {
                        let _ = format!("{:?}", miette::Report::new(d));
                    }
                }
            }
        }
    }
});
