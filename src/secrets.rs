//! Which variable names are secret by themselves.

/// Name fragments that make a variable secret, matched case-insensitively.
pub const SECRET_MARKERS: &[&str] = &[
    "SECRET",
    "TOKEN",
    "PASSWORD",
    "PASSWD",
    "CREDENTIAL",
    "PRIVATE_KEY",
    "API_KEY",
    "ACCESS_KEY",
];

/// Whether a variable's name alone makes it secret.
pub fn is_secret_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    SECRET_MARKERS.iter().any(|m| upper.contains(m))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_are_secret() {
        for name in [
            "ARM_CLIENT_SECRET",
            "GOOGLE_OAUTH_ACCESS_TOKEN",
            "vault_token",
            "DB_PASSWORD",
            "MYSQL_PASSWD",
            "GOOGLE_APPLICATION_CREDENTIALS",
            "SSH_PRIVATE_KEY",
            "DATADOG_API_KEY",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_ACCESS_KEY_ID",
            "AWS_SESSION_TOKEN",
        ] {
            assert!(is_secret_name(name), "{name}");
        }
    }

    #[test]
    fn names_that_are_not() {
        for name in [
            "ARM_CLIENT_ID",
            "GKE_CLUSTER_NAME",
            "KUBECONFIG",
            "AWS_REGION",
            "PRIVATEKEY_PATH",
            "TOKE",
        ] {
            assert!(!is_secret_name(name), "{name}");
        }
    }
}
