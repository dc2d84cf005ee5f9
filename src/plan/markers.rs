//! Values inside minijinja: references and temp files as marker characters
//! (Unicode private-use code points), so that string operations in a
//! template keep them and the shell quoter can turn each into `"$NAME"`.
//! Text from the environment or the spec cannot forge a marker.

use crate::base::value::{Part, RefKind, Value};

const OPEN: char = '\u{E000}';
const CLOSE: char = '\u{E001}';
const FILE_OPEN: char = '\u{E002}';
const FILE_CLOSE: char = '\u{E003}';
const ALL: [char; 4] = [OPEN, CLOSE, FILE_OPEN, FILE_CLOSE];

/// A value as a string minijinja can carry, references as markers.
pub fn mark(value: &Value) -> String {
    let mut out = String::new();
    for part in &value.0 {
        match part {
            Part::Text(t) => out.extend(
                t.chars()
                    .map(|c| if ALL.contains(&c) { '\u{FFFD}' } else { c }),
            ),
            Part::Ref { name, why } => {
                let tag = if *why == RefKind::Secret { 's' } else { 'm' };
                out.push(OPEN);
                out.push(tag);
                out.push_str(name);
                out.push(CLOSE);
            }
        }
    }
    out
}

/// The value a marked string stands for.
pub fn unmark(s: &str) -> Value {
    let mut out = Value::default();
    let mut rest = s;
    while let Some(i) = rest.find(OPEN) {
        out.push(Part::Text(rest[..i].to_string()));
        let after = &rest[i + OPEN.len_utf8()..];
        let Some(j) = after.find(CLOSE) else {
            out.push(Part::Text(after.to_string()));
            return out;
        };
        let inner = &after[..j];
        // A tag a template changed (`|upper`) is read as a secret: a
        // reference is only ever shown as text when it is known not to be.
        let (why, name) = match inner.chars().next() {
            Some('m') => (RefKind::Missing, &inner[1..]),
            Some(c) => (RefKind::Secret, &inner[c.len_utf8()..]),
            None => (RefKind::Secret, ""),
        };
        out.push(Part::Ref {
            name: name.to_string(),
            why,
        });
        rest = &after[j + CLOSE.len_utf8()..];
    }
    out.push(Part::Text(rest.to_string()));
    out
}

/// Text a template marked safe, references written for sh to expand in
/// place (`${NAME}`); temp-file markers are kept for [`take_tempfiles`].
pub fn unmark_raw(s: &str) -> String {
    if !s.contains(OPEN) {
        return s.to_string();
    }
    unmark(s)
        .0
        .iter()
        .map(|p| match p {
            Part::Text(t) => t.clone(),
            Part::Ref { name, .. } => format!("${{{name}}}"),
        })
        .collect()
}

/// What `tempfile(NAME)` renders to: a marker that the finished command
/// turns into the file's path.
pub fn tempfile(name: &str) -> String {
    format!("{FILE_OPEN}{name}{FILE_CLOSE}")
}

/// The value a marked string stands for, each temp-file marker as the
/// file's path (`${STACKHOOK_TMPDIR}/NAME`, expanded at run time), and the
/// names of the files: for values that are not shell text (an `env:`
/// value of a provider).
pub fn unmark_with_paths(s: &str) -> (Value, Vec<String>) {
    let mut out = Value::default();
    let mut used = Vec::new();
    let mut rest = s;
    while let Some(i) = rest.find(FILE_OPEN) {
        out.extend(unmark(&rest[..i]));
        let after = &rest[i + FILE_OPEN.len_utf8()..];
        let Some(j) = after.find(FILE_CLOSE) else {
            rest = after;
            break;
        };
        let name = &after[..j];
        out.push(Part::Ref {
            name: "STACKHOOK_TMPDIR".into(),
            why: RefKind::Missing,
        });
        out.push(Part::Text(format!("/{name}")));
        if !used.iter().any(|u| u == name) {
            used.push(name.to_string());
        }
        rest = &after[j + FILE_CLOSE.len_utf8()..];
    }
    out.extend(unmark(rest));
    (out, used)
}

/// Whether a string holds a temp-file marker.
pub fn has_tempfile(s: &str) -> bool {
    s.contains(FILE_OPEN)
}

/// A finished command with each temp-file marker replaced by the file's
/// path, and the names of the files it uses.
pub fn take_tempfiles(command: &str) -> (String, Vec<String>) {
    let mut out = String::with_capacity(command.len());
    let mut used = Vec::new();
    let mut rest = command;
    while let Some(i) = rest.find(FILE_OPEN) {
        out.push_str(&rest[..i]);
        let after = &rest[i + FILE_OPEN.len_utf8()..];
        let Some(j) = after.find(FILE_CLOSE) else {
            break;
        };
        let name = &after[..j];
        out.push_str(&format!("\"$STACKHOOK_TMPDIR/{name}\""));
        if !used.iter().any(|u| u == name) {
            used.push(name.to_string());
        }
        rest = &after[j + FILE_CLOSE.len_utf8()..];
    }
    out.push_str(rest);
    (out, used)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_round_trip() {
        let mut v = Value::text("a");
        v.push(Part::Ref {
            name: "X_TOKEN".into(),
            why: RefKind::Secret,
        });
        v.push(Part::Text("b".into()));
        v.push(Part::Ref {
            name: "Y".into(),
            why: RefKind::Missing,
        });
        assert_eq!(unmark(&mark(&v)), v);
    }

    #[test]
    fn environment_text_cannot_forge_a_reference_or_a_file() {
        let forged = format!("{OPEN}sARM_CLIENT_SECRET{CLOSE}{}", tempfile("tok"));
        let marked = mark(&Value::text(forged));
        let v = unmark(&marked);
        assert!(!v.has_secret());
        assert_eq!(v.refs().count(), 0);
        assert!(!has_tempfile(&marked));
    }

    #[test]
    fn a_changed_tag_is_read_as_a_secret() {
        let mut v = Value::default();
        v.push(Part::Ref {
            name: "X".into(),
            why: RefKind::Secret,
        });
        let upper = mark(&v).to_uppercase();
        assert_eq!(unmark(&upper).refs().next(), Some(("X", RefKind::Secret)));
    }

    #[test]
    fn temp_file_paths_become_references_to_the_run_dir() {
        let s = format!("{}/sub:{}", tempfile("d"), mark(&Value::text("x")));
        let (v, used) = unmark_with_paths(&s);
        assert_eq!(v.to_string(), "${STACKHOOK_TMPDIR}/d/sub:x");
        assert_eq!(used, ["d"]);
    }

    #[test]
    fn temp_files_are_found_exactly() {
        let cmd = format!(
            "cat {} {} {}",
            tempfile("tok2"),
            tempfile("tok"),
            tempfile("tok2")
        );
        let (text, used) = take_tempfiles(&cmd);
        assert_eq!(
            text,
            "cat \"$STACKHOOK_TMPDIR/tok2\" \"$STACKHOOK_TMPDIR/tok\" \"$STACKHOOK_TMPDIR/tok2\""
        );
        assert_eq!(used, ["tok2", "tok"]);
        let (_, used) = take_tempfiles("cat \"$STACKHOOK_TMPDIR/tok2\"");
        assert!(used.is_empty(), "plain text is not a declared use");
    }
}
