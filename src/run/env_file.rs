//! `--env-file`: `export NAME=value` lines for the caller's shell, written
//! after success only: KUBECONFIG and KUBE_CONFIG_PATH (what Terraform's
//! kubernetes and helm providers read), the spec's `export:` entries, and
//! the steps' exports. Secrets are references to the caller's own
//! variables, never values; a reference to a variable that exists only
//! inside the run (an `env:` entry) is replaced by its definition, so the
//! file means the same thing in the caller's shell.

use std::path::Path;

use indexmap::IndexMap;

use crate::base::atomic_file;
use crate::base::diagnostic::{Code, Diag};
use crate::base::shell;
use crate::base::value::{Part, Value};
use crate::plan::assemble::{Plan, PlanStep};
use crate::plan::resolve::{Env, EnvEntry};

/// What the file exports, in order, as the plan describes it.
pub fn contents(plan: &Plan) -> Result<IndexMap<String, Value>, Diag> {
    let mut out = IndexMap::new();
    for name in ["KUBECONFIG", "KUBE_CONFIG_PATH"] {
        out.insert(name.to_string(), Value::text(plan.kubeconfig.clone()));
    }
    for name in &plan.export {
        let entry = &plan.env[name.as_str()];
        let value = Scope {
            step: None,
            plan,
            written: &out,
        }
        .flatten(name, entry)?;
        out.insert(name.clone(), value);
    }
    for step in &plan.steps {
        for (name, value) in &step.exports {
            let scope = Scope {
                step: Some(step),
                plan,
                written: &out,
            };
            let value = scope.flatten_value(value)?;
            out.insert(name.clone(), value);
        }
    }
    Ok(out)
}

/// Where a reference in an export is looked up, as at run time: the
/// step's `env:`, earlier exports (already in the file), the spec's `env:`,
/// else the caller's environment.
struct Scope<'a> {
    step: Option<&'a PlanStep>,
    plan: &'a Plan,
    written: &'a IndexMap<String, Value>,
}

impl Scope<'_> {
    fn flatten_value(&self, value: &Value) -> Result<Value, Diag> {
        let mut out = Value::default();
        for part in &value.0 {
            match part {
                Part::Ref { name, .. } => out.extend(self.resolve(name)?),
                text => out.push(text.clone()),
            }
        }
        Ok(out)
    }

    fn resolve(&self, name: &str) -> Result<Value, Diag> {
        let entry = |env: &Env| env.get(name).cloned();
        if let Some(e) = self.step.and_then(|s| entry(&s.env)) {
            // A step's env sees earlier exports and the spec's env.
            let outer = Scope {
                step: None,
                plan: self.plan,
                written: self.written,
            };
            return outer.flatten(name, &e);
        }
        if self.written.contains_key(name) {
            return Ok(reference(name));
        }
        match entry(&self.plan.env) {
            // The spec's env sees only the caller's environment.
            Some(e) => self.check_literal(name, &e, e.value.clone()),
            None => Ok(reference(name)),
        }
    }

    fn flatten(&self, name: &str, entry: &EnvEntry) -> Result<Value, Diag> {
        let value = self.flatten_value(&entry.value)?;
        self.check_literal(name, entry, value)
    }

    /// A secret entry that is literal text (not built from a secret
    /// reference) would put its value into the file.
    fn check_literal(&self, name: &str, entry: &EnvEntry, value: Value) -> Result<Value, Diag> {
        let literal = entry.secret && !entry.value.has_secret() && !entry.value.is_empty();
        if literal {
            return Err(Diag::new(
                Code::RunEnvFile,
                format!("the env file would hold the value of `{name}`, a literal secret in the spec"),
            )
            .help(format!(
                "set `{name}` in the stack's environment instead of the spec, so the file can reference it"
            )));
        }
        Ok(value)
    }
}

fn reference(name: &str) -> Value {
    Value(vec![Part::Ref {
        name: name.to_string(),
        why: crate::base::value::RefKind::Secret,
    }])
}

pub fn text(contents: &IndexMap<String, Value>) -> String {
    let mut text = String::from("# written by stackhook run; source it: . FILE\n");
    for (name, value) in contents {
        text.push_str(&format!("export {name}={}\n", shell::word(value)));
    }
    text
}

/// Writes the file atomically, mode 0600.
pub fn write(path: &Path, contents: &IndexMap<String, Value>) -> std::io::Result<()> {
    atomic_file::write(path, text(contents).as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::value::RefKind;

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
