//! The masker's property, shared by `tests/masking.rs` (proptest, in the
//! normal suite) and the fuzz target `fuzz/fuzz_targets/masker.rs`:
//!
//! 1. No form of a registered secret comes out, whole or split across the
//!    output's chunks: a form is a line of the secret (a one-line secret is
//!    its own line), with its trailing `\r` dropped or trimmed, of 3+
//!    characters. A secret that holds one never comes out whole either.
//! 2. Masking is exact across chunks: when no line is cut, the output is
//!    each line of the input, its trailing `\r` dropped, masked on its own.
//!
//! Secrets holding `*` are left out: the mask itself is `***`.
#![allow(dead_code)]

use stackhook::run::masker::{CUT_MARKER, Masker, Stream};

const PREFIX: &[u8] = b"> ";

/// The forms of a secret that must never come out.
pub fn forms(secret: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in secret.split('\n') {
        for f in [line.trim_end_matches('\r'), line.trim()] {
            if f.chars().count() >= 3 {
                out.push(f.to_string());
            }
        }
    }
    out
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// Feeds `output` to a masked stream, cut into chunks at `cuts` (offsets
/// into the rest), and checks both properties.
pub fn check(secrets: &[String], output: &[u8], cuts: &[usize], limit: Option<usize>) {
    let secrets: Vec<String> = secrets
        .iter()
        .filter(|s| !s.contains('*'))
        .cloned()
        .collect();
    let masker = Masker::new(secrets.iter().cloned());
    let mut stream = Stream::new(&masker, "> ", 0);
    if let Some(limit) = limit {
        stream = stream.line_limit(limit);
    }
    let mut out = Vec::new();
    let mut rest = output;
    for &cut in cuts {
        let (chunk, after) = rest.split_at(cut.min(rest.len()));
        stream.push(chunk, &mut out);
        rest = after;
    }
    stream.push(rest, &mut out);
    stream.finish(&mut out);

    assert!(out.is_empty() || out.ends_with(b"\n"), "output ends a line");
    let mut lines: Vec<&[u8]> = out.split(|b| *b == b'\n').collect();
    lines.pop();
    let mut cut = false;
    let content: Vec<&[u8]> = lines
        .iter()
        .map(|l| {
            let l = l.strip_prefix(PREFIX).expect("every line is prefixed");
            match l.strip_suffix(CUT_MARKER.as_bytes()) {
                Some(head) => {
                    cut = true;
                    head
                }
                None => l,
            }
        })
        .collect();
    let joined = content.join(&b'\n');
    for secret in &secrets {
        let forms = forms(secret);
        for form in &forms {
            for line in &content {
                assert!(
                    !contains(line, form.as_bytes()),
                    "{form:?} of secret {secret:?} came out: {:?}",
                    String::from_utf8_lossy(line)
                );
            }
        }
        let whole = secret.trim_end_matches(['\n', '\r']);
        if !forms.is_empty() {
            assert!(
                !contains(&joined, whole.as_bytes()),
                "{secret:?} came out whole"
            );
        }
    }
    if let (false, Ok(text)) = (cut, std::str::from_utf8(output)) {
        let mut expected = String::new();
        let mut input: Vec<&str> = text.split('\n').collect();
        if input.last() == Some(&"") {
            input.pop();
        }
        for line in input {
            expected.push_str("> ");
            expected.push_str(&masker.mask(line.trim_end_matches('\r')));
            expected.push('\n');
        }
        assert_eq!(
            String::from_utf8_lossy(&out),
            expected,
            "chunking changed the output"
        );
    }
}
