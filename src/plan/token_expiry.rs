//! How long the OIDC tokens a step uses still last: `plan` warns when a
//! token expires before the step's timeout could run out, and `run` stops
//! in preflight, before any command, when one has expired. Reads the
//! token (a file, a variable, or the file an external-account credentials
//! file names) without ever showing it.

use std::path::Path;
use std::time::{Duration, SystemTime};

use crate::base::bounded_file::{self, Refused, TOKEN_CAP};
use crate::base::jwt;
use crate::base::value::{Part, Value};

/// What a provider's `jwts:` template rendered to.
#[derive(Debug, PartialEq, Eq)]
pub enum Source {
    /// A file holding the token.
    File(Place),
    /// A Google external-account credentials file; its
    /// `credential_source.file` holds the token.
    GoogleCredentials(Place),
    /// The token itself (a secret reference).
    Token(Value),
}

/// A file's path, and how messages name it: a path built from a secret (a
/// variable the spec lists under `secrets:`) is shown as the `${NAME}` it
/// came from, never as its value. A variable that holds a path is not
/// secret by its name (`is_path_name`), so its path is shown.
#[derive(Debug, PartialEq, Eq)]
pub struct Place {
    pub path: String,
    pub shown: String,
    pub secret: bool,
}

impl Place {
    /// A path with nothing secret in it.
    pub fn plain(path: impl Into<String>) -> Place {
        let path = path.into();
        Place {
            shown: path.clone(),
            path,
            secret: false,
        }
    }
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
        let shown: String = rendered
            .0
            .iter()
            .map(|part| match part {
                Part::Text(t) => t.clone(),
                Part::Ref { name, .. } => format!("${{{name}}}"),
            })
            .collect();
        let place = |prefix: &str| Place {
            path: text[prefix.len()..].to_string(),
            shown: shown[prefix.len()..].to_string(),
            secret: rendered.has_secret(),
        };
        if text.starts_with("file:") {
            Some(Source::File(place("file:")))
        } else {
            Some(Source::GoogleCredentials(place("google-credentials:")))
        }
    }

    /// Where the token is, for messages: a path or `${NAME}`.
    pub fn describe(&self) -> String {
        match self {
            Source::File(p) => format!("the token file {}", p.shown),
            Source::GoogleCredentials(p) => format!("the OIDC token named by {}", p.shown),
            Source::Token(v) => format!("the token in {v}"),
        }
    }

    /// The token, when it can be read now: none when it is not there (a
    /// plan made away from the runner), why when a file is not a token
    /// file stackhook reads (a FIFO, a device, too large).
    pub fn read(&self, lookup: &dyn Fn(&str) -> Option<String>) -> Result<Option<String>, String> {
        match self {
            Source::File(p) => read_file(p),
            Source::Token(v) => Ok(v.materialize(lookup).ok()),
            Source::GoogleCredentials(p) => {
                let Some(text) = read_file(p)? else {
                    return Ok(None);
                };
                let config: Option<serde_json::Value> = serde_json::from_str(&text).ok();
                let Some(file) = config
                    .as_ref()
                    .and_then(|c| c["credential_source"]["file"].as_str())
                else {
                    return Ok(None);
                };
                // Named inside a file that a secret names: derived from it.
                let inner = match p.secret {
                    true => Place {
                        path: file.to_string(),
                        shown: format!("the token file that {} names", p.shown),
                        secret: true,
                    },
                    false => Place::plain(file),
                };
                read_file(&inner)
            }
        }
    }
}

/// A token or credentials file, read with bounds; a missing file is none.
fn read_file(place: &Place) -> Result<Option<String>, String> {
    let shown = &place.shown;
    match bounded_file::read_to_string(Path::new(&place.path), TOKEN_CAP) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e @ (Refused::NotRegular(_) | Refused::TooLarge(_))) => Err(format!(
            "cannot check {shown}: {e} (token and credentials files must be regular files of at most 1 MiB)"
        )),
        Err(e) => Err(format!("cannot check {shown}: {e}")),
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
    use crate::base::value::RefKind;
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
        let missing = Source::File(Place::plain("/nonexistent"));
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
            (
                Source::File(Place::plain(fifo.display().to_string())),
                "it is a FIFO",
            ),
            (
                Source::File(Place::plain("/dev/zero")),
                "it is a character device",
            ),
            (
                Source::GoogleCredentials(Place::plain(creds.display().to_string())),
                "cannot check /dev/zero: it is a character device",
            ),
        ] {
            match check("s", &src, ten, &none, SystemTime::now()) {
                Some(Finding::Unreadable(m)) => assert!(m.contains(want), "{m}"),
                other => panic!("{other:?}"),
            }
        }
    }

    /// A path built from a secret is named by the variable in every
    /// message, and so is a file that such a file names.
    #[test]
    fn a_secret_path_is_shown_by_its_name() {
        let dir = tempfile::tempdir().unwrap();
        let secret_dir = dir.path().join("canary-s3cr3t");
        std::fs::create_dir(&secret_dir).unwrap();
        let file = secret_dir.join("oidc");
        std::fs::write(&file, token(1000)).unwrap();
        let fifo = secret_dir.join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let creds = secret_dir.join("creds.json");
        let json = serde_json::json!({"credential_source": {"file": fifo}});
        std::fs::write(&creds, json.to_string()).unwrap();
        let at = UNIX_EPOCH + Duration::from_secs(2000);
        let ten = Duration::from_secs(600);
        for (prefix, path, want) in [
            ("file:", &file, "the token file ${TOKEN_FILE} expired"),
            ("file:", &fifo, "cannot check ${TOKEN_FILE}: it is a FIFO"),
            (
                "google-credentials:",
                &creds,
                "cannot check the token file that ${TOKEN_FILE} names: it is a FIFO",
            ),
        ] {
            let mut rendered = Value::text(prefix);
            rendered.push(Part::Ref {
                name: "TOKEN_FILE".into(),
                why: RefKind::Secret,
            });
            let value = path.display().to_string();
            let lookup = move |n: &str| (n == "TOKEN_FILE").then(|| value.clone());
            let src = Source::parse(rendered, &lookup).unwrap();
            let message = match check("s", &src, ten, &lookup, at) {
                Some(Finding::Expired(m) | Finding::Unreadable(m)) => m,
                other => panic!("{other:?}"),
            };
            assert!(message.contains(want), "{message}");
            assert!(!message.contains("s3cr3t"), "{message}");
        }
    }

    #[test]
    fn an_exp_out_of_range_is_no_finding() {
        let src = Source::Token(Value::reference("T", RefKind::Secret));
        for exp in ["1e300", "1e12", "-1"] {
            let t = crate::base::jwt::tests::make(&format!(r#"{{"exp":{exp}}}"#));
            let lookup = move |_: &str| Some(t.clone());
            let ten = Duration::from_secs(600);
            assert_eq!(check("s", &src, ten, &lookup, SystemTime::now()), None);
        }
    }
}
