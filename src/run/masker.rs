//! Replacing secret values in output with `***`, in text and in streams.
//!
//! Output is masked one line at a time: a pattern never holds a newline,
//! so masking a block of whole lines at once is the same as masking each
//! line, and a stream is masked exactly however its writes were chunked.
//! A multi-line secret is masked through each of its lines; a secret read
//! from a file (`tok\n`, `tok\r\n`) through its trimmed forms.

use std::collections::VecDeque;
use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

use crate::run::prefix;

/// Shorter values would mask ordinary text (a secret `1` would hide every
/// digit) while hiding next to nothing.
pub const MIN_MASKED_LEN: usize = 3;
/// What a secret is replaced with.
pub const MASK: &str = "***";
/// Lines longer than this are cut (bytes): a command printing hundreds of
/// megabytes without a newline must not hold them all in memory.
pub const MAX_LINE: usize = 64 * 1024;
/// Shown where a line was cut; the rest of that line is not shown.
pub const CUT_MARKER: &str = " [stackhook: line cut, longer than 64 KiB]";

#[derive(Clone, Debug, Default)]
pub struct Masker {
    /// One-line patterns, longest first, so a secret that contains
    /// another is masked whole. Bytes: a secret need not be UTF-8.
    lines: Vec<Vec<u8>>,
    /// Multi-line values whole, for text that holds newlines.
    whole: Vec<Vec<u8>>,
    /// Lines of multi-line secrets too short to mask where they occur
    /// (`Z=`, the last line of a PEM): an output line that is one of them,
    /// and nothing else, is masked whole.
    short: Vec<Vec<u8>>,
    /// Every (overlapping) occurrence of `lines`, in one pass over a block.
    /// Built on first use: a runner makes a masker per step, and most
    /// steps print little or nothing.
    matcher: OnceLock<Option<AhoCorasick>>,
    /// The longest pattern, in bytes.
    longest: usize,
}

/// Characters, or bytes where the value is not UTF-8.
fn long_enough(s: &[u8]) -> bool {
    match std::str::from_utf8(s) {
        Ok(text) => text.chars().count() >= MIN_MASKED_LEN,
        Err(_) => s.len() >= MIN_MASKED_LEN,
    }
}

fn trim_cr(mut line: &[u8]) -> &[u8] {
    while let [rest @ .., b'\r'] = line {
        line = rest;
    }
    line
}

/// The one-line forms of a secret that output may hold: each line as
/// printed (a CRLF line loses its `\r`), and trimmed, as a command that
/// reads the value may print it; 3 characters or more.
pub fn forms(value: &[u8]) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = Vec::new();
    for line in value.split(|b| *b == b'\n') {
        for form in [trim_cr(line), line.trim_ascii()] {
            if long_enough(form) && !out.iter().any(|f| f == form) {
                out.push(form.to_vec());
            }
        }
    }
    out
}

/// The lines of a multi-line secret shorter than [`MIN_MASKED_LEN`] that
/// hold a letter or digit (a line of only `}` or `=` tells nothing).
fn short_lines(value: &[u8]) -> Vec<Vec<u8>> {
    let value = value.trim_ascii_end();
    if !value.contains(&b'\n') {
        return Vec::new();
    }
    value
        .split(|b| *b == b'\n')
        .map(<[u8]>::trim_ascii)
        .filter(|l| !long_enough(l) && l.iter().any(|b| b.is_ascii_alphanumeric() || *b >= 0x80))
        .map(<[u8]>::to_vec)
        .collect()
}

impl Masker {
    pub fn new<V: AsRef<[u8]>>(values: impl IntoIterator<Item = V>) -> Self {
        let mut lines = Vec::new();
        let mut whole = Vec::new();
        let mut short = Vec::new();
        for v in values {
            let v = v.as_ref();
            lines.extend(forms(v));
            short.extend(short_lines(v));
            let mut trimmed = v;
            while let [rest @ .., b'\n' | b'\r'] = trimmed {
                trimmed = rest;
            }
            if trimmed.contains(&b'\n') && long_enough(trimmed) {
                whole.push(trimmed.to_vec());
            }
        }
        for list in [&mut lines, &mut whole, &mut short] {
            list.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
            list.dedup();
        }
        Masker {
            longest: lines.first().map_or(0, Vec::len),
            lines,
            whole,
            short,
            matcher: OnceLock::new(),
        }
    }

    fn matcher(&self) -> Option<&AhoCorasick> {
        self.matcher
            .get_or_init(|| {
                (!self.lines.is_empty()).then(|| {
                    AhoCorasickBuilder::new()
                        .match_kind(MatchKind::Standard)
                        .build(&self.lines)
                        .expect("a few secrets fit an automaton")
                })
            })
            .as_ref()
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty() && self.short.is_empty()
    }

    /// `text` with every secret masked; `text` may hold newlines.
    pub fn mask(&self, text: &str) -> String {
        let mut out = text.as_bytes().to_vec();
        for v in &self.whole {
            if memchr::memmem::find(&out, v).is_some() {
                out = replace_all(&out, v);
            }
        }
        let mut bytes = Vec::with_capacity(out.len());
        self.mask_bytes_into(&out, &mut bytes);
        // A secret that is not UTF-8 may end inside a character of the
        // text: what is left of it is shown replaced, never as bytes.
        String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into())
    }

    /// Where secrets are in `block`: the union of every occurrence of
    /// every pattern, overlapping ones merged, so that two secrets that
    /// share characters (`XYZW1234` and `1234ABCD` in `XYZW1234ABCD`) leave
    /// no part of either.
    fn secret_ranges(&self, block: &[u8]) -> Vec<(usize, usize)> {
        let Some(m) = self.matcher() else {
            return Vec::new();
        };
        let mut found: Vec<(usize, usize)> = m
            .find_overlapping_iter(block)
            .map(|f| (f.start(), f.end()))
            .collect();
        found.sort_unstable();
        let mut merged: Vec<(usize, usize)> = Vec::with_capacity(found.len());
        for (start, end) in found {
            match merged.last_mut() {
                Some(last) if start < last.1 => last.1 = last.1.max(end),
                _ => merged.push((start, end)),
            }
        }
        merged
    }

    /// Appends `block` to `out` with every one-line secret masked, and
    /// every line that is a short line of a multi-line secret.
    fn mask_bytes_into(&self, block: &[u8], out: &mut Vec<u8>) {
        if self.short.is_empty() {
            return self.mask_ranges_into(block, out);
        }
        for line in block.split_inclusive(|b| *b == b'\n') {
            let (text, end) = match line.strip_suffix(b"\n") {
                Some(text) => (text, &b"\n"[..]),
                None => (line, &b""[..]),
            };
            if self.short.iter().any(|s| s[..] == *text.trim_ascii()) {
                out.extend_from_slice(MASK.as_bytes());
                out.extend_from_slice(end);
            } else {
                self.mask_ranges_into(line, out);
            }
        }
    }

    fn mask_ranges_into(&self, block: &[u8], out: &mut Vec<u8>) {
        let mut at = 0;
        for (start, end) in self.secret_ranges(block) {
            out.extend_from_slice(&block[at..start]);
            out.extend_from_slice(MASK.as_bytes());
            at = end;
        }
        out.extend_from_slice(&block[at..]);
    }

    /// Masks the head of a line that is cut: everything up to a point
    /// where no secret can start and continue past the end of `line`.
    /// Secrets that start before that point are whole inside `line` and
    /// masked; the rest is dropped, so no part of a secret is printed.
    fn mask_cut_into(&self, line: &[u8], out: &mut Vec<u8>) {
        let safe = line.len() + 1 - self.longest.max(1);
        let mut end = safe;
        for (start, stop) in self.secret_ranges(line) {
            if start < end {
                end = end.max(stop);
            }
        }
        self.mask_bytes_into(&line[..end], out);
    }
}

/// A stream of output (one command's stdout or stderr) written as
/// prefixed, masked lines, in blocks.
pub struct Stream<'m> {
    masker: &'m Masker,
    prefix: Vec<u8>,
    /// The line being read, not yet ended.
    pending: Vec<u8>,
    /// The current line was cut: drop the rest of it.
    cutting: bool,
    /// Lines longer than this are cut.
    limit: usize,
    /// Masked lines, reused between blocks.
    masked: Vec<u8>,
    /// The last lines, kept when `keep` is not zero (for reports).
    tail: VecDeque<String>,
    keep: usize,
}

impl<'m> Stream<'m> {
    pub fn new(masker: &'m Masker, prefix: &str, keep: usize) -> Self {
        Stream {
            masker,
            prefix: prefix.as_bytes().to_vec(),
            pending: Vec::new(),
            cutting: false,
            // Room for the longest secret twice, so a cut can keep one whole.
            limit: MAX_LINE.max(2 * masker.longest),
            masked: Vec::new(),
            tail: VecDeque::new(),
            keep,
        }
    }

    /// Cuts lines at `limit` bytes instead of [`MAX_LINE`] (at least twice
    /// the longest secret), so that tests and fuzzing reach the cut.
    pub fn line_limit(mut self, limit: usize) -> Self {
        self.limit = limit.max(2 * self.masker.longest).max(1);
        self
    }

    /// Reads `chunk` (any part of the output) and appends to `out` the
    /// lines it ends, masked and prefixed, each ending in `\n`.
    pub fn push(&mut self, mut chunk: &[u8], out: &mut Vec<u8>) {
        if self.cutting {
            match memchr::memchr(b'\n', chunk) {
                Some(i) => {
                    self.cutting = false;
                    chunk = &chunk[i + 1..];
                }
                None => return,
            }
        }
        let Some(last) = memchr::memrchr(b'\n', chunk) else {
            self.pending.extend_from_slice(chunk);
            return self.cut_if_long(out);
        };
        let (lines, rest) = chunk.split_at(last + 1);
        let lines = if self.pending.is_empty() {
            lines
        } else {
            let first = memchr::memchr(b'\n', lines).expect("lines ends in a newline");
            let mut line = std::mem::take(&mut self.pending);
            line.extend_from_slice(&lines[..=first]);
            self.emit(&line, out);
            line.clear();
            self.pending = line;
            &lines[first + 1..]
        };
        self.emit(lines, out);
        // The rest starts a new line.
        self.push(rest, out);
    }

    /// The end of the output: a last line without a newline is written.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if !self.pending.is_empty() {
            let mut line = std::mem::take(&mut self.pending);
            line.push(b'\n');
            self.emit(&line, out);
        }
        self.cutting = false;
    }

    /// The last lines written, masked, oldest first.
    pub fn tail(&self) -> Vec<String> {
        self.tail.iter().cloned().collect()
    }

    /// Masks whole lines (each ending in `\n`) and appends them prefixed.
    fn emit(&mut self, lines: &[u8], out: &mut Vec<u8>) {
        if lines.is_empty() {
            return;
        }
        let mut masked = std::mem::take(&mut self.masked);
        let block = if self.masker.is_empty() {
            lines
        } else {
            masked.clear();
            self.masker.mask_bytes_into(lines, &mut masked);
            &masked
        };
        if self.keep == 0 {
            prefix::prefix_lines(block, &self.prefix, out);
        } else {
            let mut start = 0;
            for end in memchr::memchr_iter(b'\n', block) {
                let mut line = &block[start..end];
                while let [rest @ .., b'\r'] = line {
                    line = rest;
                }
                self.write_line(line, b"", out);
                start = end + 1;
            }
        }
        self.masked = masked;
    }

    /// A line too long to hold: its safe head is written with a marker,
    /// the rest of it is dropped as it comes.
    fn cut_if_long(&mut self, out: &mut Vec<u8>) {
        if self.pending.len() <= self.limit {
            return;
        }
        let mut head = std::mem::take(&mut self.masked);
        head.clear();
        self.masker.mask_cut_into(&self.pending, &mut head);
        self.write_line(&head, CUT_MARKER.as_bytes(), out);
        self.masked = head;
        self.pending.clear();
        self.cutting = true;
    }

    fn write_line(&mut self, line: &[u8], marker: &[u8], out: &mut Vec<u8>) {
        out.extend_from_slice(&self.prefix);
        out.extend_from_slice(line);
        out.extend_from_slice(marker);
        out.push(b'\n');
        if self.keep > 0 {
            if self.tail.len() == self.keep {
                self.tail.pop_front();
            }
            let mut text = String::from_utf8_lossy(line).into_owned();
            text.push_str(std::str::from_utf8(marker).unwrap_or_default());
            self.tail.push_back(text);
        }
    }
}

/// `text` with every occurrence of `pattern` replaced by the mask.
fn replace_all(text: &[u8], pattern: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut at = 0;
    for start in memchr::memmem::find_iter(text, pattern) {
        if start >= at {
            out.extend_from_slice(&text[at..start]);
            out.extend_from_slice(MASK.as_bytes());
            at = start + pattern.len();
        }
    }
    out.extend_from_slice(&text[at..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn masker(values: &[&str]) -> Masker {
        Masker::new(values.iter().map(|s| s.to_string()))
    }

    /// Feeds `text` in chunks of `size` bytes; returns what was written.
    fn stream(m: &Masker, text: &str, size: usize) -> String {
        let mut s = Stream::new(m, "[p] ", 0);
        let mut out = Vec::new();
        for chunk in text.as_bytes().chunks(size.max(1)) {
            s.push(chunk, &mut out);
        }
        s.finish(&mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn masks_every_occurrence_longest_first() {
        let m = masker(&["hunter2", "hunter2-extended", "ab"]);
        assert_eq!(m.mask("x hunter2-extended y hunter2 ab"), "x *** y *** ab");
    }

    #[test]
    fn overlapping_secrets_leave_no_part_of_either() {
        let m = masker(&["XYZW1234", "1234ABCD"]);
        assert_eq!(m.mask("a XYZW1234ABCD b"), "a *** b");
        assert_eq!(stream(&m, "XYZW1234ABCD\n", 5), "[p] ***\n");
        assert_eq!(m.mask("XYZW1234 1234ABCD"), "*** ***");
    }

    #[test]
    fn masks_lines_of_multi_line_secrets_however_short() {
        let pem = "-----BEGIN KEY-----\nMIIBOgIBAAJBAK\nxyz=\n-----END KEY-----\n";
        let m = masker(&[pem]);
        assert_eq!(m.mask("got MIIBOgIBAAJBAK here"), "got *** here");
        assert_eq!(m.mask("xyz="), "***");
        assert_eq!(m.mask(pem.trim_end()), "***");
        assert_eq!(stream(&m, pem, 5), "[p] ***\n[p] ***\n[p] ***\n[p] ***\n");
    }

    /// A line of a multi-line secret too short to mask inside text is
    /// masked where it is a whole line of output; one that holds no letter
    /// or digit (`}`) is not, and short secrets of one line never are.
    #[test]
    fn short_lines_of_multi_line_secrets_are_masked_as_whole_lines() {
        let m = masker(&["xy\nzw\r\nuv\n", "{\n  \"key\": \"json-secret\"\n}\n", "ab"]);
        assert_eq!(
            stream(&m, "xy\n zw \r\nuv\nuvw\nxy zw\n}\nab\n", 3),
            "[p] ***\n[p] ***\n[p] ***\n[p] uvw\n[p] xy zw\n[p] }\n[p] ab\n"
        );
        assert_eq!(m.mask("a\nuv\nb"), "a\n***\nb");
        assert_eq!(m.mask("xy\nzw\nuv"), "***\n***\n***");
    }

    /// A secret of one line has no short lines: a masker of secrets too
    /// short to mask is empty, and short output lines are shown as they are.
    #[test]
    fn one_line_secrets_mask_no_short_line() {
        assert!(masker(&["ab", "x\n"]).is_empty());
        let m = masker(&["secret-1"]);
        assert_eq!(stream(&m, "\0\nab\n", 2), "[p] \0\n[p] ab\n");
    }

    /// Secrets need not be UTF-8: their bytes are masked, in streams and
    /// in text.
    #[test]
    fn secrets_that_are_not_utf8_are_masked() {
        let m = Masker::new([b"\xff\xfecanary".to_vec()]);
        let mut s = Stream::new(&m, "[p] ", 0);
        let mut out = Vec::new();
        s.push(b"a \xff\xfecanary b\n\xff\xfe", &mut out);
        s.push(b"canary\n", &mut out);
        assert_eq!(out, b"[p] a *** b\n[p] ***\n");
        assert_eq!(forms(b"\xff\xfe\n"), Vec::<Vec<u8>>::new());
        assert_eq!(forms(b"\xff\xfeX\r\n"), vec![b"\xff\xfeX".to_vec()]);
    }

    #[test]
    fn a_secret_ending_in_a_newline_is_masked_trimmed() {
        for v in ["tok-123\n", "tok-123\r\n", "  tok-123 \n"] {
            let m = masker(&[v]);
            assert_eq!(stream(&m, "a tok-123 b\r\n", 3), "[p] a *** b\n", "{v:?}");
        }
    }

    #[test]
    fn streams_are_masked_across_chunks_and_crlf_is_dropped() {
        let m = masker(&["s3cr3t-value"]);
        let text = "one s3cr3t-value\r\ntwo\nthree s3cr3t-value";
        for size in 1..text.len() + 1 {
            assert_eq!(
                stream(&m, text, size),
                "[p] one ***\n[p] two\n[p] three ***\n",
                "chunks of {size}"
            );
        }
    }

    #[test]
    fn long_lines_are_cut_without_a_partial_secret() {
        let secret = "S".repeat(10) + "ecret-tail";
        let m = masker(&[&secret]);
        // The secret straddles the cut point, in every position around it.
        for shift in 0..secret.len() + 2 {
            let text = format!(
                "{}{secret}{}\nnext\n",
                "x".repeat(MAX_LINE - shift),
                "y".repeat(MAX_LINE)
            );
            let out = stream(&m, &text, 4096);
            assert!(!out.contains("ecret"), "shift {shift}");
            assert!(!out.contains("SSSS"), "shift {shift}");
            assert!(
                out.ends_with(&format!("{CUT_MARKER}\n[p] next\n")),
                "shift {shift}"
            );
            assert_eq!(out.lines().count(), 2);
        }
    }

    /// Lines are cut past 64 KiB, as the marker says, and not before.
    #[test]
    fn lines_are_cut_past_64_kib() {
        let m = Masker::default();
        for (len, cut) in [(64 * 1024, false), (64 * 1024 + 1, true)] {
            let mut s = Stream::new(&m, "", 0);
            let mut out = Vec::new();
            s.push("x".repeat(len).as_bytes(), &mut out);
            s.push(b"\n", &mut out);
            let out = String::from_utf8(out).unwrap();
            assert_eq!(out.contains(CUT_MARKER), cut, "{len}");
        }
    }

    /// A cut line shows its head up to where the longest secret could
    /// start and still run past the end: a secret that starts before that
    /// point is masked whole, one that starts at it goes with the rest.
    /// The limit is never under twice the longest secret.
    #[test]
    fn a_cut_line_keeps_the_head_no_secret_can_run_past() {
        let m = masker(&["abcdef", "xyz"]);
        let cut = |line: &str| {
            let mut s = Stream::new(&m, "", 0).line_limit(1);
            let mut out = Vec::new();
            s.push(line.as_bytes(), &mut out);
            s.push(b"rest\nnext\n", &mut out);
            assert!(s.tail().is_empty(), "no tail is kept unless asked");
            String::from_utf8(out).unwrap()
        };
        let marked = |head: &str| format!("{head}{CUT_MARKER}\nnext\n");
        assert_eq!(cut("0123456789AB"), "0123456789ABrest\nnext\n");
        assert_eq!(cut("0123456789ABC"), marked("01234567"));
        assert_eq!(cut("0123abcdefXYZ"), marked("0123***"));
        assert_eq!(cut("01234567xyzQR"), marked("01234567"));
    }

    #[test]
    fn the_tail_keeps_the_last_masked_lines() {
        let m = masker(&["secret-1"]);
        let mut s = Stream::new(&m, "", 2);
        let mut out = Vec::new();
        s.push(b"a\nb secret-1\nc", &mut out);
        s.finish(&mut out);
        assert_eq!(s.tail(), ["b ***", "c"]);
    }
}
