//! Reading a JWT's expiry (`exp`) and the claims that say what it is for
//! (`iss`, `sub`, `aud`), without checking its signature: the
//! token is the cloud's business to verify; stackhook only wants to know
//! how long it lasts, to warn or stop before a command would fail with it.
//!
//! The claim comes from whoever made the token, so it is read into a
//! checked range: an `exp` past the year 9999 (or negative, or not a
//! finite number) means no expiry is known, never an overflow.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;

/// 9999-12-31T23:59:59Z, the last second RFC 3339 can write.
pub const MAX_EXP: u64 = 253_402_300_799;

/// A token's expiry, in seconds since the epoch, at most [`MAX_EXP`]: any
/// time arithmetic with it stays in range.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Expiry(u64);

impl Expiry {
    /// The expiry at `secs` since the epoch, if it is in range.
    pub fn from_secs(secs: u64) -> Option<Expiry> {
        (secs <= MAX_EXP).then_some(Expiry(secs))
    }

    pub fn secs(self) -> u64 {
        self.0
    }

    pub fn at(self) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(self.0)
    }

    /// RFC 3339 in UTC, as the exec credential protocol wants it.
    pub fn rfc3339(self) -> String {
        humantime::format_rfc3339_seconds(self.at()).to_string()
    }

    /// How long it is still valid at `now`: zero once it has passed.
    pub fn remaining(self, now: SystemTime) -> Duration {
        self.at().duration_since(now).unwrap_or(Duration::ZERO)
    }
}

/// The claims of a JWT (its payload as a JSON object); none when `token`
/// is not a JWT.
fn payload(token: &str) -> Option<serde_json::Map<String, serde_json::Value>> {
    let mut parts = token.trim().split('.');
    let (_header, payload, _sig) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        serde_json::Value::Object(claims) => Some(claims),
        _ => None,
    }
}

fn exp_of(exp: &serde_json::Value) -> Option<Expiry> {
    let secs = match exp.as_u64() {
        Some(n) => n,
        None => {
            let f = exp.as_f64()?;
            // `as` saturates, but only a finite value in range means a time.
            if !f.is_finite() || f < 0.0 || f > MAX_EXP as f64 {
                return None;
            }
            f as u64
        }
    };
    Expiry::from_secs(secs)
}

/// The `exp` claim of a JWT; none when `token` is not a JWT, has no
/// numeric `exp`, or one out of range.
pub fn expiry(token: &str) -> Option<Expiry> {
    exp_of(payload(token)?.get("exp")?)
}

/// What a JWT says about itself that is no secret: who made it (`iss`),
/// for whom (`aud`), about whom (`sub`) and until when (`exp`). A trust
/// policy matches these; the signature, which makes the token a
/// credential, is never read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Claims {
    pub iss: Option<String>,
    pub sub: Option<String>,
    /// `aud` is a string or a list of strings.
    pub aud: Vec<String>,
    pub exp: Option<Expiry>,
}

/// The claims of a JWT; none when `token` is not a JWT. A claim of
/// another type than the standard's is left out.
pub fn claims(token: &str) -> Option<Claims> {
    let c = payload(token)?;
    let text = |k: &str| c.get(k).and_then(|v| v.as_str()).map(str::to_string);
    let aud = match c.get("aud") {
        Some(serde_json::Value::String(s)) => vec![s.clone()],
        Some(serde_json::Value::Array(a)) => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    };
    Some(Claims {
        iss: text("iss"),
        sub: text("sub"),
        aud,
        exp: c.get("exp").and_then(exp_of),
    })
}

/// How long the token is still valid at `now`: zero when it has expired,
/// none when its expiry cannot be read.
pub fn remaining(token: &str, now: SystemTime) -> Option<Duration> {
    Some(expiry(token)?.remaining(now))
}

#[cfg(test)]
pub mod tests {
    use super::*;
    use proptest::prelude::*;

    /// An unsigned JWT with these claims.
    pub fn make(claims: &str) -> String {
        let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        format!("{}.{}.sig", b64(r#"{"alg":"RS256"}"#), b64(claims))
    }

    #[test]
    fn reads_exp_and_nothing_else() {
        let secs = |t: &str| expiry(t).map(Expiry::secs);
        assert_eq!(
            secs(&make(r#"{"exp":1700000000,"sub":"x"}"#)),
            Some(1_700_000_000)
        );
        assert_eq!(secs(&format!("{}\n", make(r#"{"exp":5.0}"#))), Some(5));
        assert_eq!(
            secs(&make(&format!(r#"{{"exp":{MAX_EXP}}}"#))),
            Some(MAX_EXP)
        );
        for not in [
            "ya29.a0AfH6SM",
            "a.b",
            "a.b.c.d",
            &make(r#"{"sub":"x"}"#),
            &make("[1]"),
            &make(r#"{"exp":"1700000000"}"#),
        ] {
            assert_eq!(expiry(not), None, "{not}");
        }
    }

    #[test]
    fn claims_read_iss_sub_aud_and_exp_only() {
        let c = claims(&make(
            r#"{"iss":"https://acme.app.spacelift.io","sub":"space:root","aud":"sts.amazonaws.com","exp":5}"#,
        ))
        .unwrap();
        assert_eq!(c.iss.as_deref(), Some("https://acme.app.spacelift.io"));
        assert_eq!(c.sub.as_deref(), Some("space:root"));
        assert_eq!(c.aud, vec!["sts.amazonaws.com"]);
        assert_eq!(c.exp.map(Expiry::secs), Some(5));
        let c = claims(&make(r#"{"aud":["a",1,"b"],"iss":7}"#)).unwrap();
        assert_eq!(
            (c.aud, c.iss, c.exp),
            (vec!["a".into(), "b".into()], None, None)
        );
        for not in ["ya29.a0AfH6SM", "a.b.c.d", &make("[1]"), &make("3")] {
            assert_eq!(claims(not), None, "{not}");
        }
    }

    /// What made `exec-credential` and `plan` exit 101: an `exp` whose
    /// time is out of range is no expiry at all.
    #[test]
    fn an_exp_out_of_range_is_no_expiry() {
        for exp in [
            "1e300",
            "1e12",
            "253402300800",
            "-5",
            "-0.5",
            "1.5e19",
            "18446744073709551615",
            "1e400",
        ] {
            let t = make(&format!(r#"{{"exp":{exp}}}"#));
            assert_eq!(expiry(&t), None, "{exp}");
            assert_eq!(remaining(&t, SystemTime::now()), None, "{exp}");
        }
    }

    #[test]
    fn remaining_time_is_zero_once_expired() {
        let t = make(r#"{"exp":1000}"#);
        let at = |s| UNIX_EPOCH + Duration::from_secs(s);
        assert_eq!(remaining(&t, at(400)), Some(Duration::from_secs(600)));
        assert_eq!(remaining(&t, at(2000)), Some(Duration::ZERO));
        let exp = Expiry::from_secs(1_700_000_000).unwrap();
        assert_eq!(exp.rfc3339(), "2023-11-14T22:13:20Z");
        assert_eq!(
            Expiry::from_secs(MAX_EXP).unwrap().rfc3339(),
            "9999-12-31T23:59:59Z"
        );
    }

    fn any_exp() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<u64>().prop_map(|n| n.to_string()),
            any::<i64>().prop_map(|n| n.to_string()),
            any::<f64>().prop_map(|f| serde_json::json!(f).to_string()),
            (0u64..=MAX_EXP + 10).prop_map(|n| n.to_string()),
            "[0-9eE.+-]{1,30}",
            ".*".prop_map(|s| serde_json::json!(s).to_string()),
        ]
    }

    proptest! {
        /// No token, however made, makes the expiry code panic, and an
        /// expiry read is always one RFC 3339 can write.
        #[test]
        fn no_jwt_makes_expiry_code_panic(
            exp in any_exp(),
            raw in ".*",
            now in any::<u64>(),
        ) {
            let now = UNIX_EPOCH.checked_add(Duration::from_secs(now)).unwrap_or(UNIX_EPOCH);
            for token in [make(&format!(r#"{{"exp":{exp}}}"#)), raw.clone(), format!("a.{raw}.c")] {
                if let Some(e) = expiry(&token) {
                    prop_assert!(e.secs() <= MAX_EXP);
                    prop_assert!(!e.rfc3339().is_empty());
                    let _ = e.remaining(now);
                }
                let _ = remaining(&token, now);
            }
        }
    }
}
