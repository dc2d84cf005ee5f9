//! Changing a kubeconfig that a cloud CLI wrote: the current context's
//! user (how kubectl gets a credential), the context's name and namespace,
//! the cluster's proxy. stackhook edits the file itself, so that no value
//! (a token above all) passes through a child's argv, and the result is
//! checked before it replaces the file atomically.
//!
//! The file is edited as a YAML tree: keys stackhook does not know are
//! kept as they were.

use std::path::Path;

use serde_json::{Map, Value as Json, json};

use crate::base::atomic_file;
use crate::base::bounded_file::KUBECONFIG_CAP;
use crate::base::diagnostic::{Code, Diag};
use crate::base::paint::visible_path;
use crate::kube::kubeconfig::{self, Current};

/// How the current context's user gets its credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserAuth {
    /// A static bearer token (expires with the token).
    Token(String),
    /// An exec plugin run by kubectl (and client-go) at call time.
    Exec(Exec),
}

/// A `client.authentication.k8s.io/v1` exec plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exec {
    pub command: String,
    pub args: Vec<String>,
    /// Static variables for the plugin (never secrets: they are in the file).
    pub env: Vec<(String, String)>,
    pub install_hint: String,
}

/// A change to the current context, applied in this order: select, rename,
/// namespace, proxy.
#[derive(Debug, Default, Clone)]
pub struct ContextChange {
    /// Make this existing context current.
    pub use_context: Option<String>,
    /// Rename the current context (replacing another of that name).
    pub rename: Option<String>,
    pub namespace: Option<String>,
    /// `proxy-url` of the current context's cluster.
    pub proxy_url: Option<String>,
}

impl ContextChange {
    pub fn is_empty(&self) -> bool {
        self.use_context.is_none()
            && self.rename.is_none()
            && self.namespace.is_none()
            && self.proxy_url.is_none()
    }
}

/// How messages name the current context (its name comes from the file).
const CURRENT: &str = "its current context";

fn fail(msg: impl Into<String>) -> Diag {
    Diag::new(Code::Kubeconfig, msg)
}

/// A kubeconfig as a tree.
pub struct Doc(Map<String, Json>);

impl Doc {
    pub fn parse(text: &str) -> Result<Doc, Diag> {
        match kubeconfig::parse::<Json>(text) {
            Ok(Json::Object(map)) => Ok(Doc(map)),
            Ok(_) => Err(fail("not a kubeconfig (not a YAML mapping)")),
            Err(e) => Err(fail(e)),
        }
    }

    pub fn to_yaml(&self) -> String {
        serde_saphyr::to_string(&Json::Object(self.0.clone())).expect("a JSON tree serialises")
    }

    fn list(&mut self, key: &str) -> &mut Vec<Json> {
        let entry = self.0.entry(key).or_insert_with(|| json!([]));
        if !entry.is_array() {
            *entry = json!([]);
        }
        entry.as_array_mut().expect("made an array above")
    }

    fn current_name(&self) -> Result<String, Diag> {
        self.0
            .get("current-context")
            .and_then(Json::as_str)
            .filter(|c| !c.is_empty())
            .map(str::to_string)
            .ok_or_else(|| fail("it has no current-context"))
    }

    /// The body (`context:`) of the named context. `shown` is how
    /// messages name it: a name given on the command line, or a phrase,
    /// never a name read from the file.
    fn context_body(&mut self, name: &str, shown: &str) -> Result<&mut Map<String, Json>, Diag> {
        let entry = named(self.list("contexts"), name)
            .ok_or_else(|| fail(format!("{shown} is not in the file")))?;
        let body = entry
            .as_object_mut()
            .expect("named() finds objects")
            .entry("context")
            .or_insert_with(|| json!({}));
        body.as_object_mut()
            .ok_or_else(|| fail(format!("{shown} is not a mapping")))
    }

    /// The name of a field (`user`, `cluster`) of the current context.
    fn current_field(&mut self, field: &str) -> Result<String, Diag> {
        let current = self.current_name()?;
        self.context_body(&current, CURRENT)?
            .get(field)
            .and_then(Json::as_str)
            .map(str::to_string)
            .ok_or_else(|| fail(format!("its current context names no {field}")))
    }

    /// Replaces the current context's user with one that authenticates as
    /// `auth`; the user keeps its name.
    pub fn set_user(&mut self, auth: &UserAuth) -> Result<(), Diag> {
        let user = self.current_field("user")?;
        let body = match auth {
            UserAuth::Token(t) => json!({ "token": t }),
            UserAuth::Exec(e) => exec_json(e),
        };
        let users = self.list("users");
        users.retain(|u| u.get("name").and_then(Json::as_str) != Some(user.as_str()));
        users.push(json!({ "name": user, "user": body }));
        Ok(())
    }

    /// Appends arguments and variables to the current user's exec plugin.
    pub fn extend_exec(&mut self, args: &[String], env: &[(String, String)]) -> Result<(), Diag> {
        let user = self.current_field("user")?;
        let entry = named(self.list("users"), &user)
            .ok_or_else(|| fail("the user of its current context is not in the file"))?;
        let exec = entry
            .pointer_mut("/user/exec")
            .and_then(Json::as_object_mut)
            .ok_or_else(|| fail("the user of its current context does not run an exec plugin"))?;
        let list = |exec: &mut Map<String, Json>, key: &str| -> Vec<Json> {
            exec.get(key)
                .and_then(Json::as_array)
                .cloned()
                .unwrap_or_default()
        };
        let mut all_args = list(exec, "args");
        for a in args {
            if !all_args.iter().any(|x| x.as_str() == Some(a.as_str())) {
                all_args.push(json!(a));
            }
        }
        exec.insert("args".into(), Json::Array(all_args));
        if !env.is_empty() {
            let mut all_env = list(exec, "env");
            for (name, value) in env {
                all_env.retain(|e| e.get("name").and_then(Json::as_str) != Some(name.as_str()));
                all_env.push(json!({ "name": name, "value": value }));
            }
            exec.insert("env".into(), Json::Array(all_env));
        }
        Ok(())
    }

    /// Selects, renames and annotates the current context.
    pub fn change_context(&mut self, change: &ContextChange) -> Result<(), Diag> {
        if let Some(name) = &change.use_context {
            // A name from the command line (the spec), not from the file.
            self.context_body(name, &format!("context `{name}`"))?;
            self.0.insert("current-context".into(), json!(name));
        }
        if let Some(new) = &change.rename {
            let old = self.current_name()?;
            if *new != old {
                let contexts = self.list("contexts");
                contexts.retain(|c| c.get("name").and_then(Json::as_str) != Some(new.as_str()));
                let entry = named(contexts, &old)
                    .ok_or_else(|| fail("its current-context names no context in the file"))?;
                entry["name"] = json!(new);
                self.0.insert("current-context".into(), json!(new));
            }
        }
        if let Some(ns) = &change.namespace {
            let current = self.current_name()?;
            self.context_body(&current, CURRENT)?
                .insert("namespace".into(), json!(ns));
        }
        if let Some(proxy) = &change.proxy_url {
            let cluster = self.current_field("cluster")?;
            let entry = named(self.list("clusters"), &cluster)
                .ok_or_else(|| fail("the cluster of its current context is not in the file"))?;
            let body = entry
                .as_object_mut()
                .expect("named() finds objects")
                .entry("cluster")
                .or_insert_with(|| json!({}));
            body.as_object_mut()
                .ok_or_else(|| fail("the cluster of its current context is not a mapping"))?
                .insert("proxy-url".into(), json!(proxy));
        }
        Ok(())
    }
}

fn named<'a>(list: &'a mut [Json], name: &str) -> Option<&'a mut Json> {
    list.iter_mut()
        .find(|e| e.is_object() && e.get("name").and_then(Json::as_str) == Some(name))
}

fn exec_json(e: &Exec) -> Json {
    let env: Vec<Json> = e
        .env
        .iter()
        .map(|(n, v)| json!({ "name": n, "value": v }))
        .collect();
    let mut exec = json!({
        "apiVersion": "client.authentication.k8s.io/v1",
        "command": e.command,
        "args": e.args,
        "interactiveMode": "Never",
        "provideClusterInfo": false,
        "installHint": e.install_hint,
    });
    if !env.is_empty() {
        exec["env"] = Json::Array(env);
    }
    json!({ "exec": exec })
}

/// Reads the kubeconfig at `path`, applies `edit`, checks that the result
/// is a usable kubeconfig, and replaces the file atomically (a symlink is
/// written through). Messages never quote the content.
pub fn edit(path: &Path, edit: impl FnOnce(&mut Doc) -> Result<(), Diag>) -> Result<Current, Diag> {
    let at = |d: Diag| fail(format!("{}: {}", visible_path(path), d.message));
    let text = kubeconfig::read(path)?;
    let mut doc = Doc::parse(&text).map_err(at)?;
    edit(&mut doc).map_err(at)?;
    let out = doc.to_yaml();
    let current = kubeconfig::validate(&out).map_err(at)?;
    write(path, &out)?;
    Ok(current)
}

/// Replaces the kubeconfig at `path` with `text`, which must be one
/// stackhook reads back: over the cap, the next step's check would refuse
/// it, so the old file stays.
fn write(path: &Path, text: &str) -> Result<(), Diag> {
    if text.len() as u64 > KUBECONFIG_CAP {
        return Err(fail(format!(
            "{} was left as it was: the new kubeconfig would be larger than {} MiB, the most stackhook reads",
            visible_path(path),
            KUBECONFIG_CAP >> 20
        )));
    }
    atomic_file::write(path, text.as_bytes())
        .map_err(|e| fail(format!("cannot write {}: {e}", visible_path(path))))
}

/// Installs a kubeconfig from a variable or a file: checksum, decode,
/// select the context (when asked), validate, then write atomically. The
/// old file stays if any check fails. Without a change the content is
/// written as given, byte for byte.
pub fn install(
    raw: &[u8],
    sha256: Option<&str>,
    dest: &Path,
    change: &ContextChange,
) -> Result<Current, Diag> {
    if let Some(want) = sha256 {
        let got = kubeconfig::sha256_hex(raw);
        if !got.eq_ignore_ascii_case(want.trim()) {
            // The content's own sum is not shown: it is derived from the
            // content, which holds credentials.
            return Err(fail(format!(
                "sha256 mismatch: the content's SHA-256 is not {want}; the kubeconfig at {} was left as it was (`sha256sum` of a copy you trust gives the right one)",
                visible_path(dest)
            )));
        }
    }
    let mut text = kubeconfig::decode(raw)?;
    if !change.is_empty() {
        let mut doc = Doc::parse(&text)?;
        doc.change_context(change)?;
        text = doc.to_yaml();
    }
    let current = kubeconfig::validate(&text)?;
    write(dest, &text)?;
    Ok(current)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GKE: &str = "apiVersion: v1\nkind: Config\ncurrent-context: gke_p_r_c\nclusters:\n- name: gke_p_r_c\n  cluster:\n    server: https://10.0.0.1\n    certificate-authority-data: TFMwdExTMUNSVWRKVGlCRFJWSlVTVVpKUTBGVVJTMHRMUzB0Q2c9PQ==\ncontexts:\n- name: gke_p_r_c\n  context:\n    cluster: gke_p_r_c\n    user: gke_p_r_c\n- name: other\n  context: {cluster: gke_p_r_c, user: gke_p_r_c}\nusers:\n- name: gke_p_r_c\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n      command: gke-gcloud-auth-plugin\n      provideClusterInfo: true\n      interactiveMode: IfAvailable\nextensions:\n- name: keep\n  extension: {x: '0123', y: 'true'}\n";

    fn doc() -> Doc {
        Doc::parse(GKE).unwrap()
    }

    #[test]
    fn the_user_is_replaced_and_unknown_keys_survive() {
        let mut d = doc();
        let exec = Exec {
            command: "/opt/stackhook".into(),
            args: vec!["exec-credential".into(), "--from-env=TOKEN".into()],
            env: vec![],
            install_hint: "hint".into(),
        };
        d.set_user(&UserAuth::Exec(exec)).unwrap();
        let out = d.to_yaml();
        let c = kubeconfig::validate(&out).unwrap();
        assert_eq!(c.user, "gke_p_r_c");
        assert!(!out.contains("gke-gcloud-auth-plugin"), "{out}");
        assert!(out.contains("interactiveMode: Never"), "{out}");
        // Strings that look like numbers or bools stay strings.
        let back = Doc::parse(&out).unwrap();
        assert_eq!(back.0["extensions"][0]["extension"]["x"], "0123");
        assert_eq!(back.0["extensions"][0]["extension"]["y"], "true");
        assert_eq!(
            back.0["clusters"][0]["cluster"]["certificate-authority-data"],
            doc().0["clusters"][0]["cluster"]["certificate-authority-data"]
        );
    }

    #[test]
    fn a_token_user_holds_any_text_as_one_value() {
        let mut d = doc();
        let token = "-x: 'y' \"$(z)\"\n#";
        d.set_user(&UserAuth::Token(token.into())).unwrap();
        let back = Doc::parse(&d.to_yaml()).unwrap();
        assert_eq!(back.0["users"][0]["user"]["token"], token);
    }

    #[test]
    fn contexts_are_renamed_selected_and_given_a_namespace() {
        let mut d = doc();
        let change = ContextChange {
            rename: Some("other".into()),
            namespace: Some("apps".into()),
            proxy_url: Some("http://proxy:3128".into()),
            ..Default::default()
        };
        d.change_context(&change).unwrap();
        let out = d.to_yaml();
        let back = Doc::parse(&out).unwrap();
        assert_eq!(back.0["current-context"], "other");
        let contexts = back.0["contexts"].as_array().unwrap();
        assert_eq!(contexts.len(), 1, "the old `other` is replaced: {out}");
        assert_eq!(contexts[0]["context"]["namespace"], "apps");
        assert_eq!(
            back.0["clusters"][0]["cluster"]["proxy-url"],
            "http://proxy:3128"
        );

        let mut d = doc();
        d.0.remove("current-context");
        let err = d.change_context(&ContextChange {
            use_context: Some("nope".into()),
            ..Default::default()
        });
        assert!(
            err.unwrap_err()
                .message
                .contains("`nope` is not in the file")
        );
        d.change_context(&ContextChange {
            use_context: Some("other".into()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(d.0["current-context"], "other");
    }

    #[test]
    fn exec_arguments_and_variables_are_added_once() {
        let mut d = doc();
        let args = vec!["--use-azurerm-env-vars".to_string()];
        let env = vec![("AWS_ROLE_ARN".to_string(), "arn:x".to_string())];
        d.extend_exec(&args, &env).unwrap();
        d.extend_exec(&args, &env).unwrap();
        let exec = &d.0["users"][0]["user"]["exec"];
        assert_eq!(exec["args"], json!(["--use-azurerm-env-vars"]));
        assert_eq!(
            exec["env"],
            json!([{"name": "AWS_ROLE_ARN", "value": "arn:x"}])
        );
    }

    const GOOD: &str = "apiVersion: v1\nkind: Config\ncurrent-context: c\ncontexts:\n- name: c\n  context: {cluster: k, user: u}\nclusters:\n- name: k\n  cluster: {server: 'https://127.0.0.1:6443'}\nusers:\n- name: u\n  user: {token: sekrit}\n";

    #[test]
    fn install_checks_the_sum_and_keeps_the_old_file() {
        use std::os::unix::fs::PermissionsExt;
        let none = ContextChange::default();
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("sub/config");
        let err = install(GOOD.as_bytes(), Some("00"), &dest, &none).unwrap_err();
        assert!(err.message.contains("sha256 mismatch"));
        let sum = kubeconfig::sha256_hex(GOOD.as_bytes());
        assert!(!err.message.contains(&sum), "{}", err.message);
        assert!(!dest.exists());
        install(GOOD.as_bytes(), Some(&sum), &dest, &none).unwrap();
        assert_eq!(std::fs::read_to_string(&dest).unwrap(), GOOD);
        let mode = std::fs::metadata(&dest).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(install(b"nonsense: [", None, &dest, &none).is_err());
        assert_eq!(std::fs::read_to_string(&dest).unwrap(), GOOD);
    }

    #[test]
    fn install_makes_the_named_context_current() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("config");
        let no_current = GOOD.replace("current-context: c\n", "");
        let none = ContextChange::default();
        let err = install(no_current.as_bytes(), None, &dest, &none).unwrap_err();
        assert!(
            err.message.contains("no current-context"),
            "{}",
            err.message
        );
        let change = ContextChange {
            use_context: Some("c".into()),
            namespace: Some("apps".into()),
            ..Default::default()
        };
        let c = install(no_current.as_bytes(), None, &dest, &change).unwrap();
        assert_eq!(c.context, "c");
        let text = std::fs::read_to_string(&dest).unwrap();
        assert!(text.contains("namespace: apps"), "{text}");
    }
}
