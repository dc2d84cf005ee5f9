//! ANSI styling, off unless the output is a colour terminal, and text
//! from a spec or the environment shown as it is, not as a terminal would
//! act on it.

use std::borrow::Cow;
use std::fmt::Write;

#[derive(Clone, Copy)]
pub struct Paint(pub bool);

impl Paint {
    fn wrap(self, code: &str, s: &str) -> String {
        if self.0 {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
    pub fn bold(self, s: &str) -> String {
        self.wrap("1", s)
    }
    pub fn dim(self, s: &str) -> String {
        self.wrap("2", s)
    }
    pub fn red(self, s: &str) -> String {
        self.wrap("31", s)
    }
    pub fn green(self, s: &str) -> String {
        self.wrap("32", s)
    }
    pub fn yellow(self, s: &str) -> String {
        self.wrap("33", s)
    }
}

/// `s` with its control characters (but newlines and tabs) written as
/// `\x1b`, `\r`, `\u{9b}`: a value holding `ESC [2K` and `CR` would
/// otherwise erase, on the reader's terminal, the command it is part of.
/// JSON output keeps the exact bytes.
pub fn visible(s: &str) -> Cow<'_, str> {
    if !s.chars().any(hidden) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\r' => out.push_str("\\r"),
            c if hidden(c) && (c as u32) < 0x80 => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if hidden(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Control characters but newline and tab, and the invisible ones that
/// change how text around them reads: zero-width characters, bidi
/// controls (which can show `b a` for `a b`), line and paragraph
/// separators, the byte-order mark.
pub fn hidden(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        || matches!(
            c,
            '\u{061C}'
                | '\u{200B}'..='\u{200F}'
                | '\u{2028}'..='\u{202E}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{2069}'
                | '\u{FEFF}'
        )
}

/// A path as `visible` shows text, with each byte that is not UTF-8 as
/// `\xe9`: `Path::display` would show U+FFFD, which names another file.
pub fn visible_path(path: &std::path::Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let mut out = String::new();
    for chunk in path.as_os_str().as_bytes().utf8_chunks() {
        out.push_str(&visible(chunk.valid()));
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_shown_not_acted_on() {
        assert_eq!(visible("echo ok\tx\ny"), "echo ok\tx\ny");
        assert!(matches!(visible("plain"), Cow::Borrowed(_)));
        assert_eq!(
            visible("echo 'ok\u{1b}[2K\recho' \u{9b}2K\u{7f}"),
            "echo 'ok\\x1b[2K\\recho' \\u{9b}2K\\x7f"
        );
        assert_eq!(
            visible("rm -rf \u{202E}gpj.exe\u{200B} \u{2028}é"),
            "rm -rf \\u{202e}gpj.exe\\u{200b} \\u{2028}é"
        );
    }
}
