//! The kubeconfig's content: whether it is usable, and decoding one given
//! plain or as base64. Messages never quote the file's content, not even
//! the names of its contexts, clusters and users or its server's address:
//! it may come from a secret, and the masker hides a secret's lines, not
//! fragments of them.

use std::path::Path;

use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::base::bounded_file::{self, KUBECONFIG_CAP};
use crate::base::diagnostic::{Code, Diag};
use crate::base::paint::visible_path;

#[derive(Debug, Deserialize)]
struct Kubeconfig {
    #[serde(rename = "current-context", default)]
    current_context: Option<String>,
    #[serde(default)]
    contexts: Option<Vec<NamedContext>>,
    #[serde(default)]
    clusters: Option<Vec<NamedCluster>>,
    #[serde(default)]
    users: Option<Vec<Named>>,
}

#[derive(Debug, Deserialize)]
struct NamedContext {
    name: String,
    context: Option<Context>,
}

#[derive(Debug, Deserialize)]
struct Context {
    cluster: Option<String>,
    user: Option<String>,
}

#[derive(Debug, Deserialize)]
struct NamedCluster {
    name: String,
    cluster: Option<Cluster>,
}

#[derive(Debug, Deserialize)]
struct Cluster {
    server: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Named {
    name: String,
}

/// What a valid kubeconfig's current context resolves to.
#[derive(Debug, PartialEq, Eq)]
pub struct Current {
    pub context: String,
    pub cluster: String,
    pub user: String,
    pub server: String,
}

/// Checks that `text` is a kubeconfig whose current context names an
/// existing context, cluster and user. Errors describe the structure, never
/// the content.
pub fn validate(text: &str) -> Result<Current, Diag> {
    validate_text(text).map_err(|e| Diag::new(Code::Kubeconfig, e))
}

/// The parser's counts for a file of at most `cap` bytes: a YAML node or
/// parser event takes at least one byte of input, or one with the empty
/// value YAML implies (`{a,b}`: four nodes in four bytes), so no file
/// within the cap passes twice as many. serde-saphyr's defaults (250,000
/// nodes, 1,000,000 events) refused a 14.6 MB kubeconfig of many contexts.
/// The limits against YAML bombs stay (nesting depth, anchors, aliases).
fn options_for(cap: u64) -> serde_saphyr::Options {
    let most = 2 * cap as usize + 64;
    serde_saphyr::options! {
        budget: serde_saphyr::budget! { max_nodes: most, max_events: most },
    }
}

/// Parses kubeconfig YAML: whatever fits in the bytes stackhook reads.
pub fn parse<T: DeserializeOwned>(text: &str) -> Result<T, String> {
    parse_with(text, options_for(KUBECONFIG_CAP))
}

fn parse_with<T: DeserializeOwned>(
    text: &str,
    options: serde_saphyr::Options,
) -> Result<T, String> {
    serde_saphyr::from_str_with_options(text, options).map_err(|e| {
        match (e.without_snippet(), e.location()) {
            (serde_saphyr::Error::Budget { breach, .. }, _) => format!(
                "not read as a kubeconfig: past a limit of stackhook's YAML parser ({breach:?}); \
             a kubeconfig of up to {} MiB is read unless it nests over 64 levels deep or holds \
             over 50,000 anchors or aliases",
                KUBECONFIG_CAP >> 20
            ),
            (_, Some(l)) => format!(
                "not a valid kubeconfig (YAML error at line {}, column {})",
                l.line(),
                l.column()
            ),
            (_, None) => "not a valid kubeconfig (not YAML)".to_string(),
        }
    })
}

fn validate_text(text: &str) -> Result<Current, String> {
    let kc: Kubeconfig = parse(text)?;
    let contexts = kc.contexts.unwrap_or_default();
    let current = kc
        .current_context
        .filter(|c| !c.is_empty())
        .ok_or("it has no current-context: set one with `kubectl config use-context NAME`")?;
    let ctx = contexts
        .iter()
        .find(|c| c.name == current)
        .ok_or("its current-context names no context in the file")?;
    let body = ctx.context.as_ref().ok_or("its current context is empty")?;
    let cluster = body
        .cluster
        .clone()
        .ok_or("its current context names no cluster")?;
    let user = body
        .user
        .clone()
        .ok_or("its current context names no user")?;
    let server = kc
        .clusters
        .unwrap_or_default()
        .into_iter()
        .find(|c| c.name == cluster)
        .ok_or("the cluster of its current context is not in the file")?
        .cluster
        .and_then(|c| c.server)
        .filter(|s| !s.is_empty())
        .ok_or("the cluster of its current context has no server")?;
    if !kc.users.unwrap_or_default().iter().any(|u| u.name == user) {
        return Err("the user of its current context is not in the file".into());
    }
    Ok(Current {
        context: current,
        cluster,
        user,
        server,
    })
}

/// Reads the kubeconfig at `path`: a regular file of bounded size.
pub fn read(path: &Path) -> Result<String, Diag> {
    bounded_file::read_to_string(path, KUBECONFIG_CAP).map_err(|e| {
        Diag::new(
            Code::Kubeconfig,
            format!("cannot read {}: {e}", visible_path(path)),
        )
    })
}

/// Reads and validates the kubeconfig at `path`.
pub fn check(path: &Path) -> Result<Current, Diag> {
    let text = read(path)?;
    validate_text(&text)
        .map_err(|e| Diag::new(Code::Kubeconfig, format!("{}: {e}", visible_path(path))))
}

/// Kubeconfig content as given: plain YAML, or base64 of it (as CI
/// variables often hold it). Only the shape is checked here (a YAML
/// mapping); [`validate`] checks the rest.
pub fn decode(raw: &[u8]) -> Result<String, Diag> {
    decode_text(raw).map_err(|e| Diag::new(Code::Kubeconfig, e))
}

/// Whether `text` is a YAML mapping with a kubeconfig's keys.
fn is_kubeconfig(text: &str) -> bool {
    parse::<Kubeconfig>(text).is_ok()
}

fn decode_text(raw: &[u8]) -> Result<String, String> {
    use base64::Engine;
    if let Ok(text) = std::str::from_utf8(raw)
        && is_kubeconfig(text)
    {
        return Ok(text.to_string());
    }
    let compact: Vec<u8> = raw
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    if let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(&compact)
        && let Ok(text) = String::from_utf8(bytes)
    {
        if is_kubeconfig(&text) {
            return Ok(text);
        }
        return Err(validate_text(&text)
            .err()
            .unwrap_or_else(|| "not a kubeconfig".into()));
    }
    // Neither: report why the plain form is not a kubeconfig.
    let text = std::str::from_utf8(raw)
        .map_err(|_| "the content is neither a kubeconfig nor base64 of one".to_string())?;
    validate_text(text).map(|_| text.to_string())
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    const GOOD: &str = "apiVersion: v1\nkind: Config\ncurrent-context: c\ncontexts:\n- name: c\n  context: {cluster: k, user: u}\nclusters:\n- name: k\n  cluster: {server: 'https://127.0.0.1:6443'}\nusers:\n- name: u\n  user: {token: sekrit}\n";

    #[test]
    fn a_good_kubeconfig_resolves() {
        let c = validate(GOOD).unwrap();
        assert_eq!(c.user, "u");
        assert_eq!(c.server, "https://127.0.0.1:6443");
    }

    /// An empty `current-context` (as `kubectl config unset` leaves it) is
    /// no current context, even where a context has an empty name.
    #[test]
    fn an_empty_current_context_is_none() {
        let text = GOOD
            .replace("current-context: c", "current-context: ''")
            .replace("- name: c\n", "- name: ''\n");
        let e = validate(&text).unwrap_err().message;
        assert!(e.contains("no current-context"), "{e}");
    }

    /// Base64 as `base64` prints it, in lines of 76 with a final newline,
    /// is decoded; base64 of something else says what is wrong with that,
    /// and bytes that are neither say so.
    #[test]
    fn wrapped_base64_is_decoded_and_other_content_is_refused() {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD.encode(GOOD);
        let wrapped: Vec<String> = b64
            .as_bytes()
            .chunks(76)
            .map(|l| String::from_utf8(l.to_vec()).unwrap() + "\n")
            .collect();
        assert_eq!(decode(wrapped.concat().as_bytes()).unwrap(), GOOD);
        let listed = base64::engine::general_purpose::STANDARD.encode("- a\n- b\n");
        let e = decode(listed.as_bytes()).unwrap_err().message;
        assert!(e.contains("not a valid kubeconfig"), "{e}");
        let e = decode(b"\xff\xfe not base64").unwrap_err().message;
        assert!(e.contains("neither a kubeconfig nor base64"), "{e}");
    }

    #[test]
    fn a_file_is_read_and_checked_as_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        std::fs::write(&path, GOOD).unwrap();
        assert_eq!(read(&path).unwrap(), GOOD);
        assert_eq!(check(&path).unwrap().context, "c");
    }

    /// The sum `--sha256` is compared with: SHA-256 in lower-case hex
    /// (the FIPS 180-2 example).
    #[test]
    fn the_sum_is_sha256_in_hex() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn broken_ones_say_what_is_wrong_without_content() {
        let cases = [
            (
                GOOD.replace("current-context: c", "current-context: xcanary"),
                "names no context",
            ),
            (
                GOOD.replace("current-context: c\n", ""),
                "no current-context",
            ),
            (
                GOOD.replace("cluster: k,", "cluster: nopecanary,"),
                "the cluster of its current context is not in the file",
            ),
            (
                GOOD.replace("- name: u\n", "- name: othercanary\n"),
                "the user of its current context is not in the file",
            ),
            (
                GOOD.replace("server: 'https://127.0.0.1:6443'", "server: ''"),
                "has no server",
            ),
            ("token: sekrit: [".to_string(), "YAML error"),
        ];
        for (text, want) in cases {
            let e = validate(&text).unwrap_err().message;
            assert!(e.contains(want), "{e}");
            for name in ["sekrit", "canary", "`u`", "`k`", "`c`", "127.0.0.1"] {
                assert!(!e.contains(name), "{e}");
            }
        }
    }

    #[test]
    fn base64_content_is_decoded() {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD.encode(GOOD);
        assert_eq!(decode(b64.as_bytes()).unwrap(), GOOD);
        assert_eq!(decode(GOOD.as_bytes()).unwrap(), GOOD);
    }

    /// The densest YAML there is, filling a small cap: every form parses
    /// within the counts that cap gets, as 16 MiB of it does within the
    /// kubeconfig's.
    #[test]
    fn the_densest_yaml_within_a_cap_is_within_its_counts() {
        const CAP: u64 = 8192;
        let fill = |open: &str, unit: &dyn Fn(usize) -> String, close: &str| {
            let mut text = open.to_string();
            for i in 0.. {
                let u = unit(i);
                if (text.len() + u.len() + close.len()) as u64 > CAP {
                    break;
                }
                text.push_str(&u);
            }
            text.push_str(close);
            text
        };
        let key = |i: usize| format!("{i:x}");
        let forms = [
            fill("", &|_| "-\n".into(), ""),
            fill("[", &|_| "a,".into(), "a]"),
            fill("[", &|_| "[],".into(), "[]]"),
            fill("[", &|_| "{},".into(), "{}]"),
            fill("[", &|_| "{a},".into(), "{a}]"),
            fill("{", &|i| format!("{},", key(i)), "z}"),
            fill("", &|i| format!("{}:\n", key(i)), ""),
            fill("", &|_| "- []\n".into(), ""),
        ];
        for text in forms {
            assert!(text.len() as u64 <= CAP);
            let parsed = parse_with::<serde_json::Value>(&text, options_for(CAP));
            assert!(parsed.is_ok(), "{parsed:?}: {}", &text[..40]);
        }
        // The counts are what bounds them: a quarter as many refuses one.
        let dense = fill("", &|_| "-\n".into(), "");
        let tight = serde_saphyr::options! {
            budget: serde_saphyr::budget! { max_nodes: CAP as usize / 4, max_events: CAP as usize / 4 },
        };
        let e = parse_with::<serde_json::Value>(&dense, tight).unwrap_err();
        assert!(e.contains("past a limit of stackhook's YAML parser"), "{e}");
    }
}
