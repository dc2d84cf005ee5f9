//! The OIDC tokens a step uses (the provider's `jwts:`, and the web
//! identity the AWS CLI finds in the environment): whether each is there
//! and readable (a regular file of bounded size, opened without blocking),
//! and what the JWT says of itself: issuer, audience, subject, expiry. The
//! token itself is never shown.

use std::time::{Duration, SystemTime};

use crate::base::jwt;
use crate::base::paint::visible;
use crate::doctor::finding::Finding;
use crate::doctor::visible_env::VisibleEnv;
use crate::plan::assemble::PlanStep;
use crate::plan::token_expiry::{Place, Source};

const CHECK: &str = "token file";

/// The tokens of a step, as sources.
fn sources(step: &PlanStep, env: &VisibleEnv) -> Vec<Source> {
    let lookup = |n: &str| env.get(n).map(str::to_string);
    let mut out: Vec<Source> = step
        .jwts
        .iter()
        .filter_map(|j| Source::parse(j.clone(), &lookup))
        .collect();
    // The AWS CLI's own web identity (auth: cli with AWS_ROLE_ARN and
    // AWS_WEB_IDENTITY_TOKEN_FILE set by the platform).
    let aws = step.requires.iter().any(|r| r == "aws");
    if aws
        && !step.env.contains_key("AWS_WEB_IDENTITY_TOKEN_FILE")
        && env.is_set("AWS_ROLE_ARN")
        && let Some(path) = env.get("AWS_WEB_IDENTITY_TOKEN_FILE")
    {
        out.push(Source::File(Place {
            path: path.to_string(),
            shown: "${AWS_WEB_IDENTITY_TOKEN_FILE}".into(),
            secret: true,
        }));
    }
    out
}

pub fn check(step: &PlanStep, env: &VisibleEnv, now: SystemTime) -> Vec<Finding> {
    let lookup = |n: &str| env.get(n).map(str::to_string);
    sources(step, env)
        .iter()
        .map(|source| {
            let what = visible(&source.describe()).into_owned();
            match source.read(&lookup) {
                Err(why) => Finding::problem(CHECK, visible(&why)),
                Ok(None) => Finding::problem(CHECK, format!("{what}: not found")),
                Ok(Some(token)) => token_finding(&what, &token, step.timeout, now),
            }
        })
        .collect()
}

fn token_finding(what: &str, token: &str, timeout: Duration, now: SystemTime) -> Finding {
    let Some(c) = jwt::claims(token) else {
        return Finding::problem(
            CHECK,
            format!("{what}: not a JWT (three base64url parts, the second a JSON object)"),
        );
    };
    let show = |v: &Option<String>| {
        v.as_deref()
            .map_or("(none)".to_string(), |s| visible(s).into_owned())
    };
    let aud = match c.aud.len() {
        0 => "(none)".to_string(),
        _ => c
            .aud
            .iter()
            .map(|a| visible(a).into_owned())
            .collect::<Vec<_>>()
            .join(", "),
    };
    let about = format!(
        "{what}: a JWT, issuer {}, audience {aud}, subject {}",
        show(&c.iss),
        show(&c.sub)
    );
    let Some(exp) = c.exp else {
        return Finding::note(CHECK, format!("{about}, no expiry"));
    };
    let whole = |d: Duration| humantime::format_duration(Duration::from_secs(d.as_secs()));
    match exp.at().duration_since(now) {
        Err(ago) => Finding::problem(
            CHECK,
            format!(
                "{about}, expired {} ago ({})",
                whole(ago.duration()),
                exp.rfc3339()
            ),
        ),
        Ok(left) if left < timeout => Finding::problem(
            CHECK,
            format!(
                "{about}, expires in {} ({}), before the step's timeout ({})",
                whole(left),
                exp.rfc3339(),
                whole(timeout)
            ),
        ),
        Ok(left) => Finding::ok(
            CHECK,
            format!("{about}, expires in {} ({})", whole(left), exp.rfc3339()),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::finding::Status;

    fn jwt(claims: &str) -> String {
        use base64::Engine;
        let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        format!("{}.{}.SIGNATURE", b64("{}"), b64(claims))
    }

    #[test]
    fn says_issuer_audience_and_expiry_never_the_token() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1000);
        let hour = Duration::from_secs(3600);
        let t =
            jwt(r#"{"iss":"https://oidc.example","aud":"sts.amazonaws.com","sub":"s","exp":8200}"#);
        let f = token_finding("the token file /t", &t, Duration::from_secs(600), now);
        assert_eq!(f.status, Status::Ok);
        assert_eq!(
            f.message,
            "the token file /t: a JWT, issuer https://oidc.example, audience sts.amazonaws.com, subject s, expires in 2h (1970-01-01T02:16:40Z)"
        );
        assert!(!f.message.contains("SIGNATURE"));
        let expired = token_finding("x", &jwt(r#"{"exp":400}"#), hour, now);
        assert_eq!(expired.status, Status::Problem);
        assert!(
            expired.message.contains("expired 10m ago"),
            "{}",
            expired.message
        );
        let short = token_finding("x", &jwt(r#"{"exp":1300}"#), hour, now);
        assert_eq!(short.status, Status::Problem);
        let not = token_finding("x", "ya29.opaque", hour, now);
        assert_eq!(
            (not.status, not.message.contains("not a JWT")),
            (Status::Problem, true)
        );
    }
}
