//! The secret values of a run, from the names the plan decided are
//! secret: what the masker hides, and what GitHub Actions is told to hide.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;

use crate::base::output::{self, Stream};
use crate::base::secrets::is_secret_name;
use crate::plan::assemble::Plan;
use crate::run::masker::{self, MIN_MASKED_LEN};
use crate::run::process::Env;

/// The value of every variable of `env` that the plan decided is secret,
/// and of the variables passed on as they are (not UTF-8) whose names are
/// secret: `MY_TOKEN=$'\xff...'` is masked like any token.
/// Of a variable whose value a command decodes from base64 (the plan
/// decided which), the decoded form's lines too.
pub fn of(plan: &Plan, env: &Env, raw: &[(OsString, OsString)]) -> Vec<Vec<u8>> {
    let utf8 = env
        .iter()
        .filter(|(name, _)| plan.secrets.contains(name))
        .map(|(name, value)| (name.as_str(), value.as_bytes()));
    let raw: Vec<(String, &[u8])> = raw
        .iter()
        .map(|(name, value)| (name.to_string_lossy().into_owned(), value.as_bytes()))
        .filter(|(name, _)| plan.secrets.contains(name))
        .collect();
    let all = utf8.chain(raw.iter().map(|(n, v)| (n.as_str(), *v)));
    let mut out = Vec::new();
    for (name, value) in all {
        if plan.secrets.is_decoded(name) {
            out.extend(decoded_lines(value));
        }
        out.push(value.to_vec());
    }
    out
}

/// Shorter values of a decoded form are a kubeconfig's structure
/// (`v1`, `Config`, `true`, a context named `ci`): masking them would star
/// ordinary output and hide nothing.
pub const MIN_DECODED_VALUE: usize = 8;

/// What of `value`, decoded from base64 (whitespace ignored, as
/// `kubeconfig install` decodes it), is masked: the value of each line
/// (after `key: ` and a list's `- `, without quotes) of
/// [`MIN_DECODED_VALUE`] characters or more, or of 3 or more under a key
/// whose name is secret (`token:`, `password:`). What is secret in a
/// kubeconfig (`token:`, `client-key-data:`, `password:`, the server) is
/// such a value, and a line that holds it is masked where it does. None
/// when `value` is not base64.
pub fn decoded_lines(value: &[u8]) -> Vec<Vec<u8>> {
    use base64::Engine;
    let compact: Vec<u8> = value
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(compact) else {
        return Vec::new();
    };
    let mut out: Vec<Vec<u8>> = Vec::new();
    for line in decoded.split(|b| *b == b'\n').map(<[u8]>::trim_ascii) {
        let line = line.strip_prefix(b"- ").unwrap_or(line);
        let (key, value) = match line.windows(2).position(|w| w == b": ") {
            Some(i) => (&line[..i], unquoted(line[i + 2..].trim_ascii())),
            None => (&b""[..], line),
        };
        let secret_key = is_secret_name(&String::from_utf8_lossy(key));
        let min = if secret_key {
            MIN_MASKED_LEN
        } else {
            MIN_DECODED_VALUE
        };
        if value.len() >= min && !out.iter().any(|f| f == value) {
            out.push(value.to_vec());
        }
    }
    out
}

/// A YAML scalar without the quotes around it.
fn unquoted(s: &[u8]) -> &[u8] {
    match s {
        [b'"', inner @ .., b'"'] | [b'\'', inner @ .., b'\''] => inner,
        _ => s,
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_of_a_decoded_secret_and_their_values() {
        use base64::Engine;
        let kc = "---\nkind: Config\nusers:\n- name: ci\n  user:\n    token: \"tok-0123456789\"\n    password: pw1\n    client-key-data: S0VZS0VZS0VZ\n  - name: a-long-name\n    LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0t\n";
        let b64 = base64::engine::general_purpose::STANDARD.encode(kc);
        let wrapped = format!("{}\n{}\n", &b64[..20], &b64[20..]);
        let lines: Vec<String> = decoded_lines(wrapped.as_bytes())
            .into_iter()
            .map(|l| String::from_utf8(l).unwrap())
            .collect();
        assert_eq!(
            lines,
            [
                "tok-0123456789",
                "pw1",
                "S0VZS0VZS0VZ",
                "a-long-name",
                "LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0t"
            ]
        );
        assert!(decoded_lines(b"not base64!").is_empty());
        assert!(decoded_lines(kc.as_bytes()).is_empty());
    }
}
