//! A whole spec through parsing, resolution, binding and rendering, with
//! any environment values: never a panic or a hang; a plan that renders
//! shows no secret value in any preview.
#![no_main]

use std::collections::BTreeMap;
use std::path::Path;

use libfuzzer_sys::fuzz_target;
use stackhook::plan::assemble::{self, Mode};
use stackhook::show::preview;
use stackhook::spec::document;

const NAMES: [&str; 6] = ["MY_TOKEN", "REGION", "ARM_CLIENT_SECRET", "KC", "HOME", "GOOGLE_OAUTH_ACCESS_TOKEN"];

fuzz_target!(|data: &str| {
    // The spec, then one environment value per line after a \x01.
    let (text, values) = data.split_once('\u{1}').unwrap_or((data, ""));
    let env: BTreeMap<String, String> = NAMES
        .iter()
        .zip(values.split('\n'))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let Ok(spec) = document::parse(Path::new("fuzz.yaml"), text) else {
        return;
    };
    for mode in [Mode::Live, Mode::Static] {
        let opts = assemble::Options { kubeconfig: Some(Path::new("/k")), provider_dir: None, mode };
        let Ok(plan) = assemble::build(&spec, &env, &opts) else {
            continue;
        };
        let shown = preview::json(&plan)
            + &preview::markdown(&plan)
            + &preview::text(&plan, stackhook::base::paint::Paint(false));
        for (name, value) in &env {
            // A value that the spec or a variable that is not secret also
            // holds may show through them.
            let elsewhere = text.contains(value.as_str())
                || env
                    .iter()
                    .any(|(n, v)| n != name && !plan.secrets.contains(n) && v.contains(value.as_str()));
            let distinctive = value.len() >= 8 && !elsewhere;
            if plan.secrets.contains(name) && distinctive {
                assert!(!shown.contains(value.as_str()), "{name} shown");
            }
        }
    }
});
