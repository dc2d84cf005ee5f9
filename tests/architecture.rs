//! The shape of the code, kept true by a test. `src/` holds one folder per
//! pipeline stage; `src/lib.rs` lists the folders in pipeline order and
//! each folder's module file (`mod.rs`) lists its files in order. Two rules
//! follow, so that there is no import loop and the file list reads as the
//! pipeline:
//! - a file imports only folders listed before its own;
//! - within its folder, only files listed before it.
//!
//! No source file is over 450 lines of code and no function over 100
//! lines. Each module file's `Uses:` line and README.md's Layout say which
//! folders a folder really imports.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use common::root;

/// One source file: its name (without `.rs`) and what it imports, as
/// (folder, file) pairs; the file is empty for a bare `crate::folder`.
#[derive(Debug, Clone)]
struct File {
    name: String,
    imports: Vec<(String, String)>,
}

/// One stage: its folder's name and its files, in the order its module
/// file lists them.
#[derive(Debug, Clone)]
struct Folder {
    name: String,
    files: Vec<File>,
}

/// `pub mod NAME;` lines, in order.
fn declared(module_file: &str) -> Vec<String> {
    module_file
        .lines()
        .filter_map(|l| l.strip_prefix("pub mod "))
        .map(|m| m.trim_end_matches(';').to_string())
        .collect()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The code before the unit tests.
fn code(text: &str) -> &str {
    text.find("#[cfg(test)]").map_or(text, |i| &text[..i])
}

fn ident(text: &str) -> String {
    text.chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}

/// What a file names as `crate::FOLDER::FILE`, `crate::FOLDER::{A, B::C}`
/// or `super::FILE` (a file of its own folder).
fn imports(text: &str, folder: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut add = |pair: (String, String)| {
        if !out.contains(&pair) {
            out.push(pair);
        }
    };
    let code = code(text);
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        let top = ident(rest);
        let after = &rest[top.len()..];
        let Some(inner) = after.strip_prefix("::") else {
            add((top, String::new()));
            continue;
        };
        if let Some(group) = inner.strip_prefix('{') {
            let group = &group[..group.find('}').unwrap_or(group.len())];
            for item in group.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                add((top.clone(), ident(item)));
            }
        } else {
            add((top, ident(inner)));
        }
    }
    let mut rest = code;
    while let Some(i) = rest.find("super::") {
        rest = &rest[i + "super::".len()..];
        let name = ident(rest);
        if !name.is_empty() {
            add((folder.to_string(), name));
        }
    }
    out
}

/// The tree as `src/lib.rs` and the module files declare it.
fn tree() -> Vec<Folder> {
    let src = root().join("src");
    declared(&read(&src.join("lib.rs")))
        .into_iter()
        .map(|folder| {
            let dir = src.join(&folder);
            let files = declared(&read(&dir.join("mod.rs")))
                .into_iter()
                .map(|name| {
                    let text = read(&dir.join(format!("{name}.rs")));
                    let imports = imports(&text, &folder);
                    File { name, imports }
                })
                .collect();
            Folder {
                name: folder,
                files,
            }
        })
        .collect()
}

/// Every import that breaks the order, at either level. Pure, so that a
/// fixture can show that it catches each kind.
fn violations(tree: &[Folder]) -> Vec<String> {
    let folder_rank: BTreeMap<&str, usize> = tree
        .iter()
        .enumerate()
        .map(|(i, f)| (f.name.as_str(), i))
        .collect();
    let mut wrong = Vec::new();
    for (i, folder) in tree.iter().enumerate() {
        let file_rank: BTreeMap<&str, usize> = folder
            .files
            .iter()
            .enumerate()
            .map(|(j, f)| (f.name.as_str(), j))
            .collect();
        for (j, file) in folder.files.iter().enumerate() {
            let here = format!("{}/{}", folder.name, file.name);
            for (to_folder, to_file) in &file.imports {
                let there = format!("{to_folder}/{to_file}");
                match folder_rank.get(to_folder.as_str()) {
                    None => wrong.push(format!("{here} imports crate::{to_folder}, not a folder")),
                    Some(&k) if k > i => wrong.push(format!(
                        "{here} imports {there}, a folder listed after its own"
                    )),
                    Some(&k) if k < i => {
                        let known = tree[k].files.iter().any(|f| &f.name == to_file);
                        if !known {
                            wrong
                                .push(format!("{here} imports {there}, not a file of {to_folder}"));
                        }
                    }
                    Some(_) => match file_rank.get(to_file.as_str()) {
                        Some(&m) if m < j => {}
                        Some(_) => wrong.push(format!(
                            "{here} imports {there}, listed after it in {}/mod.rs",
                            folder.name
                        )),
                        None => wrong.push(format!("{here} imports {there}, not a file")),
                    },
                }
            }
        }
    }
    wrong
}

/// The folders a folder imports, in pipeline order.
fn folder_uses<'a>(tree: &'a [Folder], folder: &Folder) -> Vec<&'a str> {
    let used: BTreeSet<&str> = folder
        .files
        .iter()
        .flat_map(|f| f.imports.iter().map(|(d, _)| d.as_str()))
        .filter(|d| *d != folder.name)
        .collect();
    tree.iter()
        .map(|f| f.name.as_str())
        .filter(|name| used.contains(name))
        .collect()
}

fn uses_line(uses: &[&str]) -> String {
    if uses.is_empty() {
        "no other folder".into()
    } else {
        uses.join(", ")
    }
}

#[test]
fn src_holds_only_the_declared_folders_and_files() {
    let src = root().join("src");
    let tree = tree();
    let mut wrong = Vec::new();
    for entry in std::fs::read_dir(&src).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().to_string();
        if entry.file_type().unwrap().is_dir() {
            let Some(folder) = tree.iter().find(|f| f.name == name) else {
                wrong.push(format!("src/{name}/ is not declared in src/lib.rs"));
                continue;
            };
            for file in std::fs::read_dir(entry.path()).unwrap() {
                let file = file.unwrap().file_name().to_string_lossy().to_string();
                let stem = file.trim_end_matches(".rs");
                if file != "mod.rs" && !folder.files.iter().any(|f| f.name == stem) {
                    wrong.push(format!(
                        "src/{name}/{file} is not declared in src/{name}/mod.rs"
                    ));
                }
            }
        } else if name != "lib.rs" && name != "main.rs" {
            wrong.push(format!("src/{name} belongs in a stage folder"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn imports_point_down_the_pipeline_only() {
    let wrong = violations(&tree());
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

fn file(name: &str, imports: &[(&str, &str)]) -> File {
    File {
        name: name.into(),
        imports: imports
            .iter()
            .map(|(d, f)| (d.to_string(), f.to_string()))
            .collect(),
    }
}

/// The checker on a small graph: clean as given, then one import that runs
/// back up at each level, and names that do not exist.
#[test]
fn the_order_check_catches_each_kind_of_violation() {
    let clean = vec![
        Folder {
            name: "base".into(),
            files: vec![file("value", &[]), file("shell", &[("base", "value")])],
        },
        Folder {
            name: "plan".into(),
            files: vec![
                file("resolve", &[("base", "value")]),
                file("render", &[("plan", "resolve"), ("base", "shell")]),
            ],
        },
    ];
    assert_eq!(violations(&clean), Vec::<String>::new());

    let mut up_a_folder = clean.clone();
    up_a_folder[0].files[0]
        .imports
        .push(("plan".into(), "render".into()));
    assert_eq!(
        violations(&up_a_folder),
        ["base/value imports plan/render, a folder listed after its own"]
    );

    let mut up_a_file = clean.clone();
    up_a_file[1].files[0]
        .imports
        .push(("plan".into(), "render".into()));
    assert_eq!(
        violations(&up_a_file),
        ["plan/resolve imports plan/render, listed after it in plan/mod.rs"]
    );

    let mut itself = clean.clone();
    itself[0].files[1]
        .imports
        .push(("base".into(), "shell".into()));
    assert_eq!(
        violations(&itself),
        ["base/shell imports base/shell, listed after it in base/mod.rs"]
    );

    let mut unknown = clean;
    unknown[1].files[1]
        .imports
        .push(("utils".into(), String::new()));
    unknown[1].files[1]
        .imports
        .push(("base".into(), "nothing".into()));
    assert_eq!(
        violations(&unknown),
        [
            "plan/render imports crate::utils, not a folder",
            "plan/render imports base/nothing, not a file of base",
        ]
    );
}

/// The import reader on the forms the code uses, so that a grouped or
/// `super::` import cannot slip past the order check.
#[test]
fn imports_are_read_in_every_form() {
    let text = "use crate::base::value::Value;\nuse crate::plan::{render, resolve::Env};\n\
                use super::lock;\nfn f() { crate::base::paint::x(); }\n\
                #[cfg(test)]\nmod tests { use crate::cli::args; }\n";
    let pairs = |v: &[(&str, &str)]| -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    };
    assert_eq!(
        imports(text, "run"),
        pairs(&[
            ("base", "value"),
            ("plan", "render"),
            ("plan", "resolve"),
            ("base", "paint"),
            ("run", "lock"),
        ])
    );
}

#[test]
fn files_and_functions_stay_small() {
    let mut wrong = Vec::new();
    for folder in tree() {
        for f in &folder.files {
            let path = format!("src/{}/{}.rs", folder.name, f.name);
            let text = read(&root().join(&path));
            let lines: Vec<&str> = code(&text).lines().collect();
            if lines.len() > 450 {
                wrong.push(format!("{path} has {} lines of code", lines.len()));
            }
            for (start, line) in lines.iter().enumerate() {
                let body = line.trim_start();
                let is_fn = ["fn ", "pub fn ", "pub(crate) fn "]
                    .iter()
                    .any(|p| body.starts_with(p));
                if !is_fn || body.ends_with(';') {
                    continue;
                }
                // rustfmt closes a function at the indentation it opened at.
                let close = format!("{}}}", &line[..line.len() - body.len()]);
                let Some(len) = lines[start..].iter().position(|l| *l == close) else {
                    continue;
                };
                if len + 1 > 100 {
                    let name = body.split('(').next().unwrap_or(body);
                    wrong.push(format!("{path}: `{name}` has {} lines", len + 1));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// Each module file opens with a doc comment of at most 15 lines that ends
/// with `Uses: ...`, the folders it really imports: `cargo doc` reads as a
/// tour, and the tour cannot drift from the code.
#[test]
fn each_module_file_says_what_its_folder_uses() {
    let tree = tree();
    let mut wrong = Vec::new();
    for folder in &tree {
        let path = format!("src/{}/mod.rs", folder.name);
        let text = read(&root().join(&path));
        let doc: Vec<&str> = text.lines().take_while(|l| l.starts_with("//!")).collect();
        if doc.is_empty() || doc.len() > 15 {
            wrong.push(format!(
                "{path}: a doc comment of 1 to 15 lines, not {}",
                doc.len()
            ));
        }
        let said = doc
            .iter()
            .find_map(|l| l.strip_prefix("//! Uses: "))
            .map(|s| s.trim_end_matches('.'));
        let real = uses_line(&folder_uses(&tree, folder));
        if said != Some(real.as_str()) {
            wrong.push(format!(
                "{path}: its doc should end with `//! Uses: {real}.`"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// The Layout block README.md should have: one paragraph per folder, in
/// lib.rs order, its description kept (or a placeholder for a new folder)
/// and its `uses:` line the real one.
fn expected_layout(layout: &str) -> String {
    let mut described: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut current = None;
    let mut head = Vec::new();
    for line in layout.lines() {
        if let Some(rest) = line.strip_prefix("src/")
            && let Some((folder, text)) = rest.split_once("/ ")
        {
            current = Some(folder.to_string());
            described.insert(folder.to_string(), vec![text.trim().to_string()]);
        } else if line.trim_start().starts_with("uses: ") {
            current = None;
        } else if let Some(folder) = &current {
            described
                .get_mut(folder)
                .unwrap()
                .push(line.trim().to_string());
        } else if !line.is_empty() {
            head.push(line.to_string());
        }
    }
    let tree = tree();
    let mut out = String::from("\n");
    for line in head {
        out.push_str(&format!("{line}\n"));
    }
    for folder in &tree {
        let text = described
            .remove(&folder.name)
            .unwrap_or_else(|| vec!["(describe this folder)".into()]);
        let label = format!("src/{}/", folder.name);
        for (i, line) in text.iter().enumerate() {
            let left = if i == 0 { label.as_str() } else { "" };
            out.push_str(&format!("{left:<13}{line}\n"));
        }
        let uses = uses_line(&folder_uses(&tree, folder));
        out.push_str(&format!("{:<13}uses: {uses}\n", ""));
    }
    out
}

/// With STACKHOOK_UPDATE_LAYOUT=1, a stale block is rewritten in place.
#[test]
fn the_readme_layout_is_the_real_one() {
    let path = root().join("README.md");
    let readme = read(&path);
    let layout = readme
        .split("## Layout")
        .nth(1)
        .and_then(|s| s.split("```").nth(1))
        .map(|s| s.strip_prefix("text").unwrap_or(s))
        .expect("README.md has a Layout section with a code block");
    assert!(
        !layout.contains("(describe this folder)"),
        "describe every new folder in README.md's Layout"
    );
    let expected = expected_layout(layout);
    if layout == expected {
        return;
    }
    if std::env::var_os("STACKHOOK_UPDATE_LAYOUT").is_some() {
        std::fs::write(&path, readme.replacen(layout, &expected, 1)).unwrap();
        return;
    }
    panic!(
        "README.md's Layout is stale (rerun with STACKHOOK_UPDATE_LAYOUT=1 to rewrite it); it should read:\n{expected}"
    );
}
