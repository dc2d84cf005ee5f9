//! Shell quoting: any text (but NUL) becomes exactly one POSIX sh word
//! that reads back as the text, whatever its first character.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stackhook::base::shell;

/// How sh reads a word made of plain characters and single-quoted
/// strings: `None` when the word would be split, expanded or globbed.
fn read_word(word: &str) -> Option<String> {
    let mut out = String::new();
    let mut chars = word.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => loop {
                match chars.next()? {
                    '\'' => break,
                    c => out.push(c),
                }
            },
            '\\' => out.push(chars.next()?),
            c if c.is_ascii_alphanumeric() || "_@%+:,./-".contains(c) => out.push(c),
            _ => return None,
        }
    }
    Some(out)
}

fuzz_target!(|text: &str| {
    if text.contains('\0') {
        return;
    }
    let word = shell::quote(text);
    assert!(!word.is_empty());
    assert_eq!(read_word(&word).as_deref(), Some(text), "{word:?}");
});
