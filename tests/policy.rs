//! Policies over the plan: `plan --format json` carries each step's bound
//! `parameters` and a format `version`, its JSON Schema (`schema --plan`)
//! is published and holds every plan of the shipped specs, and the Rego
//! policy in examples/policy/ allows and denies real plans when a real
//! Rego engine (regorus, OPA's language in Rust) evaluates it.

#[macro_use]
mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::harness::{self, Need, case};
use common::*;
use serde_json::{Value as Json, json};

fn main() {
    harness::main(vec![
        case!(the_checked_in_plan_schema_is_what_the_binary_prints),
        case!(
            every_shipped_specs_plan_validates_against_the_plan_schema,
            Need::Tool("check-jsonschema")
        ),
        case!(the_plan_schema_names_every_field_a_plan_has),
        case!(parameters_show_bound_values_and_secrets_as_references),
        case!(the_example_policy_allows_a_plan_its_labels_allow),
        case!(the_example_policy_denies_clusters_roles_and_regions_it_does_not_allow),
        case!(the_example_policy_denies_what_it_cannot_see),
    ]);
}

fn plan_json(spec: &Path, env: &[(&str, &str)]) -> Json {
    let out = stackhook()
        .args(["plan", "--format", "json"])
        .arg(spec)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_str(&stdout(&out)).unwrap()
}

fn the_checked_in_plan_schema_is_what_the_binary_prints() {
    let out = stackhook().args(["schema", "--plan"]).output().unwrap();
    assert!(out.status.success());
    let checked_in = std::fs::read_to_string(root().join("schema/plan.schema.json")).unwrap();
    assert!(
        stdout(&out) == checked_in,
        "schema/plan.schema.json is stale: run `cargo run -- schema --plan > schema/plan.schema.json`"
    );
    let v: Json = serde_json::from_str(&checked_in).unwrap();
    assert_eq!(v["$schema"], "https://json-schema.org/draft/2020-12/schema");
    assert_eq!(v["title"], "stackhook plan");
}

fn every_shipped_specs_plan_validates_against_the_plan_schema() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for spec in shipped_specs() {
        // Both with the environment (values) and without (references).
        for (tag, env) in [("full", FULL_ENV), ("empty", &[][..])] {
            let plan = plan_json(&spec, env);
            let name = format!("{}.{tag}.json", spec.file_stem().unwrap().to_string_lossy());
            let path = dir.path().join(name);
            std::fs::write(&path, plan.to_string()).unwrap();
            files.push(path);
        }
    }
    let out = std::process::Command::new(tools_venv().join("bin/check-jsonschema"))
        .arg("--schemafile")
        .arg(root().join("schema/plan.schema.json"))
        .args(&files)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
}

/// The properties a schema object names, following `$ref`s into `$defs`.
fn properties<'a>(schema: &'a Json, node: &'a Json) -> BTreeSet<&'a str> {
    let node = match node["$ref"].as_str() {
        Some(r) => &schema["$defs"][r.trim_start_matches("#/$defs/")],
        None => node,
    };
    node["properties"]
        .as_object()
        .map(|m| m.keys().map(String::as_str).collect())
        .unwrap_or_default()
}

/// A policy author reads the schema to learn the fields: every field of a
/// real plan, at the top and in its steps, tools and temp files, must be
/// described there (schemars would quietly leave out a field a custom
/// serialiser added).
fn the_plan_schema_names_every_field_a_plan_has() {
    let schema: Json = serde_json::from_str(
        &std::fs::read_to_string(root().join("schema/plan.schema.json")).unwrap(),
    )
    .unwrap();
    let mut wrong = Vec::new();
    let mut check = |what: &str, value: &Json, node: &Json| {
        let known = properties(&schema, node);
        for key in value.as_object().unwrap().keys() {
            if !known.contains(key.as_str()) {
                wrong.push(format!("{what}.{key}"));
            }
        }
    };
    for spec in shipped_specs() {
        let plan = plan_json(&spec, FULL_ENV);
        check("plan", &plan, &schema);
        let step = &schema["properties"]["steps"]["items"];
        for s in plan["steps"].as_array().unwrap() {
            check("step", s, step);
            for t in s["tempfiles"].as_array().unwrap() {
                check(
                    "tempfile",
                    t,
                    &step_def(&schema)["properties"]["tempfiles"]["items"],
                );
            }
        }
        for t in plan["tools"].as_array().unwrap() {
            check("tool", t, &schema["properties"]["tools"]["items"]);
        }
    }
    wrong.sort();
    wrong.dedup();
    assert!(
        wrong.is_empty(),
        "not in schema/plan.schema.json: {wrong:?}"
    );
}

fn step_def(schema: &Json) -> &Json {
    &schema["$defs"]["PlanStep"]
}

fn parameters_show_bound_values_and_secrets_as_references() {
    let s = Sandbox::new();
    let spec = s.write_spec(
        "version: 1\nsteps:\n  - provider: azure-aks\n    with:\n      cluster: ${AKS}\n      resource_group: rg-$$1\n      login: spn\n",
    );
    let plan = plan_json(
        &spec,
        &[
            ("AKS", "aks-prod"),
            ("ARM_CLIENT_ID", "id"),
            ("ARM_CLIENT_SECRET", "CANARY-secret"),
            ("ARM_TENANT_ID", "t"),
        ],
    );
    let params = &plan["steps"][0]["parameters"];
    assert_eq!(params["cluster"], "aks-prod", "{params}");
    assert_eq!(params["resource_group"], "rg-$$1", "{params}");
    assert_eq!(params["login"], "spn", "{params}");
    assert_eq!(plan["version"], 1);
    assert!(!plan.to_string().contains("CANARY"), "{plan}");
}

/// The policy's result (`data.stackhook.deny`) for a plan and labels.
fn deny(plan: &Json, labels: &[&str]) -> Vec<String> {
    let mut engine = regorus::Engine::new();
    engine
        .add_policy_from_file(root().join("examples/policy/stackhook.rego"))
        .unwrap();
    let input = json!({"plan": plan, "stack": {"id": "k8s-prod", "labels": labels}});
    engine.set_input(regorus::Value::from_json_str(&input.to_string()).unwrap());
    let result = engine.eval_rule("data.stackhook.deny".into()).unwrap();
    let mut out: Vec<String> = result
        .as_set()
        .unwrap()
        .iter()
        .map(|v| v.as_string().unwrap().to_string())
        .collect();
    out.sort();
    out
}

const EKS: &str = "version: 1\nsteps:\n  - provider: aws-eks\n    with:\n      cluster: ${EKS_CLUSTER_NAME}\n      region: ${AWS_REGION}\n      auth: oidc\n      role_arn: ${EKS_ROLE_ARN}\n      token_file: /mnt/workspace/spacelift.oidc\n  - provider: verify\n";
const GKE: &str = "version: 1\nsteps:\n  - provider: gke\n    with:\n      cluster: ${GKE_CLUSTER_NAME}\n      zone: ${GKE_CLUSTER_ZONE}\n      project: acme\n";

const PROD_EKS: &[(&str, &str)] = &[
    ("EKS_CLUSTER_NAME", "prod-eks"),
    ("AWS_REGION", "eu-west-1"),
    (
        "EKS_ROLE_ARN",
        "arn:aws:iam::111122223333:role/prod-deployer",
    ),
];

fn the_example_policy_allows_a_plan_its_labels_allow() {
    let s = Sandbox::new();
    let plan = plan_json(&s.write_spec(EKS), PROD_EKS);
    assert_eq!(deny(&plan, &["env:prod"]), Vec::<String>::new());
    assert_eq!(deny(&plan, &["team:x", "env:prod"]), Vec::<String>::new());
    let plan = plan_json(
        &s.write_spec(GKE),
        &[
            ("GKE_CLUSTER_NAME", "prod-gke"),
            ("GKE_CLUSTER_ZONE", "europe-west1-b"),
        ],
    );
    assert_eq!(deny(&plan, &["env:prod"]), Vec::<String>::new());
    // GKE's `location` is a region or a zone; a zone is where its region is.
    for location in ["europe-west1", "europe-west1-b"] {
        let spec = GKE.replace(
            "zone: ${GKE_CLUSTER_ZONE}",
            &format!("location: {location}"),
        );
        let plan = plan_json(&s.write_spec(&spec), &[("GKE_CLUSTER_NAME", "prod-gke")]);
        assert_eq!(
            deny(&plan, &["env:prod"]),
            Vec::<String>::new(),
            "{location}"
        );
    }
}

fn the_example_policy_denies_clusters_roles_and_regions_it_does_not_allow() {
    let s = Sandbox::new();
    let plan = plan_json(&s.write_spec(EKS), PROD_EKS);
    assert_eq!(
        deny(&plan, &["env:dev"]),
        [
            r#"step "aws-eks": clusters "prod-eks" is not allowed for a stack labelled ["env:dev"]"#,
            r#"step "aws-eks": roles "arn:aws:iam::111122223333:role/prod-deployer" is not allowed for a stack labelled ["env:dev"]"#,
        ]
    );
    assert_eq!(deny(&plan, &[]).len(), 3, "{:?}", deny(&plan, &[]));
    let plan = plan_json(
        &s.write_spec(GKE),
        &[
            ("GKE_CLUSTER_NAME", "prod-gke"),
            ("GKE_CLUSTER_ZONE", "us-central1-a"),
        ],
    );
    assert_eq!(
        deny(&plan, &["env:prod"]),
        [r#"step "gke": regions "us-central1" is not allowed for a stack labelled ["env:prod"]"#]
    );
}

/// A plan made without the stack's environment shows references, not
/// values: the policy cannot tell what would run, so it denies.
fn the_example_policy_denies_what_it_cannot_see() {
    let s = Sandbox::new();
    let plan = plan_json(&s.write_spec(EKS), &[]);
    let denied = deny(&plan, &["env:prod"]);
    assert!(
        denied.contains(&r#"step "aws-eks": clusters value "${EKS_CLUSTER_NAME}" is not resolved; make the plan with the stack's environment"#.to_string()),
        "{denied:?}"
    );
    let mut future = plan.clone();
    future["version"] = json!(2);
    assert!(
        deny(&future, &["env:prod"])
            .contains(&"plan format version 2: this policy reads version 1".to_string())
    );
}
