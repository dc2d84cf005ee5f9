//! The client side of Kubernetes' exec credential protocol
//! (`client.authentication.k8s.io/v1`, `ExecCredential`): kubectl, Helm and
//! Terraform's providers run `stackhook exec-credential` when they need a
//! token, and it answers with the token the caller's environment holds at
//! that moment. So a kubeconfig stackhook writes holds no credential, and
//! keeps working in later phases and in a new container, where the
//! platform sets a fresh token.
//!
//! The token goes to stdout only, as the protocol wants; never to stderr,
//! never to disk. Errors name the variable, not its value.

use serde_json::{Value as Json, json};

use crate::base::jwt;
use crate::base::paint::visible_line;

/// The API versions stackhook answers in; the kubeconfigs it writes ask
/// for v1.
const VERSIONS: &[&str] = &[
    "client.authentication.k8s.io/v1",
    "client.authentication.k8s.io/v1beta1",
];

/// What went wrong, for stderr (which the caller shows its user).
#[derive(Debug, PartialEq, Eq)]
pub struct Refusal(pub String);

/// The API version to answer in: the one KUBERNETES_EXEC_INFO names
/// (client-go always sets it), else v1.
pub fn api_version(exec_info: Option<&str>) -> Result<&'static str, Refusal> {
    let Some(info) = exec_info.filter(|i| !i.trim().is_empty()) else {
        return Ok(VERSIONS[0]);
    };
    let v: Json = serde_json::from_str(info).map_err(|_| {
        Refusal("KUBERNETES_EXEC_INFO is not JSON: run this from a kubeconfig's exec plugin".into())
    })?;
    let asked = v["apiVersion"].as_str().unwrap_or_default();
    VERSIONS
        .iter()
        .find(|known| **known == asked)
        .copied()
        .ok_or_else(|| {
            Refusal(format!(
                "KUBERNETES_EXEC_INFO asks for apiVersion `{}`; stackhook answers {}",
                visible_line(asked),
                VERSIONS.join(" or ")
            ))
        })
}

/// The ExecCredential for the token in variable `var`. A token that is a
/// JWT carries its expiry, so that the caller asks again in time.
pub fn answer(var: &str, value: Option<&str>, exec_info: Option<&str>) -> Result<String, Refusal> {
    let version = api_version(exec_info)?;
    let token = value.map(str::trim).filter(|v| !v.is_empty()).ok_or_else(|| {
        Refusal(format!(
            "{var} is not set, empty or not UTF-8 text in this environment: the kubeconfig's user gets its token \
             from {var} at each call (set it in every phase that uses the cluster; Spacelift's \
             integrations set it afresh in each phase)"
        ))
    })?;
    let mut status = json!({ "token": token });
    if let Some(exp) = jwt::expiry(token) {
        status["expirationTimestamp"] = json!(exp.rfc3339());
    }
    let cred = json!({
        "apiVersion": version,
        "kind": "ExecCredential",
        "status": status,
    });
    Ok(cred.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_in_the_version_asked_for() {
        let info = r#"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1beta1","spec":{"interactive":false}}"#;
        let out = answer("T", Some("tok"), Some(info)).unwrap();
        let v: Json = serde_json::from_str(&out).unwrap();
        assert_eq!(v["apiVersion"], "client.authentication.k8s.io/v1beta1");
        assert_eq!(v["status"]["token"], "tok");
        assert!(v["status"].get("expirationTimestamp").is_none());
        let v1: Json = serde_json::from_str(&answer("T", Some("tok"), None).unwrap()).unwrap();
        assert_eq!(v1["apiVersion"], "client.authentication.k8s.io/v1");
    }

    #[test]
    fn an_unknown_version_is_repeated_escaped() {
        let info = "{\"apiVersion\":\"v9\\u001b[2K\\r\\u202e\"}";
        let Refusal(message) = api_version(Some(info)).unwrap_err();
        assert!(
            message.contains(r"apiVersion `v9\x1b[2K\r\u{202e}`"),
            "{message}"
        );
    }

    #[test]
    fn refuses_without_showing_the_value() {
        for value in [None, Some(""), Some("  \n")] {
            let e = answer("GOOGLE_OAUTH_ACCESS_TOKEN", value, None).unwrap_err();
            assert!(e.0.starts_with("GOOGLE_OAUTH_ACCESS_TOKEN is not set, empty or not UTF-8"));
        }
        let e = answer("T", Some("sekrit"), Some(r#"{"apiVersion":"x/v9"}"#)).unwrap_err();
        assert!(e.0.contains("`x/v9`") && !e.0.contains("sekrit"));
        assert!(answer("T", Some("sekrit"), Some("nope")).is_err());
    }

    #[test]
    fn a_jwt_carries_its_expiry() {
        let token = jwt::tests::make(r#"{"exp":1700000000}"#);
        let v: Json = serde_json::from_str(&answer("T", Some(&token), None).unwrap()).unwrap();
        assert_eq!(v["status"]["expirationTimestamp"], "2023-11-14T22:13:20Z");
    }

    /// An `exp` out of range is no expiry: the token is still handed over.
    #[test]
    fn an_exp_out_of_range_is_left_out() {
        for exp in ["1e300", "1e12", "-1", "1.8446744073709552e19"] {
            let token = jwt::tests::make(&format!(r#"{{"exp":{exp}}}"#));
            let v: Json = serde_json::from_str(&answer("T", Some(&token), None).unwrap()).unwrap();
            assert_eq!(v["status"]["token"], token.as_str());
            assert!(v["status"].get("expirationTimestamp").is_none(), "{exp}");
        }
    }
}
