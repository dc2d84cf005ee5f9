//! Which variable names are secret: by their name alone, or because the
//! plan decided so (see `secret_set`).

use std::collections::BTreeSet;

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
    // Case-insensitive, without allocating: it runs for every variable of
    // the environment.
    let name = name.as_bytes();
    SECRET_MARKERS.iter().any(|m| {
        name.windows(m.len())
            .any(|w| w.eq_ignore_ascii_case(m.as_bytes()))
    })
}

/// The names whose values are secret: every name that is secret by
/// itself, and those added to the set.
#[derive(Clone, Debug, Default)]
pub struct SecretNames {
    listed: BTreeSet<String>,
}

impl SecretNames {
    pub fn contains(&self, name: &str) -> bool {
        is_secret_name(name) || self.listed.contains(name)
    }

    /// Adds a name; whether it was not secret before.
    pub fn insert(&mut self, name: &str) -> bool {
        !self.contains(name) && self.listed.insert(name.to_string())
    }
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
