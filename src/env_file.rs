//! `--env-file`: `export NAME=value` lines for the caller's shell, written
//! after success only. Secrets are references to the caller's own
//! variables, never values.

use std::path::Path;

use indexmap::IndexMap;

use crate::atomic_file;
use crate::shell;
use crate::value::Value;

pub fn text(exported: &IndexMap<String, Value>) -> String {
    let mut text = String::from("# written by stackhook run; source it: . FILE\n");
    for (name, value) in exported {
        text.push_str(&format!("export {name}={}\n", shell::word(value)));
    }
    text
}

/// Writes the file atomically, mode 0600.
pub fn write(path: &Path, exported: &IndexMap<String, Value>) -> std::io::Result<()> {
    atomic_file::write(path, text(exported).as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::{Part, RefKind};

    #[test]
    fn secrets_are_references_and_text_is_quoted() {
        let mut exported = IndexMap::new();
        exported.insert("ID".to_string(), Value::text("app id"));
        let mut secret = Value::default();
        secret.push(Part::Ref {
            name: "ARM_CLIENT_SECRET".into(),
            why: RefKind::Secret,
        });
        exported.insert("SECRET".to_string(), secret);
        assert_eq!(
            text(&exported),
            "# written by stackhook run; source it: . FILE\nexport ID='app id'\nexport SECRET=\"$ARM_CLIENT_SECRET\"\n"
        );
    }
}
