//! The plan JSON that policies read (`plan --format json`): for any spec
//! that plans, with any environment, the JSON is valid against the
//! published schema (`schema --plan`), says it is version 1, reads back
//! to what the plan serialises to, and shows no secret value in any step's parameters.
#![no_main]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use stackhook::plan::assemble::{self, Mode};
use stackhook::show::{preview, schema};
use stackhook::spec::document;

const NAMES: [&str; 5] = ["MY_TOKEN", "REGION", "ARM_CLIENT_SECRET", "KC", "AWS_WEB_IDENTITY_TOKEN_FILE"];

fn validator() -> &'static jsonschema::Validator {
    static V: OnceLock<jsonschema::Validator> = OnceLock::new();
    V.get_or_init(|| jsonschema::validator_for(&schema::plan()).expect("the plan schema compiles"))
}

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
        let json = preview::json(&plan);
        let value: serde_json::Value = serde_json::from_str(&json).expect("the plan JSON parses");
        assert_eq!(value["version"], 1);
        if let Err(e) = validator().validate(&value) {
            panic!("the plan does not match schema --plan: {e}\n{json}");
        }
        // What the text reads back to is what the plan serialises to.
        assert_eq!(value, serde_json::to_value(&plan).unwrap(), "not a round trip");
        let parameters: String = value["steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["parameters"].to_string())
            .collect();
        for (name, v) in &env {
            let elsewhere = text.contains(v.as_str())
                || env.iter().any(|(n, o)| n != name && !plan.secrets.contains(n) && o.contains(v.as_str()));
            if plan.secrets.contains(name) && v.len() >= 8 && !elsewhere {
                assert!(!parameters.contains(v.as_str()), "{name} shown in parameters");
            }
        }
    }
});
