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

/// How escaped text is laid out where it is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// Text of several lines (a command, a page): newlines and tabs kept.
    Lines,
    /// One line (a name, a path, a value after `NAME=`): newlines and
    /// tabs written as `\n`, `\t` too, so nothing can start a line that
    /// looks like stackhook's own.
    Line,
    /// Inside a JSON string, which serde has escaped but for DEL, C1 and
    /// the invisible characters: written as `\u` escapes, so that a tool
    /// reads the exact text and a terminal shows it.
    Json,
}

/// `s` shown as it is, not as a terminal would act on it: every [`hidden`]
/// character written as an escape (`\x1b`, `\r`, `\u{202e}`; `\u202e` in
/// JSON). A value holding `ESC [2K` and `CR` would otherwise erase, on the
/// reader's terminal, the line it is part of; a bidi control would show
/// `b a` for `a b`. The one function for text from a spec, a provider
/// file, the environment or any other file, wherever it is printed.
pub fn escaped(s: &str, layout: Layout) -> Cow<'_, str> {
    let shown = |c: char| match layout {
        Layout::Lines | Layout::Json => !hidden(c),
        Layout::Line => !hidden(c) && c != '\n' && c != '\t',
    };
    if s.chars().all(shown) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        let _ = match c {
            c if shown(c) => {
                out.push(c);
                Ok(())
            }
            c if layout == Layout::Json => write!(out, "\\u{:04x}", c as u32),
            '\n' => write!(out, "\\n"),
            '\t' => write!(out, "\\t"),
            '\r' => write!(out, "\\r"),
            c if (c as u32) < 0x80 => write!(out, "\\x{:02x}", c as u32),
            c => write!(out, "\\u{{{:x}}}", c as u32),
        };
    }
    Cow::Owned(out)
}

/// Text of several lines, escaped: [`escaped`] with [`Layout::Lines`].
pub fn visible(s: &str) -> Cow<'_, str> {
    escaped(s, Layout::Lines)
}

/// One line, escaped: [`escaped`] with [`Layout::Line`].
pub fn visible_line(s: &str) -> Cow<'_, str> {
    escaped(s, Layout::Line)
}

/// Control characters but newline and tab (C0 with ESC and CR, DEL, C1
/// with NEL), and the invisible ones that change how text around them
/// reads: zero-width characters, bidi marks and controls (U+061C,
/// U+200E/F, U+202A-E, U+2066-9: they can show `b a` for `a b`), line and
/// paragraph separators, the byte-order mark. Every one is below U+10000,
/// so a JSON `\uXXXX` escape holds it.
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

/// A path as `visible_line` shows text, with each byte that is not UTF-8 as
/// `\xe9`: `Path::display` would show U+FFFD, which names another file.
pub fn visible_path(path: &std::path::Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let mut out = String::new();
    for chunk in path.as_os_str().as_bytes().utf8_chunks() {
        out.push_str(&visible_line(chunk.valid()));
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

    #[test]
    fn one_line_and_json_layouts() {
        assert_eq!(visible_line("a\tb\nc\r\u{85}"), "a\\tb\\nc\\r\\u{85}");
        assert!(matches!(visible_line("plain é"), Cow::Borrowed(_)));
        assert_eq!(
            escaped(
                "\\u001b \u{7f}\u{85}\u{202e}\u{2066}\u{200e}\u{61c}\n",
                Layout::Json
            ),
            "\\u001b \\u007f\\u0085\\u202e\\u2066\\u200e\\u061c\n"
        );
        for c in [
            '\u{1b}', '\r', '\u{7f}', '\u{85}', '\u{9b}', '\u{2028}', '\u{2029}', '\u{feff}',
        ]
        .into_iter()
        .chain('\u{202a}'..='\u{202e}')
        .chain('\u{2066}'..='\u{2069}')
        .chain([
            '\u{200b}', '\u{200c}', '\u{200d}', '\u{200e}', '\u{200f}', '\u{61c}',
        ]) {
            assert!(hidden(c), "{:x}", c as u32);
            for layout in [Layout::Lines, Layout::Line, Layout::Json] {
                assert!(
                    !escaped(&format!("a{c}b"), layout).contains(c),
                    "{:x}",
                    c as u32
                );
            }
        }
    }
}
