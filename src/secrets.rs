//! Which variables are secret.

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

/// Replaces secret values in output with `***`.
#[derive(Clone, Debug, Default)]
pub struct Masker {
    /// Longest first, so a secret that contains another is masked whole.
    values: Vec<String>,
}

/// Shorter values would mask ordinary text (a secret `1` would hide every
/// digit) while hiding next to nothing.
pub const MIN_MASKED_LEN: usize = 3;

impl Masker {
    pub fn new(values: impl IntoIterator<Item = String>) -> Self {
        let mut all: Vec<String> = Vec::new();
        for v in values {
            // A multi-line secret (a kubeconfig) is masked line by line too,
            // since output is masked a line at a time.
            let lines: Vec<String> = v
                .lines()
                .map(str::trim)
                .filter(|l| l.len() >= 8)
                .map(str::to_string)
                .collect();
            if lines.len() > 1 {
                all.extend(lines);
            }
            if v.len() >= MIN_MASKED_LEN {
                all.push(v);
            }
        }
        all.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        all.dedup();
        Masker { values: all }
    }

    pub fn mask(&self, text: &str) -> String {
        let mut out = text.to_string();
        for v in &self.values {
            if out.contains(v.as_str()) {
                out = out.replace(v.as_str(), "***");
            }
        }
        out
    }
}

#[cfg(test)]
mod masker_tests {
    use super::*;

    #[test]
    fn masks_every_occurrence_longest_first() {
        let m = Masker::new([
            "hunter2".to_string(),
            "hunter2-extended".to_string(),
            "ab".to_string(),
        ]);
        assert_eq!(m.mask("x hunter2-extended y hunter2 ab"), "x *** y *** ab");
    }

    #[test]
    fn masks_lines_of_multi_line_secrets() {
        let m = Masker::new(["line-one-secret\nline-two-secret\n".to_string()]);
        assert_eq!(m.mask("got line-two-secret here"), "got *** here");
    }
}
