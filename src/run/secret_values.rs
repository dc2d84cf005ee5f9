//! The secret values of a run, from the names the plan decided are
//! secret: what the masker hides, and what GitHub Actions is told to hide.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;

use serde_json::Value as Json;

use crate::base::output::{self, Stream};
use crate::base::secrets::is_secret_name;
use crate::kube::kubeconfig;
use crate::plan::assemble::Plan;
use crate::run::masker::{self, MIN_MASKED_LEN};
use crate::run::process::Env;

/// The value of every variable of `env` that the plan decided is secret,
/// and of the variables passed on as they are (not UTF-8) whose names are
/// secret: `MY_TOKEN=$'\xff...'` is masked like any token.
/// Of a variable whose value a command decodes from base64 (the plan
/// decided which), what its decoded form holds too: see [`decoded_values`].
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
            out.extend(decoded_values(value));
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

/// Of kubeconfig content, plain or base64 (read as `kubeconfig install`
/// reads it): the values of its decoded lines ([`decoded_lines`]), and,
/// when it parses, each value of its tree by the same rule, whatever its
/// layout: flow-style YAML or JSON hold a token where no line rule finds
/// it, and a command prints it alone (`-o jsonpath`) or in JSON
/// (`"token": "..."`). A credential (`token`, `password`, key and
/// certificate data) is masked from the masker's minimum, and the PEM that
/// `client-key-data` decodes to line by line.
pub fn decoded_values(value: &[u8]) -> Vec<Vec<u8>> {
    let mut out = decoded_lines(value);
    let tree = kubeconfig::decode(value)
        .ok()
        .and_then(|text| kubeconfig::parse::<Json>(&text).ok());
    if let Some(tree) = tree {
        tree_values(&tree, "", &mut out);
    }
    out
}

/// The keys whose value is a credential whatever its name says.
const CREDENTIAL_KEYS: [&str; 4] = [
    "token",
    "password",
    "client-key-data",
    "client-certificate-data",
];

/// The values under `node` (reached through `key`): a string or number of
/// [`MIN_DECODED_VALUE`] characters or more, or of [`MIN_MASKED_LEN`] under
/// a credential key or a secret key name (an auth-provider's `id-token`,
/// `client-secret`). An exec env entry `{name: AWS_SECRET_ACCESS_KEY,
/// value: ...}` is secret by its name.
fn tree_values(node: &Json, key: &str, out: &mut Vec<Vec<u8>>) {
    let text = match node {
        Json::String(s) => s.clone(),
        Json::Number(n) => n.to_string(),
        Json::Array(items) => {
            for item in items {
                tree_values(item, key, out);
            }
            return;
        }
        Json::Object(map) => {
            let named = map
                .get("name")
                .and_then(Json::as_str)
                .filter(|_| map.contains_key("value"));
            for (k, v) in map {
                let k = match named {
                    Some(name) if k == "value" => name,
                    _ => k.as_str(),
                };
                tree_values(v, k, out);
            }
            return;
        }
        Json::Bool(_) | Json::Null => return,
    };
    let credential = CREDENTIAL_KEYS.contains(&key) || is_secret_name(key);
    let min = if credential {
        MIN_MASKED_LEN
    } else {
        MIN_DECODED_VALUE
    };
    // Counted as the masker counts: characters.
    if text.chars().count() >= min {
        push_new(out, text.as_bytes());
    }
    if key == "client-key-data" {
        use base64::Engine;
        if let Ok(pem) = base64::engine::general_purpose::STANDARD.decode(text.trim()) {
            // Multi-line: the masker masks each of its lines.
            push_new(out, &pem);
        }
    }
}

fn push_new(out: &mut Vec<Vec<u8>>, value: &[u8]) {
    if !out.iter().any(|v| v == value) {
        out.push(value.to_vec());
    }
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
    fn a_kubeconfigs_tree_values_whatever_its_layout() {
        use base64::Engine;
        let key =
            base64::engine::general_purpose::STANDARD.encode("-----BEGIN KEY-----\nKEYLINE\n");
        let kc = format!(
            r#"{{"kind": "Config", "users": [{{"name": "u", "user": {{"token": "tok", "password": 12345, "username": "admin", "client-key-data": "{key}",
              "auth-provider": {{"name": "oidc", "config": {{"id-token": "idt", "idp-issuer-url": "https://issuer.example"}}}},
              "exec": {{"command": "aws", "env": [{{"name": "AWS_SECRET_ACCESS_KEY", "value": "sak"}}, {{"name": "AWS_PROFILE", "value": "dev"}}]}}}}}},
              {{"name": "v", "user": {{"token": "ab"}}}}]}}"#
        );
        let values: Vec<String> = decoded_values(kc.as_bytes())
            .into_iter()
            .map(|v| String::from_utf8(v).unwrap())
            .collect();
        for held in [
            "tok",
            "12345",
            &key,
            "-----BEGIN KEY-----\nKEYLINE\n",
            "idt",
            "https://issuer.example",
            "sak",
        ] {
            assert!(values.iter().any(|v| v == held), "{held}: {values:?}");
        }
        // Structure, an ordinary short value, and what the masker would
        // not mask anyway (under 3 characters).
        for shown in ["Config", "admin", "aws", "dev", "oidc", "ab"] {
            assert!(!values.iter().any(|v| v == shown), "{shown}: {values:?}");
        }
        assert!(decoded_values(b"not: [a kubeconfig").is_empty());
    }

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
