//! `env` in templates: every variable the step can see (secrets as
//! references). Reading one that is not set is recorded, so that a
//! template's unset variable is reported as a missing variable, located,
//! like any other, instead of as an undefined name; a second render then
//! reads it as a reference.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use minijinja::Value as Jinja;
use minijinja::value::{Enumerator, Object, ObjectRepr};

use crate::base::value::{RefKind, Value};
use crate::plan::markers::mark;

#[derive(Debug)]
pub struct EnvView {
    /// The process environment, marked: made once per plan.
    base: Arc<BTreeMap<String, String>>,
    /// The step's own view over it (spec env, exports, step env), marked.
    overlay: BTreeMap<String, String>,
    /// Unset names to read as references (`"$NAME"`).
    as_missing: BTreeSet<String>,
    /// Unset names the templates read.
    misses: Mutex<BTreeSet<String>>,
}

impl EnvView {
    pub fn new(
        base: Arc<BTreeMap<String, String>>,
        overlay: &BTreeMap<String, Value>,
        as_missing: BTreeSet<String>,
    ) -> Arc<Self> {
        Arc::new(EnvView {
            base,
            overlay: marked(overlay),
            as_missing,
            misses: Mutex::default(),
        })
    }

    /// The unset names templates read since the view was made.
    pub fn misses(&self) -> BTreeSet<String> {
        self.misses.lock().map(|m| m.clone()).unwrap_or_default()
    }
}

/// Values as minijinja carries them (references as markers).
pub fn marked(values: &BTreeMap<String, Value>) -> BTreeMap<String, String> {
    values.iter().map(|(k, v)| (k.clone(), mark(v))).collect()
}

impl Object for EnvView {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Jinja) -> Option<Jinja> {
        let name = key.as_str()?;
        if let Some(v) = self.overlay.get(name).or_else(|| self.base.get(name)) {
            return Some(Jinja::from(v.clone()));
        }
        if self.as_missing.contains(name) {
            return Some(Jinja::from(mark(&Value::reference(name, RefKind::Missing))));
        }
        if let Ok(mut m) = self.misses.lock() {
            m.insert(name.to_string());
        }
        None
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        let names: BTreeSet<&String> = self.overlay.keys().chain(self.base.keys()).collect();
        Enumerator::Values(names.into_iter().map(|k| Jinja::from(k.as_str())).collect())
    }
}
