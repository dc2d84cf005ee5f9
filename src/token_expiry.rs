//! How long the OIDC tokens a step uses still last: `plan` warns when a
//! token expires before the step's timeout could run out, and `run` stops
//! in preflight, before any command, when one has expired. Reads the
//! token (a file, a variable, or the file an external-account credentials
//! file names) without ever showing it.

use std::path::Path;
use std::time::{Duration, SystemTime};

use crate::bounded_file::{self, Refused, TOKEN_CAP};
use crate::jwt;
use crate::value::{Part, Value};

/// What a provider's `jwts:` template rendered to.
#[derive(Debug, PartialEq, Eq)]
pub enum Source {
    /// A file holding the token.
    File(String),
    /// A Google external-account credentials file; its
    /// `credential_source.file` holds the token.
    GoogleCredentials(String),
    /// The token itself (a secret reference).
    Token(Value),
}

impl Source {
    /// `file:PATH`, `google-credentials:PATH`, else the token.
    pub fn parse(rendered: Value, lookup: &dyn Fn(&str) -> Option<String>) -> Option<Source> {
        let starts =
            |p: &str| matches!(rendered.0.first(), Some(Part::Text(t)) if t.starts_with(p));
        if !starts("file:") && !starts("google-credentials:") {
            return (!rendered.is_empty()).then_some(Source::Token(rendered));
        }
        let text = rendered.materialize(lookup).ok()?;
        if let Some(path) = text.strip_prefix("file:") {
            return Some(Source::File(path.to_string()));
        }
        text.strip_prefix("google-credentials:")
            .map(|p| Source::GoogleCredentials(p.to_string()))
    }

    /// Where the token is, for messages: a path or `${NAME}`.
    fn describe(&self) -> String {
        match self {
            Source::File(p) => format!("the token file {p}"),
            Source::GoogleCredentials(p) => format!("the OIDC token named by {p}"),
            Source::Token(v) => format!("the token in {v}"),
        }
    }

    /// The token, when it can be read now: none when it is not there (a
    /// plan made away from the runner), why when a file is not a token
    /// file stackhook reads (a FIFO, a device, too large).
    fn read(&self, lookup: &dyn Fn(&str) -> Option<String>) -> Result<Option<String>, String> {
        match self {
            Source::File(p) => read_file(p),
            Source::Token(v) => Ok(v.materialize(lookup).ok()),
            Source::GoogleCredentials(p) => {
                let Some(text) = read_file(p)? else {
                    return Ok(None);
                };
                let config: Option<serde_json::Value> = serde_json::from_str(&text).ok();
                match config
                    .as_ref()
                    .and_then(|c| c["credential_source"]["file"].as_str())
                {
                    Some(file) => read_file(file),
                    None => Ok(None),
                }
            }
        }
    }
}

/// A token or credentials file, read with bounds; a missing file is none.
fn read_file(path: &str) -> Result<Option<String>, String> {
    match bounded_file::read_to_string(Path::new(path), TOKEN_CAP) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e @ (Refused::NotRegular(_) | Refused::TooLarge(_))) => Err(format!(
            "cannot check {path}: {e} (token and credentials files must be regular files of at most 1 MiB)"
        )),
        Err(e) => Err(format!("cannot check {path}: {e}")),
    }
}

/// What a check found.
#[derive(Debug, PartialEq, Eq)]
pub enum Finding {
    Expired(String),
    Short(String),
    /// A file the step names could not be read as a token file.
    Unreadable(String),
}

/// Checks one token of step `step` against the step's timeout.
pub fn check(
    step: &str,
    source: &Source,
    timeout: Duration,
    lookup: &dyn Fn(&str) -> Option<String>,
    now: SystemTime,
) -> Option<Finding> {
    let token = match source.read(lookup) {
        Ok(token) => token?,
        Err(why) => return Some(Finding::Unreadable(format!("step `{step}`: {why}"))),
    };
    let exp = jwt::expiry(&token)?.at();
    let what = source.describe();
    match exp.duration_since(now) {
        Err(ago) => Some(Finding::Expired(format!(
            "step `{step}`: {what} expired {} ago",
            human(ago.duration())
        ))),
        Ok(left) if left < timeout => Some(Finding::Short(format!(
            "step `{step}`: {what} expires in {}, less than the step's timeout ({}): a slow step may fail with it",
            human(left),
            human(timeout)
        ))),
        Ok(_) => None,
    }
}

/// A duration in whole seconds, as humans read it.
fn human(d: Duration) -> String {
    humantime::format_duration(Duration::from_secs(d.as_secs())).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::RefKind;
    use std::time::UNIX_EPOCH;

    fn token(exp: u64) -> String {
        use base64::Engine;
        let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        format!("{}.{}.sig", b64("{}"), b64(&format!("{{\"exp\":{exp}}}")))
    }

    #[test]
    fn expired_short_and_fine_tokens() {
        let at = |s| UNIX_EPOCH + Duration::from_secs(s);
        let src = Source::Token(Value::reference("ARM_OIDC_TOKEN", RefKind::Secret));
        let ten = Duration::from_secs(600);
        let with = |t: String| move |n: &str| (n == "ARM_OIDC_TOKEN").then(|| t.clone());
        let lookup = with(token(1000));
        let e = check("s", &src, ten, &lookup, at(1300)).unwrap();
        assert_eq!(
            e,
            Finding::Expired("step `s`: the token in ${ARM_OIDC_TOKEN} expired 5m ago".into())
        );
        let s = check("s", &src, ten, &lookup, at(700)).unwrap();
        assert!(matches!(s, Finding::Short(m) if m.contains("expires in 5m, less than")));
        assert_eq!(check("s", &src, ten, &lookup, at(100)), None);
        let not_jwt = with("ya29.opaque".into());
        assert_eq!(check("s", &src, ten, &not_jwt, at(100)), None);
    }

    #[test]
    fn files_and_google_credentials_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("oidc");
        std::fs::write(&file, token(1000) + "\n").unwrap();
        let creds = dir.path().join("creds.json");
        let json = serde_json::json!({"credential_source": {"file": file}});
        std::fs::write(&creds, json.to_string()).unwrap();
        let none = |_: &str| None;
        let at = UNIX_EPOCH + Duration::from_secs(2000);
        let ten = Duration::from_secs(600);
        for rendered in [
            format!("file:{}", file.display()),
            format!("google-credentials:{}", creds.display()),
        ] {
            let src = Source::parse(Value::text(rendered), &none).unwrap();
            assert!(matches!(
                check("s", &src, ten, &none, at),
                Some(Finding::Expired(_))
            ));
        }
        let missing = Source::File("/nonexistent".into());
        assert_eq!(check("s", &missing, ten, &none, at), None);
    }

    /// A FIFO would block the read forever, /dev/zero would never end: both
    /// are said, not read; so is a credentials file naming one.
    #[test]
    fn files_that_are_not_token_files_are_refused_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let creds = dir.path().join("creds.json");
        let json = serde_json::json!({"credential_source": {"file": "/dev/zero"}});
        std::fs::write(&creds, json.to_string()).unwrap();
        let none = |_: &str| None;
        let ten = Duration::from_secs(600);
        for (src, want) in [
            (Source::File(fifo.display().to_string()), "it is a FIFO"),
            (Source::File("/dev/zero".into()), "it is a character device"),
            (
                Source::GoogleCredentials(creds.display().to_string()),
                "cannot check /dev/zero: it is a character device",
            ),
        ] {
            match check("s", &src, ten, &none, SystemTime::now()) {
                Some(Finding::Unreadable(m)) => assert!(m.contains(want), "{m}"),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn an_exp_out_of_range_is_no_finding() {
        let src = Source::Token(Value::reference("T", RefKind::Secret));
        for exp in ["1e300", "1e12", "-1"] {
            let t = crate::jwt::tests::make(&format!(r#"{{"exp":{exp}}}"#));
            let lookup = move |_: &str| Some(t.clone());
            let ten = Duration::from_secs(600);
            assert_eq!(check("s", &src, ten, &lookup, SystemTime::now()), None);
        }
    }
}
