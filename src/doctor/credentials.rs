//! Which credentials each step's CLI will pick from what is visible: the
//! AWS CLI's chain (a `--profile`, then static keys, then a web identity,
//! then a profile), gcloud's (CLOUDSDK_AUTH_ACCESS_TOKEN, then
//! CLOUDSDK_AUTH_ACCESS_TOKEN_FILE, then the credential file override), and
//! the ARM_* variables the Azure login needs. Told from the rendered step
//! (its commands and environment), as it will run.

use crate::base::value::Part;
use crate::doctor::finding::{Finding, set_or_not};
use crate::doctor::visible_env::VisibleEnv;
use crate::plan::assemble::PlanStep;

const CHECK: &str = "credentials";

/// Whether a word of the step's commands is `word` or `word=...`.
pub fn has_word(step: &PlanStep, word: &str) -> bool {
    step.commands.iter().any(|c| {
        let words =
            shlex::split(c).unwrap_or_else(|| c.split_whitespace().map(str::to_string).collect());
        words
            .iter()
            .any(|w| w == word || w.strip_prefix(word).is_some_and(|r| r.starts_with('=')))
    })
}

/// The credential findings of a step, by the CLIs it runs.
pub fn check(step: &PlanStep, env: &VisibleEnv) -> Vec<Finding> {
    let mut out = Vec::new();
    let needs = |cli: &str| step.requires.iter().any(|r| r == cli);
    if needs("aws") {
        out.extend(aws(step, env));
    }
    if needs("gcloud") {
        out.extend(gcp(step, env));
    }
    if needs("az") {
        out.extend(azure(step, env));
    }
    out
}

fn aws(step: &PlanStep, env: &VisibleEnv) -> Vec<Finding> {
    let mut out = vec![Finding::note(
        CHECK,
        format!(
            "AWS: {}",
            env.show_all(&[
                "AWS_ACCESS_KEY_ID",
                "AWS_SECRET_ACCESS_KEY",
                "AWS_SESSION_TOKEN",
                "AWS_PROFILE",
                "AWS_ROLE_ARN",
                "AWS_WEB_IDENTITY_TOKEN_FILE",
            ])
        ),
    )];
    let id = env.is_set("AWS_ACCESS_KEY_ID");
    let key = env.is_set("AWS_SECRET_ACCESS_KEY");
    let oidc = step.env.contains_key("AWS_WEB_IDENTITY_TOKEN_FILE");
    let profile_flag = has_word(step, "--profile");
    if id != key {
        out.push(Finding::problem(
            CHECK,
            format!(
                "AWS: AWS_ACCESS_KEY_ID is {} but AWS_SECRET_ACCESS_KEY is {}: the AWS CLI needs both or neither",
                set_or_not(id),
                set_or_not(key)
            ),
        ));
    }
    let statics = id && key;
    let web_identity =
        oidc || env.is_set("AWS_ROLE_ARN") && env.is_set("AWS_WEB_IDENTITY_TOKEN_FILE");
    let picks = if profile_flag {
        "the profile given with --profile (the AWS CLI then ignores AWS_* keys)".to_string()
    } else if statics {
        "the static keys AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY".to_string()
    } else if web_identity {
        format!(
            "a web identity: AWS_ROLE_ARN with the token in AWS_WEB_IDENTITY_TOKEN_FILE{}",
            if oidc { " (auth: oidc sets both)" } else { "" }
        )
    } else if env.is_set("AWS_PROFILE") {
        format!("the profile {}", env.show("AWS_PROFILE"))
    } else {
        "its default profile (~/.aws), else the container's or instance's role: nothing in the environment".into()
    };
    let wrong = oidc && statics && !profile_flag;
    let picks = format!("AWS: the AWS CLI will use {picks}");
    out.push(match wrong {
        true => Finding::note(CHECK, picks),
        false => Finding::ok(CHECK, picks),
    });
    if wrong {
        out.push(Finding::problem(
            CHECK,
            "AWS: auth: oidc, but AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are set: the AWS CLI prefers them to the web identity, in this step and in `aws eks get-token` at kubectl time; unset them (or use auth: cli)",
        ));
    }
    out
}

fn gcp(step: &PlanStep, env: &VisibleEnv) -> Vec<Finding> {
    let mut out = vec![Finding::note(
        CHECK,
        format!(
            "GCP: {}",
            env.show_all(&[
                "GOOGLE_OAUTH_ACCESS_TOKEN",
                "GOOGLE_APPLICATION_CREDENTIALS",
                "CLOUDSDK_AUTH_ACCESS_TOKEN",
                "CLOUDSDK_AUTH_ACCESS_TOKEN_FILE",
            ])
        ),
    )];
    if let Some(entry) = step.env.get("CLOUDSDK_AUTH_ACCESS_TOKEN") {
        // The variable the token comes from (the `token` parameter).
        let from: Vec<&str> = entry
            .value
            .0
            .iter()
            .filter_map(|p| match p {
                Part::Ref { name, .. } => Some(name.as_str()),
                Part::Text(_) => None,
            })
            .collect();
        let unset: Vec<&&str> = from.iter().filter(|n| !env.is_set(n)).collect();
        if from.is_empty() || !unset.is_empty() {
            out.push(Finding::problem(
                CHECK,
                format!(
                    "GCP: auth: token reads the access token from {}, which is not set",
                    from.join(", ")
                ),
            ));
        } else {
            out.push(Finding::ok(
                CHECK,
                format!(
                    "GCP: gcloud will use the access token in {} (as CLOUDSDK_AUTH_ACCESS_TOKEN, which comes first)",
                    from.join(", ")
                ),
            ));
        }
    } else if step
        .env
        .contains_key("CLOUDSDK_AUTH_CREDENTIAL_FILE_OVERRIDE")
    {
        let before: Vec<&str> = [
            "CLOUDSDK_AUTH_ACCESS_TOKEN",
            "CLOUDSDK_AUTH_ACCESS_TOKEN_FILE",
        ]
        .into_iter()
        .filter(|n| env.is_set(n))
        .collect();
        if before.is_empty() {
            out.push(Finding::ok(
                CHECK,
                "GCP: gcloud will use the external-account credentials file (auth: oidc)",
            ));
        } else {
            out.push(Finding::problem(
                CHECK,
                format!(
                    "GCP: auth: oidc, but {} is set: gcloud prefers it to the credentials file; unset it",
                    before.join(" and ")
                ),
            ));
        }
    }
    out
}

/// The `az login` a step runs, from its rendered flags.
fn azure_login(step: &PlanStep) -> &'static str {
    if has_word(step, "--password") {
        "spn"
    } else if has_word(step, "--certificate") {
        "cert"
    } else if has_word(step, "--federated-token") {
        "oidc"
    } else if has_word(step, "--identity") {
        "msi"
    } else {
        "azurecli"
    }
}

fn azure(step: &PlanStep, env: &VisibleEnv) -> Vec<Finding> {
    const ARM: &[&str] = &[
        "ARM_CLIENT_ID",
        "ARM_TENANT_ID",
        "ARM_SUBSCRIPTION_ID",
        "ARM_CLIENT_SECRET",
        "ARM_CLIENT_CERTIFICATE_PATH",
        "ARM_CLIENT_CERTIFICATE_PASSWORD",
        "ARM_OIDC_TOKEN_FILE_PATH",
        "ARM_OIDC_TOKEN",
    ];
    let set: Vec<&str> = ARM.iter().copied().filter(|n| env.is_set(n)).collect();
    let mut out = vec![Finding::note(
        CHECK,
        format!(
            "Azure: set: {}",
            if set.is_empty() {
                "no ARM_* variable".into()
            } else {
                set.join(", ")
            }
        ),
    )];
    let login = azure_login(step);
    // What kubelogin reads at kubectl time, in every later phase.
    let later: &[&str] = match login {
        "spn" => &["ARM_CLIENT_SECRET"],
        "cert" => &["ARM_CLIENT_CERTIFICATE_PATH"],
        _ => &[],
    };
    let missing: Vec<&str> = later.iter().copied().filter(|n| !env.is_set(n)).collect();
    if missing.is_empty() {
        out.push(Finding::ok(
            CHECK,
            format!(
                "Azure: login: {login}{}",
                match later {
                    [] => String::new(),
                    names => format!(", and kubelogin finds {} at kubectl time", names.join(", ")),
                }
            ),
        ));
    } else {
        out.push(Finding::problem(
            CHECK,
            format!(
                "Azure: login: {login}: kubelogin reads {} at kubectl time, which is not set here",
                missing.join(", ")
            ),
        ));
    }
    if login == "azurecli" {
        out.push(Finding::note(
            CHECK,
            "Azure: login: azurecli uses az's own login (AZURE_CONFIG_DIR, ~/.azure), which doctor does not check",
        ));
    }
    out
}
