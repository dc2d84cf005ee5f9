//! `extends: PATH`: one reviewed base spec for many stacks. Reads a spec
//! and the chain of bases it extends, and merges them into one `Spec`
//! whose every node still points into the file that holds it: the files
//! are parsed in their places in one text (`Source::placed`), so a span
//! says both where and in which file.
//!
//! Merging, the spec over its base: `env`, `secrets` and `export` are
//! unions (the spec wins); `kubeconfig` and `templates` are the spec's
//! when it has them; steps are matched by name (a step without `name` is
//! named after its provider): a matching step overrides `with:` keys one
//! by one, and `env` (by name), `timeout` and `retries`, and may leave
//! out `provider`; other steps are appended.

use std::path::{Path, PathBuf};

use crate::base::diagnostic::{Code, Diag, Source};
use crate::base::source_file;
use crate::spec::document::{self, Map, Spec, SpecFile, Step};
use crate::spec::yaml::{self, given, spanned};

/// The most files in one chain, the spec included: enough for a
/// company-wide base, a cloud pattern and a stack; a longer chain is
/// harder to review than a copy.
pub const MAX_CHAIN: usize = 8;

/// Reads a spec and the bases it extends, merges them, and checks the
/// whole.
pub fn load(path: &Path) -> Result<Spec, Vec<Diag>> {
    let mut files: Vec<(usize, PathBuf, String)> = Vec::new();
    let mut specs: Vec<Spec> = Vec::new();
    let mut start = 0;
    let mut next = Some(path.to_path_buf());
    // The repository of the spec given, found when a base is to be read.
    let mut repo = None;
    while let Some(path) = next.take() {
        let text = read(&path, specs.last())?;
        let spec = document::parse_file(&path, &text, start)?;
        if let Some(base) = &spec.extends {
            let base_path = spec.dir().join(&base.value);
            let repo = repo.get_or_insert_with(|| {
                let top = files.first().map_or(path.as_path(), |f| f.1.as_path());
                source_file::repository_of(top)
            });
            check_base(&spec, base, &base_path, &files, repo.as_deref())?;
            next = Some(base_path);
        }
        let len = text.len();
        files.push((start, path, text));
        specs.push(spec);
        start = Source::next_start(start, len);
    }
    if files.len() == 1 {
        return document::check_whole(specs.pop().expect("one"));
    }
    let mut merged = specs.pop().expect("a chain has files");
    while let Some(child) = specs.pop() {
        merged = merge(merged, child)?;
    }
    let names: Vec<String> = files.iter().map(|f| f.1.display().to_string()).collect();
    let placed: Vec<(usize, &str, &str)> = files
        .iter()
        .zip(&names)
        .map(|((start, _, text), name)| (*start, name.as_str(), text.as_str()))
        .collect();
    merged.extends = None;
    merged.file = SpecFile {
        path: path.to_path_buf(),
        source: Some(Source::placed(&placed)),
        chain: files.into_iter().map(|(start, p, _)| (start, p)).collect(),
    };
    document::check_whole(merged)
}

/// The text of a spec file; for a base, an error points at the
/// `extends:` of the spec that names it.
fn read(path: &Path, child: Option<&Spec>) -> Result<String, Vec<Diag>> {
    let bytes = source_file::read(path).map_err(|e| {
        let diag = Diag::new(
            Code::SpecRead,
            format!("cannot read spec {}: {e}", path.display()),
        );
        vec![
            match child.and_then(|c| c.extends.as_ref().map(|e| (c, e))) {
                Some((c, node)) => diag
                    .at(c.source(), c.span(node), "this base")
                    .help("`extends` is relative to the file it is in"),
                None => diag.help(
                    "pass the path of a spec file, e.g. `stackhook plan specs/gke-region.yaml`",
                ),
            },
        ]
    })?;
    String::from_utf8(bytes).map_err(|e| vec![yaml::not_utf8(path, e)])
}

/// A base must be in the repository, not already in the chain, and the
/// chain no longer than `MAX_CHAIN`.
fn check_base(
    spec: &Spec,
    node: &serde_saphyr::Spanned<String>,
    base: &Path,
    before: &[(usize, PathBuf, String)],
    repo: Option<&Path>,
) -> Result<(), Vec<Diag>> {
    let at = |d: Diag, label: &str| vec![d.at(spec.source(), spec.span(node), label)];
    if let Some(Err(why)) = repo.map(|r| source_file::in_repository(base, r)) {
        return Err(at(
            Diag::new(
                Code::SpecExtends,
                format!(
                    "`extends: {}` leads out of the repository: {why}",
                    node.value
                ),
            )
            .help("a base is a file of the same repository, relative to the spec that extends it"),
            "out of the repository",
        ));
    }
    let mut chain: Vec<String> = before.iter().map(|f| f.1.display().to_string()).collect();
    chain.push(spec.file.path.display().to_string());
    // Files compared by name (`a/../b.yaml` is `b.yaml`), with no system
    // call: a cycle through symlinks ends at the chain's length limit.
    let base_name = source_file::absolute(base);
    let same = |a: &Path| source_file::absolute(a) == base_name;
    if before
        .iter()
        .map(|f| f.1.as_path())
        .chain([spec.file.path.as_path()])
        .any(same)
    {
        chain.push(base.display().to_string());
        return Err(at(
            Diag::new(
                Code::SpecExtends,
                format!("`extends` makes a cycle: {}", chain.join(" -> ")),
            )
            .help("a base cannot extend, directly or not, a spec that extends it: remove one `extends`"),
            "back to a file of the chain",
        ));
    }
    if chain.len() >= MAX_CHAIN {
        chain.push(base.display().to_string());
        return Err(at(
            Diag::new(
                Code::SpecExtends,
                format!(
                    "a chain of `extends` longer than {MAX_CHAIN} files: {}",
                    chain.join(" -> ")
                ),
            )
            .help("merge some of the bases into one"),
            "one base too many",
        ));
    }
    Ok(())
}

/// `child` over `base`.
fn merge(mut base: Spec, child: Spec) -> Result<Spec, Vec<Diag>> {
    let mut diags = Vec::new();
    let Spec {
        extends,
        version,
        kubeconfig,
        env,
        secrets,
        export,
        provider_dir,
        steps,
        file,
    } = child;
    let src = file.source.as_ref().expect("set by parse");
    base.version = version;
    base.kubeconfig = kubeconfig.or(base.kubeconfig);
    base.provider_dir = provider_dir.or(base.provider_dir);
    base.env = union(base.env, env);
    union_names(&mut base.secrets, secrets);
    union_names(&mut base.export, export);
    if given(&steps) && !given(&base.steps) {
        base.steps.referenced = steps.referenced;
        base.steps.defined = steps.defined;
    }
    for step in steps.value {
        let name = step.value.name().to_string();
        match base.steps.value.iter_mut().find(|b| b.value.name() == name) {
            Some(b) => {
                if let Err(d) = override_step(&mut b.value, step.value, src) {
                    diags.push(d);
                }
            }
            None => base.steps.value.push(step),
        }
    }
    base.file = file;
    base.extends = extends;
    if diags.is_empty() {
        Ok(base)
    } else {
        Err(diags)
    }
}

/// A step of the spec over the base's step of the same name.
fn override_step(base: &mut Step, child: Step, src: &Source) -> Result<(), Diag> {
    if given(&child.provider) && child.provider.value != base.provider.value {
        return Err(Diag::new(
            Code::SpecExtends,
            format!(
                "step `{}` is a `{}` step in its base, not `{}`",
                base.name(),
                base.provider.value,
                child.provider.value
            ),
        )
        .at(src, spanned(&src.text, &child.provider), "another provider")
        .help("a step that overrides a base's step keeps its provider: leave `provider:` out, or give the step another `name`"));
    }
    if let Some(with) = child.with {
        match &mut base.with {
            Some(b) => {
                let taken = std::mem::take(&mut b.value);
                b.value = union(taken, with.value);
            }
            None => base.with = Some(with),
        }
    }
    base.env = union(std::mem::take(&mut base.env), child.env);
    base.timeout = child.timeout.or(base.timeout.take());
    base.retries = child.retries.or(base.retries.take());
    Ok(())
}

/// The base's entries, each replaced by the spec's entry of the same
/// name, then the spec's other entries.
fn union<V>(base: Map<V>, child: Map<V>) -> Map<V> {
    let mut child: Map<V> = child;
    let mut out = Map::with_capacity(base.len() + child.len());
    for (k, v) in base {
        let replaced = child
            .keys()
            .position(|c| c.value == k.value)
            .and_then(|i| child.shift_remove_index(i));
        match replaced {
            Some((ck, cv)) => out.insert(ck, cv),
            None => out.insert(k, v),
        };
    }
    out.extend(child);
    out
}

fn union_names(
    base: &mut Vec<serde_saphyr::Spanned<String>>,
    child: Vec<serde_saphyr::Spanned<String>>,
) {
    for name in child {
        if !base.iter().any(|b| b.value == name.value) {
            base.push(name);
        }
    }
}
