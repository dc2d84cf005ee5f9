//! The bounds of a step's numbers (its `timeout:` and `retries:`): a
//! value past them is a spec error, so the run never does arithmetic on
//! one that could overflow or wait for ever.

use std::time::Duration;

use miette::SourceSpan;

use crate::base::diagnostic::{Code, Diag, Source};

pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);
/// No hook waits a day for one step.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(24 * 3600);

/// Past a hundred retries (about 50 minutes of backoff alone) a step is
/// not flaky but broken; the bound also keeps `retries + 1` attempts far
/// from overflowing.
pub const MAX_RETRIES: u32 = 100;

/// What is wrong with a `timeout:` (at `span` of `src`), if anything.
pub fn timeout(src: &Source, span: SourceSpan, text: &str) -> Option<Diag> {
    let diag = match humantime::parse_duration(text) {
        Ok(d) if d.is_zero() => {
            Diag::new(Code::SpecTimeout, "a timeout of zero would fail every run")
                .at(src, span, "zero")
                .help("use a duration such as `30s`, `5m` or `1h`")
        }
        Ok(d) if d > MAX_TIMEOUT => Diag::new(
            Code::SpecTimeout,
            format!("a timeout of `{text}` is longer than a hook can wait"),
        )
        .at(src, span, "too long")
        .help("a step may take at most 24h"),
        Ok(_) => return None,
        Err(e) => Diag::new(Code::SpecTimeout, format!("invalid timeout `{text}`: {e}"))
            .at(src, span, "not a duration")
            .help("use a duration such as `30s`, `5m` or `1h 30m`"),
    };
    Some(diag)
}
