//! Which variable names are secret: by their name alone, or because the
//! plan decided so (see `secret_set`). A name that says its value is a
//! path is not secret by its name, whatever else it says: the file may
//! hold a secret, its path does not.

use std::collections::BTreeSet;

/// Name fragments that make a variable secret, matched ASCII
/// case-insensitively.
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

/// The first letters of the markers, one bit per letter `A`..=`Z`.
const FIRST_LETTERS: u32 = {
    let mut bits = 0;
    let mut i = 0;
    while i < SECRET_MARKERS.len() {
        let first = SECRET_MARKERS[i].as_bytes()[0];
        assert!(
            first.is_ascii_uppercase(),
            "a marker starts with a letter A-Z"
        );
        bits |= 1 << (first - b'A');
        i += 1;
    }
    bits
};

/// Whether a variable's name alone makes it secret: it holds a marker and
/// does not name a path.
pub fn is_secret_name(name: &str) -> bool {
    has_secret_marker(name) && !is_path_name(name)
}

/// Name endings that say the value is a path, matched ASCII
/// case-insensitively: `AWS_WEB_IDENTITY_TOKEN_FILE`,
/// `ARM_OIDC_TOKEN_FILE_PATH`, `POSTGRES_PASSWORD_FILE` (the Docker
/// secrets convention).
pub const PATH_SUFFIXES: &[&str] = &["_FILE", "_FILENAME", "_PATH", "_DIR"];

/// Variables that hold a path without saying so in a suffix, matched
/// exactly: the credentials files gcloud and the Google client libraries
/// read, and kubectl's own.
pub const PATH_NAMES: &[&str] = &[
    "GOOGLE_APPLICATION_CREDENTIALS",
    "CLOUDSDK_AUTH_CREDENTIAL_FILE_OVERRIDE",
    "KUBECONFIG",
];

/// Whether a variable's name says its value is a path. Such a value is
/// shown in plans and output (it is written in clear into a kubeconfig's
/// exec env anyway, and a failure cannot be understood without it); what
/// the file holds is read only by code that never shows it (the token
/// expiry check, kubectl's exec plugins). A spec that lists the name under
/// `secrets:` still makes it secret.
pub fn is_path_name(name: &str) -> bool {
    let ends = |suffix: &str| {
        name.len() > suffix.len()
            && name.is_char_boundary(name.len() - suffix.len())
            && name[name.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
    };
    PATH_SUFFIXES.iter().any(|s| ends(s)) || PATH_NAMES.iter().any(|n| name.eq_ignore_ascii_case(n))
}

/// Whether a name holds one of [`SECRET_MARKERS`].
fn has_secret_marker(name: &str) -> bool {
    // Case-insensitive, without allocating, and markers are compared only
    // where one of their first letters is: it runs for every variable of
    // the environment, and trying every marker at every position cost
    // several times as much.
    let name = name.as_bytes();
    (0..name.len()).any(|i| {
        let first = name[i].to_ascii_uppercase();
        first.is_ascii_uppercase()
            && FIRST_LETTERS & (1 << (first - b'A')) != 0
            && SECRET_MARKERS.iter().any(|m| {
                name.get(i..i + m.len())
                    .is_some_and(|w| w.eq_ignore_ascii_case(m.as_bytes()))
            })
    })
}

/// The names whose values are secret: every name that is secret by
/// itself, and those added to the set (which may name a path: listed,
/// it is secret).
#[derive(Clone, Debug, Default)]
pub struct SecretNames {
    listed: BTreeSet<String>,
    /// Secret names whose value a command decodes from base64 (a
    /// kubeconfig in a variable): the decoded form is secret too.
    decoded: BTreeSet<String>,
}

impl SecretNames {
    pub fn contains(&self, name: &str) -> bool {
        is_secret_name(name) || self.listed.contains(name)
    }

    /// Adds a name; whether it was not secret before.
    pub fn insert(&mut self, name: &str) -> bool {
        !self.contains(name) && self.listed.insert(name.to_string())
    }

    /// Adds a name whose value may be base64 that a command decodes.
    pub fn insert_decoded(&mut self, name: &str) {
        self.insert(name);
        self.decoded.insert(name.to_string());
    }

    /// Whether the decoded form of the name's value is secret too.
    pub fn is_decoded(&self, name: &str) -> bool {
        self.decoded.contains(name)
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
            "GOOGLE_CREDENTIALS",
            "SSH_PRIVATE_KEY",
            "DATADOG_API_KEY",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_ACCESS_KEY_ID",
            "AWS_SESSION_TOKEN",
        ] {
            assert!(is_secret_name(name), "{name}");
        }
    }

    /// The fast scan says what trying every marker at every position
    /// says, for names made of marker pieces in any case.
    #[test]
    fn the_scan_agrees_with_the_definition() {
        use proptest::prelude::*;
        let plain = |name: &str| {
            let upper = name.to_ascii_uppercase();
            SECRET_MARKERS.iter().any(|m| upper.contains(m))
        };
        let piece = prop::sample::select(vec![
            "SECRET",
            "secr",
            "TOKEN",
            "toke",
            "N",
            "PASS",
            "password",
            "WD",
            "_KEY",
            "API",
            "ACCESS",
            "private",
            "PRIVATE_KEY",
            "CREDENTIAL",
            "cred",
            "A",
            "é",
            "_",
            "x1",
        ]);
        proptest!(|(parts in prop::collection::vec(piece, 0..6))| {
            let name = parts.concat();
            prop_assert_eq!(has_secret_marker(&name), plain(&name), "{}", name);
        });
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

    /// A name that says it holds a path is not secret by its name; the
    /// suffix must end the name, and a spec's `secrets:` still wins.
    #[test]
    fn names_of_paths_are_not_secret() {
        for name in [
            "AWS_WEB_IDENTITY_TOKEN_FILE",
            "AZURE_FEDERATED_TOKEN_FILE",
            "ARM_OIDC_TOKEN_FILE_PATH",
            "GOOGLE_APPLICATION_CREDENTIALS",
            "google_application_credentials",
            "CLOUDSDK_AUTH_CREDENTIAL_FILE_OVERRIDE",
            "AWS_SHARED_CREDENTIALS_FILE",
            "POSTGRES_PASSWORD_FILE",
            "VAULT_TOKEN_FILENAME",
            "SECRETS_DIR",
            "api_key_path",
        ] {
            assert!(is_path_name(name), "{name}");
            assert!(!is_secret_name(name), "{name}");
        }
        for name in [
            "TOKEN_FILES_KEY",
            "SECRET_PATHWAY",
            "MY_TOKEN_FILE_CONTENT",
            "GOOGLE_APPLICATION_CREDENTIALS_JSON",
            "_FILE_TOKEN",
            "DIR_SECRET",
        ] {
            assert!(!is_path_name(name), "{name}");
            assert!(is_secret_name(name), "{name}");
        }
        let mut names = SecretNames::default();
        assert!(!names.contains("AWS_WEB_IDENTITY_TOKEN_FILE"));
        assert!(names.insert("AWS_WEB_IDENTITY_TOKEN_FILE"));
        assert!(names.contains("AWS_WEB_IDENTITY_TOKEN_FILE"));
    }
}
