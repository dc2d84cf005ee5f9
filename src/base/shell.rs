//! Quoting for POSIX `sh`: the one place where a [`Value`] becomes shell
//! text. Runner images are Alpine (busybox `sh`, no bash), so only POSIX
//! quoting is used: single quotes for text, `"$NAME"` for references.

use crate::base::value::{Part, Value};

/// Characters that never need quoting in any position of a word.
fn is_plain(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_@%+:,./-".contains(c)
}

/// Quotes text as one shell word. Plain words stay as they are, for
/// readable previews; anything else is single-quoted, which in POSIX sh
/// turns off every expansion.
pub fn quote(text: &str) -> String {
    if !text.is_empty() && text.chars().all(is_plain) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + 2);
    out.push('\'');
    for c in text.chars() {
        if c == '\'' {
            out.push_str("'\\''");
        } else {
            out.push(c);
        }
    }
    out.push('\'');
    out
}

/// A reference to an environment variable as one shell word.
pub fn reference(name: &str) -> String {
    format!("\"${name}\"")
}

/// One shell word for a value: text quoted, references as `"$NAME"`, so
/// the command holds the variable's name and never its value.
pub fn word(value: &Value) -> String {
    if value.is_empty() {
        return "''".into();
    }
    value
        .0
        .iter()
        .map(|part| match part {
            Part::Text(t) => quote(t),
            Part::Ref { name, .. } => reference(name),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::value::RefKind;
    use std::process::Command;

    fn sh_echo_args(command: &str, dir: &std::path::Path) -> String {
        let out = Command::new("sh")
            .arg("-c")
            .arg(format!("printf '[%s]' {command}"))
            .current_dir(dir)
            .env("SECRET_X", "s3cr3t")
            .output()
            .unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap()
    }

    #[test]
    fn plain_words_stay_readable() {
        assert_eq!(quote("europe-west1"), "europe-west1");
        assert_eq!(quote("arn:aws:iam::1:role/x"), "arn:aws:iam::1:role/x");
        assert_eq!(quote(""), "''");
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), "'it'\\''s'");
    }

    #[test]
    fn injection_payloads_stay_one_inert_argument() {
        let dir = tempfile::tempdir().unwrap();
        for payload in [
            "x; touch pwned",
            "$(touch pwned)",
            "`touch pwned`",
            "a' ; touch pwned ; '",
            "\"; touch pwned; \"",
            "${IFS}touch${IFS}pwned",
            "a\nb\ttouch pwned",
            "* ~ ? [a]",
            "-rf",
            "\\",
        ] {
            let printed = sh_echo_args(&quote(payload), dir.path());
            assert_eq!(printed, format!("[{payload}]"));
            assert!(!dir.path().join("pwned").exists(), "{payload}");
        }
    }

    #[test]
    fn references_expand_at_run_time_as_one_word() {
        let dir = tempfile::tempdir().unwrap();
        let mut v = Value::text("pre fix;");
        v.push(Part::Ref {
            name: "SECRET_X".into(),
            why: RefKind::Secret,
        });
        v.push(Part::Text("$(touch pwned)".into()));
        let w = word(&v);
        assert!(!w.contains("s3cr3t"));
        assert_eq!(
            sh_echo_args(&w, dir.path()),
            "[pre fix;s3cr3t$(touch pwned)]"
        );
        assert!(!dir.path().join("pwned").exists());
    }
}
