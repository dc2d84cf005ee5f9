//! Reading a JWT's expiry (`exp`), without checking its signature: the
//! token is the cloud's business to verify; stackhook only wants to know
//! how long it lasts, to warn or stop before a command would fail with it.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;

/// The `exp` claim (seconds since the epoch) of a JWT; none when `token`
/// is not a JWT or has no numeric `exp`.
pub fn expiry(token: &str) -> Option<u64> {
    let mut parts = token.trim().split('.');
    let (_header, payload, _sig) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let exp = &claims["exp"];
    exp.as_u64()
        .or_else(|| exp.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
}

/// How long the token is still valid at `now`: zero when it has expired,
/// none when its expiry cannot be read.
pub fn remaining(token: &str, now: SystemTime) -> Option<Duration> {
    let exp = UNIX_EPOCH + Duration::from_secs(expiry(token)?);
    Some(exp.duration_since(now).unwrap_or(Duration::ZERO))
}

/// `exp` as RFC 3339 in UTC, as the exec credential protocol wants it.
pub fn rfc3339(exp: u64) -> String {
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(exp)).to_string()
}

#[cfg(test)]
pub mod tests {
    use super::*;

    /// An unsigned JWT with these claims.
    pub fn make(claims: &str) -> String {
        let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        format!("{}.{}.sig", b64(r#"{"alg":"RS256"}"#), b64(claims))
    }

    #[test]
    fn reads_exp_and_nothing_else() {
        assert_eq!(
            expiry(&make(r#"{"exp":1700000000,"sub":"x"}"#)),
            Some(1_700_000_000)
        );
        assert_eq!(expiry(&format!("{}\n", make(r#"{"exp":5.0}"#))), Some(5));
        for not in [
            "ya29.a0AfH6SM",
            "a.b",
            "a.b.c.d",
            &make(r#"{"sub":"x"}"#),
            &make("[1]"),
        ] {
            assert_eq!(expiry(not), None, "{not}");
        }
    }

    #[test]
    fn remaining_time_is_zero_once_expired() {
        let t = make(r#"{"exp":1000}"#);
        let at = |s| UNIX_EPOCH + Duration::from_secs(s);
        assert_eq!(remaining(&t, at(400)), Some(Duration::from_secs(600)));
        assert_eq!(remaining(&t, at(2000)), Some(Duration::ZERO));
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
    }
}
