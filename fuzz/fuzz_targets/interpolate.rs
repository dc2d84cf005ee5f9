//! Interpolation: any text parses or is refused with an error, never a
//! panic; what it resolves to, written back in interpolation syntax,
//! parses again; a secret variable never becomes text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stackhook::spec::interpolate::{self, Lookup};
use stackhook::base::value::Value;

struct Env<'a>(&'a str);

impl Lookup for Env<'_> {
    fn get(&self, name: &str) -> Option<(Value, bool)> {
        match name.len() % 3 {
            0 => None,
            1 => Some((Value::text(self.0), false)),
            // A value no input can hold (inputs with BEL are skipped).
            _ => Some((Value::text("\u{7}secret\u{7}"), true)),
        }
    }
}

fuzz_target!(|data: &str| {
    if data.contains('\u{7}') {
        return;
    }
    let (template, value) = data.split_once('\u{1}').unwrap_or((data, "v"));
    let Ok(pieces) = interpolate::parse(template) else {
        return;
    };
    let mut missing = Vec::new();
    let resolved = interpolate::substitute(&pieces, &Env(value), &mut missing);
    let shown = resolved.to_string();
    assert!(interpolate::parse(&shown).is_ok(), "{shown:?} does not parse");
    assert!(!shown.contains('\u{7}'), "a secret became text: {shown:?}");
});
