//! The secret values of a run, from the names the plan decided are
//! secret: what the masker hides, and what GitHub Actions is told to hide.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;

use crate::base::output::{self, Stream};
use crate::plan::assemble::Plan;
use crate::run::masker;
use crate::run::process::Env;

/// The value of every variable of `env` that the plan decided is secret,
/// and of the variables passed on as they are (not UTF-8) whose names are
/// secret: `MY_TOKEN=$'\xff...'` is masked like any token.
pub fn of(plan: &Plan, env: &Env, raw: &[(OsString, OsString)]) -> Vec<Vec<u8>> {
    let utf8 = env
        .iter()
        .filter(|(name, _)| plan.secrets.contains(name))
        .map(|(_, value)| value.clone().into_bytes());
    let raw = raw
        .iter()
        .filter(|(name, _)| plan.secrets.contains(&name.to_string_lossy()))
        .map(|(_, value)| value.as_bytes().to_vec());
    utf8.chain(raw).collect()
}

/// GitHub Actions masks any value announced this way in the rest of the
/// job's log (it strips the command line itself), so that what later steps
/// print of a secret stackhook derived is masked too. Every form the masker
/// knows is announced, one per line. No other platform is told: a platform
/// that does not strip the command would print the value. A failed write
/// is an error: GitHub would not mask those values in the job's log.
pub fn announce(values: &[Vec<u8>]) -> std::io::Result<()> {
    let mut text = String::new();
    for form in values.iter().flat_map(|v| masker::forms(v)) {
        // The runner reads the log as UTF-8 and unescapes a command's
        // data: `%`, CR and LF are sent escaped, or it would mask another
        // value (and a CR or LF would end the command early).
        let form = String::from_utf8_lossy(&form)
            .replace('%', "%25")
            .replace('\r', "%0D")
            .replace('\n', "%0A");
        text.push_str(&format!("::add-mask::{form}\n"));
    }
    output::write(Stream::Stdout, &text)
}

/// `announce` for the values a step derives: a failure is why the step
/// cannot go on.
pub fn announce_derived(values: &[Vec<u8>]) -> Result<(), String> {
    announce(values).map_err(|e| {
        format!("could not tell GitHub Actions to mask its secret values (stdout: {e})")
    })
}
